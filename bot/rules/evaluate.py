"""Exact evaluation of one compiled rule against one analysed story, and why it matched."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from functools import partial

import re2

from bot.rules.analysis import HEAD, get_analyzer, prefix_key
from bot.rules.document import GROUP_FIELDS, WORD_MARK, AnalyzedDoc, Document, Positions
from bot.rules.settings import RuleSettings
from bot.rules.syntax import Leaf, Node, Not, Or, Slot, parse, re2_options

Test = Callable[[AnalyzedDoc], bool]
Occurrences = list[tuple[int, int]]


Why = tuple[tuple[str, ...], dict[str, list[tuple[int, int]]]]


class RuleMatch(tuple[int, "CompiledRule", AnalyzedDoc]):
    """A rule that matched a story, and where.

    Working out *where* costs more than deciding *whether*, and most matches of a big
    deployment are never shown (chat muted, story already alerted). So ``terms`` and
    ``spans`` are computed on first access, and kept with the story's analysis. A
    match is a tuple (rule id, rule, story) underneath, so an index makes its matches
    without running Python code per match.

    Attributes:
        rule_id: The rule's id.
        terms: The query parts that matched, as written, e.g. ``('Belarus', '"prisoner release"')``.
        spans: Field name -> sorted, merged ``(start, end)`` char spans in the original
            Document strings, for highlighting.
    """

    __slots__ = ()

    def __new__(cls, rule_id: int, rule: CompiledRule, adoc: AnalyzedDoc) -> RuleMatch:
        return tuple.__new__(cls, (rule_id, rule, adoc))

    @property
    def rule_id(self) -> int:
        return self[0]

    def _explained(self) -> Why:
        _, rule, adoc = self
        return adoc.remember(("why", rule), rule.explain, adoc)

    @property
    def terms(self) -> tuple[str, ...]:
        return self._explained()[0]

    @property
    def spans(self) -> dict[str, list[tuple[int, int]]]:
        return self._explained()[1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuleMatch):
            return NotImplemented
        return (self.rule_id, self._explained()) == (other.rule_id, other._explained())

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash((self.rule_id, self.terms))

    def __repr__(self) -> str:
        return f"RuleMatch(rule_id={self.rule_id!r}, terms={self.terms!r}, spans={self.spans!r})"


# Makes a RuleMatch from a (rule id, rule, story) tuple, in C.
new_match: Callable[[tuple[int, CompiledRule, AnalyzedDoc]], RuleMatch] = partial(
    tuple.__new__, RuleMatch
)


class CompiledRule:
    """A parsed rule with its evaluator prepared; compile once, match many stories.

    Attributes:
        query: The rule as the user typed it.
        root: Its syntax tree.
        settings: The settings it was compiled with.
    """

    __slots__ = ("query", "root", "settings", "analyzer", "_regexes", "test", "given")

    def __init__(self, query: str, root: Node, settings: RuleSettings) -> None:
        """Prepares the evaluator; use ``compile_rule`` rather than this."""
        self.query = query
        self.root = root
        self.settings = settings
        self.analyzer = get_analyzer(settings.language)
        self._regexes: dict[str, re2._Regexp] | None = None  # most rules hold none
        # (group, stem, rest) when the rule is one word, or one word AND one other part:
        # ``rest`` decides the rule for a story known to hold the word (an index that
        # finds the rule under that word runs ``rest`` alone).
        self.given: tuple[str, str, Test] | None = None
        term = _single_term(root)
        if term is not None:
            self.given = (*term, _always)
        self.test: Test = self._build(root)

    def __repr__(self) -> str:
        return f"CompiledRule({self.query!r})"

    def match(self, doc: Document, rule_id: int = 0) -> RuleMatch | None:
        """Evaluates the rule on one story.

        Args:
            doc: The story.
            rule_id: Id to put in the result.

        Returns:
            What matched and where, or None when the rule does not match.
        """
        return self.match_analyzed(AnalyzedDoc(doc, self.analyzer), rule_id)

    def match_analyzed(self, adoc: AnalyzedDoc, rule_id: int = 0) -> RuleMatch | None:
        """Like ``match`` for a story already analysed (shared by many rules)."""
        if not self.test(adoc):
            return None
        return RuleMatch(rule_id, self, adoc)

    def explain(
        self, adoc: AnalyzedDoc
    ) -> tuple[tuple[str, ...], dict[str, list[tuple[int, int]]]]:
        """The positive parts of a matching rule that occur, and their spans by field."""
        labels: dict[str, None] = {}
        spans: dict[str, set[tuple[int, int]]] = {}
        for leaf in _positive_leaves(self.root):
            found = self._leaf_spans(leaf, adoc)
            if found:
                labels[leaf.label] = None
                for name, pairs in found.items():
                    spans.setdefault(name, set()).update(pairs)
        return tuple(labels), {k: _merge(v) for k, v in sorted(spans.items())}

    # -- building the boolean test -------------------------------------------------

    # Tests are small functions whose data sit in their default arguments: calling one
    # reads the function and one tuple of defaults, where a closure would read a cell
    # per variable. With 100,000 rules in memory each object read is a likely cache
    # miss, and a story tests dozens of candidate rules.

    def _build(self, node: Node) -> Test:
        if isinstance(node, Leaf):
            return self._build_leaf(node)
        if isinstance(node, Not):
            term = _single_term(node.child)
            if term is not None:
                return _set_test(term[0], none=frozenset({term[1]}))
            return _negate(self._build(node.child))
        if isinstance(node, Or):
            # Plain words of one field group: one set operation.
            words: dict[str, set[str]] = {}
            others: list[Test] = []
            for child in node.children:
                term = _single_term(child)
                if term is not None:
                    words.setdefault(term[0], set()).add(term[1])
                else:
                    others.append(self._build(child))
            tests = [_set_test(g, anys=(frozenset(w),)) for g, w in words.items()]
            return _any_test(tests + others)
        # AND: per field group, the words needed, the words excluded and the word groups
        # of which one is needed, all tested in one call.
        need: dict[str, set[str]] = {}
        none: dict[str, set[str]] = {}
        anys: dict[str, list[frozenset[str]]] = {}
        rest: list[Test] = []
        for child in node.children:
            term = _single_term(child)
            if term is not None:
                need.setdefault(term[0], set()).add(term[1])
                continue
            if isinstance(child, Not) and (term := _single_term(child.child)) is not None:
                none.setdefault(term[0], set()).add(term[1])
                continue
            if isinstance(child, Or):
                terms = [_single_term(c) for c in child.children]
                groups = {t[0] for t in terms if t is not None}
                if None not in terms and len(groups) == 1:
                    anys.setdefault(groups.pop(), []).append(
                        frozenset(t[1] for t in terms if t is not None)
                    )
                    continue
            rest.append(self._build(child))
        sets = [
            _set_test(
                g,
                need=frozenset(need.get(g, ())),
                anys=tuple(anys.get(g, ())),
                none=frozenset(none.get(g, ())),
            )
            for g in dict.fromkeys([*need, *anys, *none])
        ]
        if node is self.root and len(node.children) == 2 and len(rest) == 1 and len(need) == 1:
            ((group, stems),) = need.items()
            if len(stems) == 1 and not anys and not none:
                self.given = (group, next(iter(stems)), rest[0])
        # Set tests first: they are the cheapest and most often decide.
        return _all_test(sets + rest)

    def _build_leaf(self, leaf: Leaf) -> Test:
        group = leaf.group
        fields = GROUP_FIELDS[group]
        if leaf.kind == "prefix":
            return _prefix_test(leaf.text, group)
        if leaf.kind == "regex":
            return _regex_test(self._regex(leaf.text), fields)
        single = _single_term(leaf)
        if single is not None:
            return _set_test(group, need=frozenset({single[1]}))
        if all(len(alts) == 1 and len(alts[0]) == 1 for alts in leaf.slots):
            if len(leaf.slots) == 2 and leaf.slots[0] != leaf.slots[1]:
                return _pair_test(leaf, fields)
            return _plain_phrase_test(leaf, fields)
        return _phrase_test(leaf, fields)

    def _regex(self, pattern: str) -> re2._Regexp:
        if self._regexes is None:
            self._regexes = {}
        regex = self._regexes.get(pattern)
        if regex is None:
            regex = self._regexes[pattern] = re2.compile(pattern, re2_options())
        return regex

    # -- explaining ----------------------------------------------------------------

    def _leaf_spans(self, leaf: Leaf, d: AnalyzedDoc) -> dict[str, list[tuple[int, int]]]:
        """Field -> original char spans where one leaf occurs (empty dict: nowhere)."""
        out: dict[str, list[tuple[int, int]]] = {}
        single = _single_term(leaf)
        for name in GROUP_FIELDS[leaf.group]:
            if leaf.kind == "regex":
                regex = self._regex(leaf.text)
                text, index = d.folded(name)
                if regex.search(text) is None:
                    continue
                # An empty match (e.g. /x*/) still counts; it just highlights nothing.
                spans = [
                    d.to_original(name, m.start(), m.end(), index) for m in regex.finditer(text)
                ]
                out[name] = [span for span in spans if span[1] > span[0]]
                continue
            if single is not None:
                if single[1] not in d.terms[name]:
                    continue
                occurrences = d.positions(name)[single[1]]
            elif leaf.kind == "prefix":
                occurrences = _prefix_occurrences(d, name, leaf.text)
            else:
                occurrences = _phrase_occurrences(
                    d.positions(name), leaf.slots, leaf.slop, first=False
                )
            if occurrences:
                out[name] = [d.char_span(name, a, b) for a, b in occurrences]
        return out


def _single_term(node: Node) -> tuple[str, str] | None:
    """(group, stem) when a node is one plain word, else None."""
    if isinstance(node, Leaf) and node.kind == "phrase" and len(node.slots) == 1:
        alts = node.slots[0]
        if len(alts) == 1 and len(alts[0]) == 1:
            return node.group, alts[0][0]
    return None


def _set_test(
    group: str,
    need: frozenset[str] = frozenset(),
    anys: tuple[frozenset[str], ...] = (),
    none: frozenset[str] = frozenset(),
) -> Test:
    """All of ``need``, one of each of ``anys`` and none of ``none`` in a field group."""
    if not anys and not none:
        if len(need) == 1:
            (stem,) = need

            def has(d: AnalyzedDoc, _stem: str = stem, _group: str = group) -> bool:
                return _stem in d.terms[_group]

            return has

        def has_all(d: AnalyzedDoc, _need: frozenset[str] = need, _group: str = group) -> bool:
            return _need <= d.terms[_group]

        return has_all
    if not need and not none and len(anys) == 1:
        (alts,) = anys

        def has_any(d: AnalyzedDoc, _alts: frozenset[str] = alts, _group: str = group) -> bool:
            return not _alts.isdisjoint(d.terms[_group])

        return has_any

    def sets(
        d: AnalyzedDoc,
        _group: str = group,
        _need: frozenset[str] = need,
        _anys: tuple[frozenset[str], ...] = anys,
        _none: frozenset[str] = none,
    ) -> bool:
        terms = d.terms[_group]
        if not _need <= terms:
            return False
        for alts in _anys:
            if alts.isdisjoint(terms):
                return False
        return _none.isdisjoint(terms)

    return sets


def _always(d: AnalyzedDoc) -> bool:
    """What is left to test of a one-word rule in a story known to hold the word."""
    return True


def _negate(inner: Test) -> Test:
    def negated(d: AnalyzedDoc, _inner: Test = inner) -> bool:
        return not _inner(d)

    return negated


def _all_test(parts: list[Test]) -> Test:
    if len(parts) == 1:
        return parts[0]

    def every(d: AnalyzedDoc, _parts: tuple[Test, ...] = tuple(parts)) -> bool:
        for part in _parts:  # noqa: SIM110 (no generator per call)
            if not part(d):
                return False
        return True

    return every


def _any_test(parts: list[Test]) -> Test:
    if len(parts) == 1:
        return parts[0]

    def some(d: AnalyzedDoc, _parts: tuple[Test, ...] = tuple(parts)) -> bool:
        for part in _parts:  # noqa: SIM110 (no generator per call)
            if part(d):
                return True
        return False

    return some


def _prefix_test(prefix: str, group: str) -> Test:
    if len(prefix) < HEAD:

        def short(d: AnalyzedDoc, _mark: str = WORD_MARK + prefix, _group: str = group) -> bool:
            return _mark in d.word_lines[_group]

        return short

    # The story's heads (a set look-up) decide three letters, and rule out most longer
    # prefixes before the search of the words.
    def prefixed(
        d: AnalyzedDoc,
        _key: str = prefix_key(prefix[:HEAD]),
        _mark: str | None = WORD_MARK + prefix if len(prefix) > HEAD else None,
        _group: str = group,
    ) -> bool:
        return _key in d.heads[_group] and (_mark is None or _mark in d.word_lines[_group])

    return prefixed


def _regex_test(regex: re2._Regexp, fields: tuple[str, ...]) -> Test:
    def searched(
        d: AnalyzedDoc, _regex: re2._Regexp = regex, _fields: tuple[str, ...] = fields
    ) -> bool:
        for f in _fields:  # noqa: SIM110 (no generator per call)
            if _regex.search(d.folded(f)[0]) is not None:
                return True
        return False

    return searched


def _plain_phrase_test(leaf: Leaf, fields: tuple[str, ...]) -> Test:
    """A phrase or proximity group of plain words (no compound in the query)."""
    stems = tuple(alts[0][0] for alts in leaf.slots)

    def plain_phrase(
        d: AnalyzedDoc,
        _every: frozenset[str] = frozenset(stems),
        _stems: tuple[str, ...] = stems,
        _group: str = leaf.group,
        _slop: int | None = leaf.slop,
        _fields: tuple[str, ...] = fields,
        _leaf: Leaf = leaf,
    ) -> bool:
        terms = d.terms
        if not _every <= terms[_group]:
            return False
        for f in _fields:
            # Each word must be in the very field the phrase occurs in.
            if not _every <= terms[f]:
                continue
            positions = d.positions(f)
            if positions.has_joined(_stems):
                found = _phrase_occurrences(positions, _leaf.slots, _slop, first=True)
            else:
                found = _simple_occurrences(positions, _stems, _slop, first=True)
            if found:
                return True
        return False

    return plain_phrase


def _pair_test(leaf: Leaf, fields: tuple[str, ...]) -> Test:
    """A phrase of two different plain words, or the two within N words (``"a b"~N``),
    the commonest phrase of a rule: ``Positions.near`` decides it from the words'
    first and last positions when it can."""
    (a,), (b,) = (alts[0] for alts in leaf.slots)

    def pair(
        d: AnalyzedDoc,
        _a: str = a,
        _b: str = b,
        _both: frozenset[str] = frozenset((a, b)),
        _group: str = leaf.group,
        _slop: int | None = leaf.slop,
        _fields: tuple[str, ...] = fields,
        _leaf: Leaf = leaf,
    ) -> bool:
        terms = d.terms
        if not _both <= terms[_group]:
            return False
        for f in _fields:
            # Both words must be in the very field the phrase occurs in.
            if _both <= terms[f]:
                positions = d.stem_positions[f]
                near = positions.near(_a, _b, _slop)
                if near is None:  # a compound or a repeat here: full search
                    near = bool(_phrase_occurrences(positions, _leaf.slots, _slop, True))
                if near:
                    return True
        return False

    return pair


def _phrase_test(leaf: Leaf, fields: tuple[str, ...]) -> Test:
    """A phrase with a compound (``"e-mail scam"``): each slot has alternatives."""
    needed = _needed(leaf.slots)

    def phrase(
        d: AnalyzedDoc,
        _needed: list[tuple[str, ...]] = needed,
        _leaf: Leaf = leaf,
        _fields: tuple[str, ...] = fields,
    ) -> bool:
        present = d.terms[_leaf.group]
        if not all(any(t in present for t in alts) for alts in _needed):
            return False
        return any(
            _phrase_occurrences(d.positions(f), _leaf.slots, _leaf.slop, first=True)
            for f in _fields
        )

    return phrase


def _positive_leaves(node: Node, negated: bool = False) -> list[Leaf]:
    """Leaves not under an odd number of NOTs: the parts whose presence helped a match."""
    if isinstance(node, Leaf):
        return [] if negated else [node]
    if isinstance(node, Not):
        return _positive_leaves(node.child, not negated)
    return [leaf for child in node.children for leaf in _positive_leaves(child, negated)]


def _needed(slots: tuple[Slot, ...]) -> list[tuple[str, ...]]:
    """For each slot, stems of which at least one must be in the story (a cheap pre-check)."""
    return [tuple(alt[0] for alt in alts) for alts in slots]


def _slot_occurrences(positions: Positions, alts: Slot) -> dict[int, set[int]]:
    """Start position -> end positions where one of the slot's alternatives occurs."""
    found: dict[int, set[int]] = {}
    for alt in alts:
        current = {(s, e) for s, e in positions.get(alt[0], ())}
        for stem in alt[1:]:
            if not current:
                break
            starts: dict[int, list[int]] = {}
            for s, e in positions.get(stem, ()):
                starts.setdefault(s, []).append(e)
            current = {(s, e2) for s, e in current for e2 in starts.get(e + 1, ())}
        for s, e in current:
            found.setdefault(s, set()).add(e)
    return found


