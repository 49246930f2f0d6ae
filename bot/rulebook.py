"""Every chat's rules, compiled once and held in one presearcher index.

The store is the truth; each process keeps this index in step with it: rules added or
removed here are applied at once, and :meth:`RuleBook.sync` picks up changes made by other
replicas (it is cheap: new rules are read by id, removed ones found by a set difference).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from bot.models import Rule
from bot.rules import (
    CompiledRule,
    Document,
    RuleIndex,
    RuleMatch,
    RuleSettings,
    RuleSyntaxError,
    compile_rule,
)
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule of a chat that matched a story."""

    rule_id: int
    chat_pk: int
    query: str
    match: RuleMatch


def story_document(
    title: str, body: str, source: str, link: str | None, author: str | None
) -> Document:
    """What rules see of a story: bare terms search title and text, fields the rest."""
    return Document(title=title, text=body, source=source, url=link or "", author=author or "")


class RuleBook:
    """Rule id -> (chat, compiled rule), plus the index that finds candidates fast."""

    def __init__(self, store: Store, settings: RuleSettings) -> None:
        self.store = store
        self.settings = settings
        self._index = RuleIndex(settings)
        self._owners: dict[int, tuple[int, str]] = {}
        self._max_id = 0
        self._lock = threading.Lock()

    def compile(self, query: str) -> CompiledRule:
        """Compile with this deployment's settings; raises RuleSyntaxError."""
        return compile_rule(query, self.settings)

    def load(self) -> None:
        """Rebuild from the store (at start)."""
        with self._lock:
            self._index = RuleIndex(self.settings)
            self._owners.clear()
            self._max_id = 0
            for rule in self.store.all_rules():
                self._add_locked(rule)

    def sync(self) -> None:
        """Apply rule changes other processes made since the last sync."""
        for rule in self.store.rules_after(self._max_id):
            self.add(rule)
        current = self.store.rule_ids()
        with self._lock:
            for rule_id in set(self._owners) - current:
                self._remove_locked(rule_id)

    def add(self, rule: Rule) -> None:
        with self._lock:
            self._add_locked(rule)

    def remove(self, rule_id: int) -> None:
        with self._lock:
            self._remove_locked(rule_id)

    def match(self, doc: Document) -> list[RuleHit]:
        with self._lock:
            matches = self._index.match(doc)
            return [
                RuleHit(m.rule_id, self._owners[m.rule_id][0], self._owners[m.rule_id][1], m)
                for m in matches
                if m.rule_id in self._owners
            ]

    def __len__(self) -> int:
        return len(self._owners)

    def _add_locked(self, rule: Rule) -> None:
        self._max_id = max(self._max_id, rule.id)
        try:
            compiled = compile_rule(rule.query, self.settings)
        except RuleSyntaxError as exc:
            # Stored rules were valid when added; a stricter limit since then must not
            # break start-up. The rule stays stored and listed, it just cannot match.
            log.warning("rule %s no longer compiles (%s); it is skipped", rule.id, exc)
            return
        self._index.add(rule.id, compiled)
        self._owners[rule.id] = (rule.chat_pk, rule.query)

    def _remove_locked(self, rule_id: int) -> None:
        self._index.remove(rule_id)
        self._owners.pop(rule_id, None)
