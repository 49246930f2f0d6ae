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

from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import chain, compress, repeat
from operator import call, itemgetter
from struct import Struct

from bot.rules.analysis import HEAD, Memo, get_analyzer, prefix_key
from bot.rules.checkset import CheckSet
from bot.rules.document import BODY, GROUP_FIELDS, AnalyzedDoc, Document
from bot.rules.evaluate import CompiledRule, RuleMatch, Test, new_match
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
        self._head = max(1, min(HEAD, settings.min_prefix))
        self._head_of = itemgetter(slice(None, self._head))
        # Rules are held in dense slots: postings, candidates and the statistics below
        # use slot numbers, and a story reads a candidate's test from a list, not a map.
        self._slot_of: dict[int, int] = {}  # rule id -> slot
        # slot -> rule id (-1 when free), unboxed: sorting matches reads no int objects
        self._ids = array("q")
        self._rules: list[CompiledRule | None] = []
        self._tests: list[Test] = []
        # slot -> the keys it is posted under, its check, the epoch it was keyed in
        self._posted: list[tuple[Key, ...]] = []
        self._checks: list[Check] = []
        self._rule_epoch = array("q")
        self._free: list[int] = []
        self._postings: dict[tuple[str, str], _Posting] = {}
        self._always: set[int] = set()
        self._df: Counter[str] = Counter()
        self._sampled = 0
        self._seen = 0
        self._epoch = 0
        # Per posting, the crowded keys found common at the start of this epoch and not
        # yet re-keyed: a story meets them by one small set intersection. (A key that
        # gets crowded later waits for the next epoch; new rules are keyed by the
        # figures of the day anyway.)
        self._pending: dict[tuple[str, str], set[str]] = {}
        words = self.analyzer.words
        self._grams = Memo(lambda raw: tuple({g for w in words[raw] for g in trigrams(w)}))

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
            self._ids[slot], self._rules[slot], self._tests[slot] = rule_id, rule, rule.test
        else:
            slot = len(self._ids)
            self._ids.append(rule_id)
            self._rules.append(rule)
            self._tests.append(rule.test)
            self._posted.append(())
            self._checks.append(None)
            self._rule_epoch.append(-1)
        self._slot_of[rule_id] = slot
        self._post(slot, rule)

    def remove(self, rule_id: int) -> None:
        """Drops a rule from the index; nothing happens if it is absent."""
        slot = self._slot_of.pop(rule_id, None)
        if slot is None:
            return
        self._unpost(slot)
        self._rule_epoch[slot] = -1
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
        self._learn(keys)
        # Rules found under a key of the story, tested for what their key leaves open;
        # and rules whose key the story may lack, tested in full.
        candidates: set[int] = set()
        unsure = set(self._always)
        if self._pending:
            self._rekey_hot(keys, unsure)
        for (kind, group), posting in self._postings.items():
            posting.collect(keys.get(kind, group), keys, candidates)
        candidates -= unsure
        # The tests sit in their own list: a candidate that fails costs no read of its rule.
        tests = self._tests
        slots = list(candidates)
        passed = list(compress(slots, map(call, map(tests.__getitem__, slots), repeat(adoc))))
        if unsure:
            held = self._rules
            passed += [slot for slot in unsure if held[slot].test(adoc)]  # type: ignore[union-attr]
        ids = self._ids
        passed.sort(key=ids.__getitem__)
        # Matches are made in C: (rule id, rule, story) tuples (a passed slot holds a rule).
        rules = map(self._rules.__getitem__, passed)
        made = zip(map(ids.__getitem__, passed), rules, repeat(adoc))
        return list(map(new_match, made))  # type: ignore[arg-type]

    def memory_keys(self) -> int:
        """How many postings the index holds (for sizing reports)."""
        return sum(sum(posting.size.values()) for posting in self._postings.values())

    # -- posting ---------------------------------------------------------------------

    def _post(self, slot: int, rule: CompiledRule) -> None:
        clauses = _clauses(rule.root, self._cost, self._head)
        if not clauses:
            self._always.add(slot)
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
            posting = self._postings.get((kind, group))
            if posting is None:
                posting = self._postings[(kind, group)] = _Posting()
            posting.add(text, slot, check)
        # Found under its key, a rule needs no test of that key again.
        test, given = rule.test, rule.given
        if given is not None and primary == {("t", given[0], given[1])}:
            test = given[2]
        self._tests[slot] = test
        self._posted[slot] = tuple(primary)
        self._checks[slot] = check
        self._rule_epoch[slot] = self._epoch

    def _unpost(self, slot: int) -> None:
        self._always.discard(slot)
        check = self._checks[slot]
        for kind, group, text in self._posted[slot]:
            self._postings[(kind, group)].remove(text, slot, check)
        self._posted[slot], self._checks[slot] = (), None

    def _rekey_hot(self, keys: _DocKeys, candidates: set[int]) -> None:
        """Re-keys the crowded keys of this story that turned out common.

        Runs before any rule is collected, so moved rules cannot be missed; every rule
        that was under such a key becomes a candidate, to be tested in full (its new key
        may not be in the story).
        """
        for (kind, group), pending in list(self._pending.items()):
            for text in pending & keys.get(kind, group):
                snapshot, done = self._rekey(text, self._postings[(kind, group)])
                candidates.update(snapshot)
                if done:
                    pending.discard(text)
            if not pending:
                del self._pending[(kind, group)]

    def _rekey(self, text: str, posting: _Posting) -> tuple[list[int], bool]:
        """Moves rules off a key found to be common, to their now cheapest clause.

        Returns:
            The slot of every rule that was under the key, and whether all were moved
            (a bounded number are moved per call).
        """
        budget = _REKEY_BUDGET
        snapshot = posting.slots(text)
        for slot in snapshot:
            if self._rule_epoch[slot] == self._epoch:
                continue
            rule = self._rules[slot]
            assert rule is not None
            self._unpost(slot)
            self._post(slot, rule)
            budget -= 1
            if not budget:
                return snapshot, False
        return snapshot, True

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
        # Other fields only when rules are keyed in them: a field no rule reads is
        # never tokenised.
        self._df.update(terms[BODY].union(*(terms[g] for _, g in self._postings if g != BODY)))
        # New epochs at 32, 128, 512, ... stories: rules get re-keyed with better figures.
        if (
            self._seen >= 32
            and self._seen & (self._seen - 1) == 0
            and self._seen.bit_length() % 2 == 0
        ):
            self._epoch += 1
            self._pending = {
                space: hot
                for space, posting in self._postings.items()
                if (hot := {text for text in posting.big if self._is_hot((space[0], text))})
            }

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
            length = max(1, len(text) - (kind == "p"))  # a prefix key ends in "*"
            share = {"t": 4.0, "p": 40.0, "r": 20.0}[kind] / length**3
        return min(1.0, share) * _FIELD_WEIGHT.get(group, 0.3)

    def _clause_cost(self, clause: Clause) -> float:
        return sum(self._cost(key) for key in clause)