def _phrase_occurrences(
    positions: Positions, slots: tuple[Slot, ...], slop: int | None, first: bool
) -> Occurrences:
    """Where a phrase (slop None) or a proximity group occurs, as (first, last) positions.

    Args:
        positions: Stem -> occurrences in one field.
        slots: The phrase's slots.
        slop: None for an exact phrase; N for "within N other words, any order".
        first: Stop at the first occurrence (enough to decide a match).
    """
    if all(len(alts) == 1 and len(alts[0]) == 1 for alts in slots):
        stems = [alts[0][0] for alts in slots]
        if not positions.has_joined(stems):
            return _simple_occurrences(positions, stems, slop, first)
    per_slot = [_slot_occurrences(positions, alts) for alts in slots]
    if not all(per_slot):
        return []
    if slop is None:
        frontier = {(s, e) for s, ends in per_slot[0].items() for e in ends}
        for occ in per_slot[1:]:
            frontier = {(s, e2) for s, e in frontier for e2 in occ.get(e + 1, ())}
            if not frontier:
                return []
        return sorted(frontier)[:1] if first else sorted(frontier)
    return _proximity(per_slot, slop, first)


def _simple_occurrences(
    positions: Positions, stems: Sequence[str], slop: int | None, first: bool
) -> Occurrences:
    """Fast path for phrases of plain words none of which is a compound in the field."""
    starts = [positions.singles(stem) for stem in stems]
    if not all(starts):
        return []
    if slop is None:
        found = set(starts[0])
        for offset, later in enumerate(starts[1:], 1):
            found &= {p - offset for p in later}
            if not found:
                return []
        ordered = sorted(found)
        return [(p, p + len(stems) - 1) for p in (ordered[:1] if first else ordered)]
    if len(stems) == 2 and stems[0] != stems[1]:
        # Two words: any pair no more than slop + 1 apart, either order.
        pairs: Occurrences = []
        reach = slop + 1
        others = starts[1]
        for p in starts[0]:
            i = bisect_left(others, p - reach)
            while i < len(others) and others[i] <= p + reach:
                pairs.append((min(p, others[i]), max(p, others[i])))
                if first:
                    return pairs
                i += 1
        return sorted(set(pairs))
    return _proximity([{p: {p} for p in s} for s in starts], slop, first)


