"""The presearcher: rules indexed by what a story must contain for them to possibly match.

Each compiled rule is reduced to required *clauses* (a conjunction of "one of these
keys"): a word's stem, the first letters of a prefix, a trigram of a regex literal. The
rule is posted under the keys of its most selective clause, with one more single-key
clause kept as a cheap second check. A rule with no provable requirement (only
negations) sits in a short always-check list.

Per story: tokenise once, intersect the story's keys with the posted keys, and run the
exact evaluator on the few candidates. Selectivity is learnt from the stories seen:
when a key turns out common, the rules posted under it move to a rarer clause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import chain

from bot.rules.analysis import Memo, get_analyzer
from bot.rules.document import BODY, GROUP_FIELDS, AnalyzedDoc, Document
from bot.rules.evaluate import CompiledRule, RuleMatch
from bot.rules.literals import required_pieces, trigrams
from bot.rules.settings import RuleSettings
from bot.rules.syntax import And, Leaf, Node, Not, Or

# A key is (kind, group, text): kind "t" stem, "p" prefix head, "r" regex trigram.
Key = tuple[str, str, str]
Clause = frozenset[Key]
Check = Key | str | frozenset[str] | None
CostFn = Callable[[Key], float]

# Stories sampled for key statistics: every one at first, then one in _SAMPLE_EVERY.
_SAMPLE_ALL = 64
_SAMPLE_EVERY = 16
# Rules under a key seen in more than this share of stories are re-keyed.
_HOT_SHARE = 0.02
_REKEY_BUDGET = 4000
# Lists shorter than this are cheap to scan even when their key is common.
_REKEY_MIN = 8
_FIELD_WEIGHT = {BODY: 1.0, "text": 1.0, "title": 0.2}


class RuleIndex:
    """Indexed matcher for many rules; ``match`` agrees exactly with ``CompiledRule.match``."""

    def __init__(self, settings: RuleSettings = RuleSettings()) -> None:  # noqa: B008
        """Creates an empty index.

        Args:
            settings: The rule settings; rules added must use the same language.
        """
        self.settings = settings
        self.analyzer = get_analyzer(settings.language)
        self._head = max(1, min(3, settings.min_prefix))
        self._rules: dict[int, CompiledRule] = {}
        self._posted: dict[int, list[Key]] = {}
        self._postings: dict[tuple[str, str], dict[str, _Bucket]] = {}
        self._always: set[int] = set()
        self._df: Counter[str] = Counter()
        self._sampled = 0
        self._seen = 0
        self._epoch = 0
        self._rule_epoch: dict[int, int] = {}
        self._settled: dict[Key, int] = {}
        self._checks: dict[int, Check] = {}
        head = self._head
        words = self.analyzer.words
        self._heads = Memo(lambda raw: tuple({w[:head] for w in words[raw]}))
        self._grams = Memo(lambda raw: tuple({g for w in words[raw] for g in trigrams(w)}))

    def __len__(self) -> int:
        return len(self._rules)

    def add(self, rule_id: int, rule: CompiledRule) -> None:
        """Indexes a rule, replacing any rule with the same id.

        Raises:
            ValueError: The rule was compiled for another stemmer language.
        """
        if rule.settings.language != self.settings.language:
            raise ValueError(
                f"rules: rule {rule_id} uses language {rule.settings.language!r}, "
                f"the index {self.settings.language!r}"
            )
        self.remove(rule_id)
        self._rules[rule_id] = rule
        self._post(rule_id, rule)

    def remove(self, rule_id: int) -> None:
        """Drops a rule from the index; nothing happens if it is absent."""
        if self._rules.pop(rule_id, None) is None:
            return
        self._unpost(rule_id)
        self._rule_epoch.pop(rule_id, None)

    def match(self, doc: Document) -> list[RuleMatch]:
        """Every rule matching a story, sorted by rule id.

        Args:
            doc: The story.

        Returns:
            One RuleMatch per matching rule.
        """
        return self.match_analyzed(AnalyzedDoc(doc, self.analyzer))

    def match_analyzed(self, adoc: AnalyzedDoc) -> list[RuleMatch]:
        """Like ``match`` for a story already analysed with this index's analyzer."""
        keys = _DocKeys(self, adoc)
        self._learn(keys)
        candidates = set(self._always)
        body = adoc.terms[BODY]
        for (kind, group), posting in list(self._postings.items()):
            present = keys.get(kind, group)
            for text in posting.keys() & present:
                bucket = posting.get(text)
                if bucket is None:  # emptied by a re-keying earlier in this loop
                    continue
                if (
                    self._epoch
                    and bucket.size >= _REKEY_MIN
                    and self._settled.get((kind, group, text)) != self._epoch
                    and self._is_hot((kind, text))
                ):
                    # Moved rules may land under a key already visited: check them all.
                    candidates.update(self._rekey((kind, group, text), bucket))
                    continue
                bucket.collect(body, keys, candidates)
        out = []
        for rule_id in sorted(candidates):
            rule = self._rules[rule_id]
            if rule.test(adoc):
                out.append(RuleMatch(rule_id, rule, adoc))
        return out

    def memory_keys(self) -> int:
        """How many postings the index holds (for sizing reports)."""
        return sum(
            bucket.size for posting in self._postings.values() for bucket in posting.values()
        )

    # -- posting ---------------------------------------------------------------------

    def _post(self, rule_id: int, rule: CompiledRule) -> None:
        clauses = _clauses(rule.root, self._cost, self._head)
        if not clauses:
            self._always.add(rule_id)
            self._posted[rule_id] = []
            return
        ranked = sorted(clauses, key=self._clause_cost)
        primary = ranked[0]
        check: Check = None
        for clause in ranked[1:]:
            if all(kind == "t" and group == BODY for kind, group, _ in clause):
                # Title-and-text stems: one (str) or any of several (frozenset).
                texts = frozenset(text for _, _, text in clause)
                check = next(iter(texts)) if len(texts) == 1 else texts
                break
            if len(clause) == 1:
                check = next(iter(clause))
                break
        for kind, group, text in primary:
            posting = self._postings.setdefault((kind, group), {})
            bucket = posting.get(text)
            if bucket is None:
                bucket = posting[text] = _Bucket()
            bucket.add(rule_id, check)
        self._posted[rule_id] = list(primary)
        self._checks[rule_id] = check
        self._rule_epoch[rule_id] = self._epoch

    def _unpost(self, rule_id: int) -> None:
        self._always.discard(rule_id)
        check = self._checks.pop(rule_id, None)
        for kind, group, text in self._posted.pop(rule_id, []):
            posting = self._postings[(kind, group)]
            bucket = posting[text]
            bucket.remove(rule_id, check)
            if not bucket.size:
                del posting[text]

    def _rekey(self, key: Key, bucket: _Bucket) -> list[int]:
        """Moves rules off a key found to be common, to their now cheapest clause.

        Returns:
            Every rule that was under the key (a bounded number are moved per call).
        """
        budget = _REKEY_BUDGET
        snapshot = bucket.rule_ids()
        for rule_id in snapshot:
            if self._rule_epoch.get(rule_id) == self._epoch:
                continue
            self._unpost(rule_id)
            self._post(rule_id, self._rules[rule_id])
            budget -= 1
            if not budget:
                return snapshot
        self._settled[key] = self._epoch
        return snapshot

    # -- statistics ------------------------------------------------------------------

    def _learn(self, keys: _DocKeys) -> None:
        """Counts which stems stories contain, on a sample, to estimate selectivity.

        Prefix and regex keys are not counted (that would cost a pass over the words
        of every story); their selectivity is guessed from their length.
        """
        self._seen += 1
        if self._seen > _SAMPLE_ALL and self._seen % _SAMPLE_EVERY:
            return
        self._sampled += 1
        terms = keys.doc.terms
        self._df.update(terms[BODY].union(terms["source"], terms["url"], terms["author"]))
        # New epochs at 32, 128, 512, ... stories: rules get re-keyed with better figures.
        if (
            self._seen >= 32
            and self._seen & (self._seen - 1) == 0
            and self._seen.bit_length() % 2 == 0
        ):
            self._epoch += 1

    def _share(self, kind: str, text: str) -> float | None:
        if kind != "t" or self._seen < 32:
            return None
        return (self._df.get(text, 0) + 0.5) / (self._sampled + 1)

    def _is_hot(self, key: tuple[str, str]) -> bool:
        share = self._share(*key)
        return share is not None and share > _HOT_SHARE

    def _cost(self, key: Key) -> float:
        """Estimated share of stories containing ``key``: learnt, else guessed from length."""
        kind, group, text = key
        share = self._share(kind, text)
        if share is None:
            # Before any statistics: long words are rarer than short ones.
            length = max(1, len(text))
            share = {"t": 4.0, "p": 40.0, "r": 20.0}[kind] / length**3
        return min(1.0, share) * _FIELD_WEIGHT.get(group, 0.3)

    def _clause_cost(self, clause: Clause) -> float:
        return sum(self._cost(key) for key in clause)