def _never(adoc: AnalyzedDoc) -> bool:
    """The test of a free slot (no posting refers to one)."""
    return False


class _Posting:
    """The rules posted under the keys of one kind and field group, with their checks.

    A story's work here is bound by memory latency, not by instructions: with 100,000
    rules, every object read is likely a cache miss. So the rules under a key are packed
    into one ``bytes`` object (its data inline, one read) of ``(check hash, slot)``
    pairs of 64-bit ints, selected by the hashes of the story's keys (a ``CheckSet``)
    without reading any string or int object of the rule. A check on
    a title-and-text stem hashes the stem; a check on another kind or field group of key
    hashes its text, salted by kind and group. A hash collision only adds a candidate,
    which the exact evaluator then rejects.
    """

    __slots__ = ("packed", "spaces", "size", "big")

    def __init__(self) -> None:
        self.packed: dict[str, bytes] = {}
        self.spaces: Counter[tuple[str, str]] = Counter()  # check spaces in use
        self.size: dict[str, int] = {}
        self.big: set[str] = set()  # keys holding enough rules to be worth re-keying

    def add(self, text: str, slot: int, check: Check) -> None:
        space, hashes = _check_hashes(check)
        added = b"".join(_PAIR.pack(value, slot) for value in hashes)
        self.packed[text] = self.packed.get(text, b"") + added
        self.spaces[space] += 1
        size = self.size[text] = self.size.get(text, 0) + 1
        if size >= _REKEY_MIN:
            self.big.add(text)

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
        size = self.size[text] - 1
        if size:
            self.size[text] = size
        else:
            del self.size[text]
        if size < _REKEY_MIN:
            self.big.discard(text)

    def slots(self, text: str) -> list[int]:
        return [*dict.fromkeys(memoryview(self.packed.get(text, b"")).cast("q")[1::2])]

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
                raws = chain.from_iterable(self.doc.chunks(f) for f in fields)
                found = set(chain.from_iterable(map(self.index._grams.__getitem__, raws)))
            self._cache[(kind, group)] = found
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