def _proximity(per_slot: list[dict[int, set[int]]], slop: int, first: bool) -> Occurrences:
    """Windows holding every slot (each at its own position) with at most ``slop`` extra words.

    A window of slot starts spans ``last - first + 1`` positions; it fits when that is at
    most ``len(slots) + slop``, i.e. at most ``slop`` other words lie between, in any order.
    """
    events = sorted((s, i, max(ends)) for i, occ in enumerate(per_slot) for s, ends in occ.items())
    need = len(per_slot)
    width = need + slop
    counts = [0] * need
    covered = 0
    found: Occurrences = []
    lo = 0
    for hi, (start, slot, _end) in enumerate(events):
        counts[slot] += 1
        if counts[slot] == 1:
            covered += 1
        while events[lo][0] <= start - width:
            counts[events[lo][1]] -= 1
            if counts[events[lo][1]] == 0:
                covered -= 1
            lo += 1
        if covered == need and _distinct(events[lo : hi + 1], need):
            window = events[lo : hi + 1]
            found.append((window[0][0], max(e for _, _, e in window)))
            if first:
                return found
    return found


def _distinct(window: list[tuple[int, int, int]], need: int) -> bool:
    """Whether each slot can take its own position (``"a a"~3`` needs two separate a's)."""
    taken: set[int] = set()
    by_slot: dict[int, list[int]] = {}
    for start, slot, _ in window:
        by_slot.setdefault(slot, []).append(start)
    # Greedy, slots with the fewest choices first. Two slots' positions are either the
    # same (a repeated word) or disjoint (different words), and for such sets greedy is
    # exact; only overlapping compounds ("e-mail" vs "mail") could fool it.
    for slot in sorted(by_slot, key=lambda k: len(by_slot[k])):
        free = [p for p in by_slot[slot] if p not in taken]
        if not free:
            return False
        taken.add(free[0])
    return len(by_slot) == need


def _prefix_occurrences(d: AnalyzedDoc, name: str, prefix: str) -> Occurrences:
    table = d.word_positions(name)
    return [occ for word in d.words_with_prefix(name, prefix) for occ in table[word]]


def _merge(spans: set[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def compile_rule(query: str, settings: RuleSettings = RuleSettings()) -> CompiledRule:  # noqa: B008
    """Parses and prepares a watch rule.

    Args:
        query: The rule, e.g. ``Belarus AND "prisoner release"``.
        settings: Language and limits.

    Returns:
        The compiled rule; ``.match(doc)`` evaluates it.

    Raises:
        RuleSyntaxError: The query is malformed; the message gives the column and what
            was expected there.
    """
    root = parse(query, settings, get_analyzer(settings.language))
    return CompiledRule(query, root, settings)