class _Bucket:
    """The rules posted under one key, grouped by their second check.

    Rules whose check is one title-and-text stem sit in ``by_stem`` keyed by that stem,
    so one C-level set intersection finds all whose check holds.
    """

    __slots__ = ("by_stem", "other", "size")

    def __init__(self) -> None:
        self.by_stem: dict[str, list[int]] = {}
        self.other: dict[int, Check] = {}
        self.size = 0

    def add(self, rule_id: int, check: Check) -> None:
        if check.__class__ is str:
            self.by_stem.setdefault(check, []).append(rule_id)
        else:
            self.other[rule_id] = check
        self.size += 1

    def remove(self, rule_id: int, check: Check) -> None:
        if check.__class__ is str:
            ids = self.by_stem.get(check)
            if ids and rule_id in ids:
                ids.remove(rule_id)
                self.size -= 1
                if not ids:
                    del self.by_stem[check]
        elif self.other.pop(rule_id, _MISSING) is not _MISSING:
            self.size -= 1

    def rule_ids(self) -> list[int]:
        return [*chain.from_iterable(self.by_stem.values()), *self.other]

    def collect(self, body: set[str], keys: _DocKeys, candidates: set[int]) -> None:
        """Adds to ``candidates`` the rules whose second check the story passes."""
        by_stem = self.by_stem
        if by_stem:
            for stem in by_stem.keys() & body:
                candidates.update(by_stem[stem])
        for rule_id, check in self.other.items():
            if check is None:
                candidates.add(rule_id)
            elif check.__class__ is frozenset:
                if not check.isdisjoint(body):
                    candidates.add(rule_id)
            elif check[2] in keys.get(check[0], check[1]):  # type: ignore[index]
                candidates.add(rule_id)


