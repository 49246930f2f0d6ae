"""The presearcher: rules indexed by what a story must contain for them to possibly match.

Each compiled rule is reduced to required *clauses* (a conjunction of "one of these
keys"): a word's stem, the first letters of a prefix, a trigram of a regex literal. The
rule is posted under the keys of its most selective clause, with one more single-key
clause kept as a cheap second check. A rule with no provable requirement (only
negations) sits in a short always-check list.

Per story: tokenise once, intersect the story's keys with the posted keys, keep the
entries whose second check the story holds, and run the exact test of those few
candidates. How selective a key is, is guessed from its length (long words are rarer
than short ones); the second check makes a poor guess cheap.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import chain
from operator import itemgetter
from struct import Struct

from bot.rules.analysis import HEAD, get_analyzer, prefix_key
from bot.rules.checkset import CheckSet
from bot.rules.document import BODY, GROUP_FIELDS, AnalyzedDoc, Document
from bot.rules.evaluate import CompiledRule, RuleMatch, Test
from bot.rules.literals import required_pieces, trigrams
from bot.rules.settings import RuleSettings
from bot.rules.syntax import And, Leaf, Node, Not, Or

# A key is (kind, group, text): kind "t" stem, "p" prefix head, "r" regex trigram.
Key = tuple[str, str, str]
Clause = frozenset[Key]
Check = Key | str | frozenset[str] | None

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
        self._head = max(1, min(HEAD, settings.min_prefix))
        self._head_of = itemgetter(slice(None, self._head))
        # Rules are held in dense slots: postings and candidates use slot numbers, and a
        # story reads a candidate's test from a list, not a map.
        self._slot_of: dict[int, int] = {}  # rule id -> slot
        self._ids = array("q")  # slot -> rule id (-1 when free), unboxed
        self._rules: list[CompiledRule | None] = []
        self._tests: list[Test] = []
        self._free: list[int] = []
        self._postings: dict[tuple[str, str], _Posting] = {}
        self._always: set[int] = set()

    def __len__(self) -> int:
        return len(self._slot_of)

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
        if self._free:
            slot = self._free.pop()
            self._ids[slot], self._rules[slot] = rule_id, rule
        else:
            slot = len(self._ids)
            self._ids.append(rule_id)
            self._rules.append(rule)
            self._tests.append(rule.test)
        self._slot_of[rule_id] = slot
        self._tests[slot] = self._post(slot, rule)

    def remove(self, rule_id: int) -> None:
        """Drops a rule from the index; nothing happens if it is absent."""
        slot = self._slot_of.pop(rule_id, None)
        if slot is None:
            return
        rule = self._rules[slot]
        assert rule is not None
        self._unpost(slot, rule)
        self._ids[slot], self._rules[slot], self._tests[slot] = -1, None, _never
        self._free.append(slot)

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
        # Rules found under a key of the story whose second check it holds, and rules
        # that require nothing; each tested for what its key leaves open.
        candidates = set(self._always)
        for (kind, group), posting in self._postings.items():
            posting.collect(keys.get(kind, group), keys, candidates)
        # The tests sit in their own list: a candidate that fails costs no read of its rule.
        tests = self._tests
        passed = [slot for slot in candidates if tests[slot](adoc)]
        ids, rules = self._ids, self._rules
        passed.sort(key=ids.__getitem__)
        return [RuleMatch(ids[slot], rules[slot], adoc) for slot in passed]  # type: ignore[arg-type]

    def memory_keys(self) -> int:
        """How many (key, rule) entries the index holds (for sizing reports)."""
        return sum(
            len(pairs) // _PAIR.size
            for posting in self._postings.values()
            for pairs in posting.packed.values()
        )

    # -- posting ---------------------------------------------------------------------

    def _place(self, rule: CompiledRule) -> tuple[Clause, Check] | None:
        """The clause a rule is posted under and its second check; None when the rule
        requires nothing. Worked out from the rule alone, so removing a rule finds
        the entries adding it made."""
        clauses = _clauses(rule.root, _cost, self._head)
        if not clauses:
            return None
        ranked = sorted(clauses, key=_clause_cost)
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
        return ranked[0], check

    def _post(self, slot: int, rule: CompiledRule) -> Test:
        """Posts a rule; returns what is left to test of it for a story that reaches it."""
        placed = self._place(rule)
        if placed is None:
            self._always.add(slot)
            return rule.test
        primary, check = placed
        for kind, group, text in primary:
            posting = self._postings.get((kind, group))
            if posting is None:
                posting = self._postings[(kind, group)] = _Posting()
            posting.add(text, slot, check)
        # Found under its key, a rule needs no test of that key again.
        given = rule.given
        if given is not None and primary == {("t", given[0], given[1])}:
            return given[2]
        return rule.test

    def _unpost(self, slot: int, rule: CompiledRule) -> None:
        placed = self._place(rule)
        if placed is None:
            self._always.discard(slot)
            return
        primary, check = placed
        for kind, group, text in primary:
            posting = self._postings[(kind, group)]
            posting.remove(text, slot, check)
            if not posting.packed:
                del self._postings[(kind, group)]


def _cost(key: Key) -> float:
    """Guessed share of stories holding ``key``: long words are rarer than short ones."""
    kind, group, text = key
    length = max(1, len(text) - (kind == "p"))  # a prefix key ends in "*"
    share = {"t": 4.0, "p": 40.0, "r": 20.0}[kind] / length**3
    return min(1.0, share) * _FIELD_WEIGHT.get(group, 0.3)


def _clause_cost(clause: Clause) -> float:
    return sum(map(_cost, clause))


def _never(adoc: AnalyzedDoc) -> bool:
    """The test of a free slot (no posting refers to one)."""
    return False


class _Posting:
    """The rules posted under the keys of one kind and field group, with their checks.

    The rules under a key are packed into one ``bytes`` object of ``(check hash, slot)``
    pairs of 64-bit ints: 16 bytes an entry, where a tuple of two ints takes over 100
    (``docs/rules.md`` gives the measure). The story's key hashes (a ``CheckSet``)
    select the entries without reading any object of the rule. A check on a
    title-and-text stem hashes the stem; a check on another kind or field group of key
    hashes its text, salted by kind and group. A hash collision only adds a candidate,
    which the exact test then rejects.
    """

    __slots__ = ("packed", "spaces")

    def __init__(self) -> None:
        self.packed: dict[str, bytes] = {}
        self.spaces: Counter[tuple[str, str]] = Counter()  # check spaces in use

    def add(self, text: str, slot: int, check: Check) -> None:
        space, hashes = _check_hashes(check)
        added = b"".join(_PAIR.pack(value, slot) for value in hashes)
        self.packed[text] = self.packed.get(text, b"") + added
        self.spaces[space] += 1

    def remove(self, text: str, slot: int, check: Check) -> None:
        space, _ = _check_hashes(check)
        kept = b"".join(
            _PAIR.pack(value, other)
            for value, other in _PAIR.iter_unpack(self.packed[text])
            if other != slot
        )
        if kept:
            self.packed[text] = kept
        else:
            del self.packed[text]
        self.spaces[space] -= 1
        if not self.spaces[space]:
            del self.spaces[space]

    def collect(self, present: set[str], keys: _DocKeys, candidates: set[int]) -> None:
        """Adds to ``candidates`` the rules under ``present`` keys whose check holds."""
        if self.packed:
            keys.checks(self.spaces).select(self.packed, present, candidates)


_PAIR = Struct("qq")
# Stands for "no second check": every story's hash set holds it.
_NO_CHECK = 0
_BODY_STEMS = ("t", BODY)


def _check_hashes(check: Check) -> tuple[tuple[str, str], tuple[int, ...]]:
    """A check's space (kind, group) and hashes; any one must be in the story."""
    if check is None:
        return _BODY_STEMS, (_NO_CHECK,)
    if isinstance(check, str):
        return _BODY_STEMS, (hash(check),)
    if isinstance(check, frozenset):
        return _BODY_STEMS, tuple(sorted(hash(stem) for stem in check))
    kind, group, text = check
    return (kind, group), (hash(text) ^ _salt(kind, group),)


def _salt(kind: str, group: str) -> int:
    """Set apart the hashes of one check space from another's (a clash only adds a candidate).

    Title-and-text prefix keys (``min*``) are never stems: they share the stems' space.
    """
    if kind == "p" and group == BODY:
        return 0
    return hash((kind, group)) & _HASH_MASK


_HASH_MASK = (1 << 63) - 1


class _DocKeys:
    """The keys a story offers, per kind and field group, computed on first use."""

    __slots__ = ("index", "doc", "_cache", "_checks", "_spaces")

    def __init__(self, index: RuleIndex, doc: AnalyzedDoc) -> None:
        self.index = index
        self.doc = doc
        self._cache: dict[tuple[str, str], set[str]] = {}
        self._checks: CheckSet | None = None
        self._spaces: set[tuple[str, str]] = set()

    def checks(self, spaces: Iterable[tuple[str, str]]) -> CheckSet:
        """Hashes of the story's keys in the given check spaces, as ``_check_hashes``."""
        found = self._checks
        if found is None:
            found = self._checks = CheckSet()
            found.add_hashes(self.doc.terms[BODY])
            found.add(_NO_CHECK)
            self._spaces = {_BODY_STEMS}
        for space in spaces:
            if space not in self._spaces:
                self._spaces.add(space)
                kind, group = space
                found.add_hashes(self.get(kind, group), _salt(kind, group))
        return found

    def get(self, kind: str, group: str) -> set[str]:
        if kind == "t":
            return self.doc.terms[group]
        found = self._cache.get((kind, group))
        if found is None:
            fields = GROUP_FIELDS[group]
            if kind == "p" and self.index._head == HEAD:
                found = self.doc.heads[group]
            elif kind == "p":
                words = chain.from_iterable(self.doc.word_set(f) for f in fields)
                found = set(map(prefix_key, map(self.index._head_of, words)))
            else:
                words = chain.from_iterable(self.doc.word_set(f) for f in fields)
                found = {gram for word in words for gram in trigrams(word)}
            self._cache[(kind, group)] = found
        return found


def _clauses(node: Node, cost: Callable[[Key], float], head: int) -> list[Clause] | None:
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


def _leaf_clauses(leaf: Leaf, cost: Callable[[Key], float], head: int) -> list[Clause] | None:
    group = leaf.group
    if leaf.kind == "prefix":
        return [frozenset({("p", group, prefix_key(leaf.text[:head]))})]
    if leaf.kind == "regex":
        grams = {g for piece in required_pieces(leaf.text) for g in trigrams(piece)}
        return [frozenset({("r", group, g)}) for g in sorted(grams)] or None
    clauses = []
    for alts in leaf.slots:
        # Within one alternative every stem is required: take its rarest.
        keys = {min((("t", group, stem) for stem in alt), key=cost) for alt in alts}
        clauses.append(frozenset(keys))
    return clauses