_MISSING = object()


class _DocKeys:
    """The keys a story offers, per kind and field group, computed on first use."""

    __slots__ = ("index", "doc", "_cache")

    def __init__(self, index: RuleIndex, doc: AnalyzedDoc) -> None:
        self.index = index
        self.doc = doc
        self._cache: dict[tuple[str, str], set[str]] = {}

    def get(self, kind: str, group: str) -> set[str]:
        if kind == "t":
            return self.doc.terms[group]
        found = self._cache.get((kind, group))
        if found is None:
            memo = self.index._heads if kind == "p" else self.index._grams
            raws = chain.from_iterable(self.doc.raws(f) for f in GROUP_FIELDS[group])
            found = self._cache[(kind, group)] = set(
                chain.from_iterable(map(memo.__getitem__, raws))
            )
        return found


def _clauses(node: Node, cost: CostFn, head: int) -> list[Clause] | None:
    """Required clauses of a rule (all must hold), or None when nothing is required."""
    if isinstance(node, Leaf):
        return _leaf_clauses(node, cost, head)
    if isinstance(node, Not):
        return None
    if isinstance(node, And):
        found = [_clauses(child, cost, head) for child in node.children]
        merged = [clause for clauses in found if clauses for clause in clauses]
        return merged or None
    assert isinstance(node, Or)
    union: set[Key] = set()
    for child in node.children:
        clauses = _clauses(child, cost, head)
        if not clauses:
            return None
        union |= min(clauses, key=lambda c: sum(cost(k) for k in c))
    return [frozenset(union)]


def _leaf_clauses(leaf: Leaf, cost: CostFn, head: int) -> list[Clause] | None:
    group = leaf.group
    if leaf.kind == "prefix":
        return [frozenset({("p", group, leaf.text[:head])})]
    if leaf.kind == "regex":
        grams = {g for piece in required_pieces(leaf.text) for g in trigrams(piece)}
        return [frozenset({("r", group, g)}) for g in sorted(grams)] or None
    clauses = []
    for alts in leaf.slots:
        # Within one alternative every stem is required: take its rarest.
        keys = {min((("t", group, stem) for stem in alt), key=cost) for alt in alts}
        clauses.append(frozenset(keys))
    return clauses
