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


class RuleMatch:
    """A rule that matched a story, and where.

    Working out *where* costs more than deciding *whether*, and most matches of a big
    deployment are never shown (chat muted, story already alerted), so ``terms`` and
    ``spans`` are computed on first access and kept with the story's analysis.

    Attributes:
        rule_id: The rule's id.
        terms: The query parts that matched, as written, e.g. ``('Belarus', '"prisoner release"')``.
        spans: Field name -> sorted, merged ``(start, end)`` char spans in the original
            Document strings, for highlighting.
    """

    __slots__ = ("rule_id", "rule", "adoc")

    def __init__(self, rule_id: int, rule: CompiledRule, adoc: AnalyzedDoc) -> None:
        self.rule_id = rule_id
        self.rule = rule
        self.adoc = adoc

    def _explained(self) -> Why:
        return self.adoc.remember(("why", self.rule), self.rule.explain, self.adoc)

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

    def __hash__(self) -> int:
        return hash((self.rule_id, self.terms))

    def __repr__(self) -> str:
        return f"RuleMatch(rule_id={self.rule_id!r}, terms={self.terms!r}, spans={self.spans!r})"


class CompiledRule:
    """A parsed rule with its evaluator prepared; compile once, match many stories.

    A rule keeps its query text and its test, not its syntax tree: a deployment holds
    every rule of every chat, and the tree would double the memory of each. ``root``
    parses the query again for the rare reader (indexing, explaining a match).

    Attributes:
        query: The rule as the user typed it.
        settings: The settings it was compiled with.
        test: Whether a story matches the rule.
    """

    __slots__ = ("query", "settings", "analyzer", "test", "given")

    def __init__(self, query: str, root: Node, settings: RuleSettings) -> None:
        """Prepares the evaluator; use ``compile_rule`` rather than this."""
        self.query = query
        self.settings = settings
        self.analyzer = get_analyzer(settings.language)
        # (group, stem, rest) when the rule is one word, or one word AND one other part:
        # ``rest`` decides the rule for a story known to hold the word (an index that
        # finds the rule under that word runs ``rest`` alone).
        self.given: tuple[str, str, Test] | None = None
        term = _single_term(root)
        if term is not None:
            self.given = (*term, _always)
        self.test: Test = self._build(root, top=True)

    @property
    def root(self) -> Node:
        """The rule's syntax tree (parsed again: the rule compiled, so it parses)."""
        return parse(self.query, self.settings, self.analyzer)

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
        regexes: dict[str, re2._Regexp] = {}
        for leaf in _positive_leaves(self.root):
            found = _leaf_spans(leaf, adoc, regexes)
            if found:
                labels[leaf.label] = None
                for name, pairs in found.items():
                    spans.setdefault(name, set()).update(pairs)
        return tuple(labels), {k: _merge(v) for k, v in sorted(spans.items())}

    # -- building the boolean test -------------------------------------------------

    def _build(self, node: Node, top: bool = False) -> Test:
        if isinstance(node, Leaf):
            return self._build_leaf(node)
        if isinstance(node, Not):
            term = _single_term(node.child)
            if term is not None:
                return _set_test(term[0], none=(term[1],))
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
            tests = [_set_test(g, anys=(tuple(w),)) for g, w in words.items()]
            return _any_test(tests + others)
        # AND: per field group, the words needed, the words excluded and the word groups
        # of which one is needed, all tested in one call.
        need: dict[str, set[str]] = {}
        none: dict[str, set[str]] = {}
        anys: dict[str, list[tuple[str, ...]]] = {}
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
                        tuple({t[1]: None for t in terms if t is not None})
                    )
                    continue
            rest.append(self._build(child))
        sets = [
            _set_test(
                g,
                need=tuple(need.get(g, ())),
                anys=tuple(anys.get(g, ())),
                none=tuple(none.get(g, ())),
            )
            for g in dict.fromkeys([*need, *anys, *none])
        ]
        if top and len(node.children) == 2 and len(rest) == 1 and len(need) == 1:
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
            return _regex_test(re2.compile(leaf.text, re2_options()), fields)
        single = _single_term(leaf)
        if single is not None:
            return _set_test(group, need=(single[1],))
        if all(len(alts) == 1 and len(alts[0]) == 1 for alts in leaf.slots):
            if len(leaf.slots) == 2 and leaf.slots[0] != leaf.slots[1]:
                return _pair_test(leaf, fields)
            return _plain_phrase_test(leaf, fields)
        return _phrase_test(leaf, fields)


def _leaf_spans(
    leaf: Leaf, d: AnalyzedDoc, regexes: dict[str, re2._Regexp]
) -> dict[str, list[tuple[int, int]]]:
    """Field -> original char spans where one leaf occurs (empty dict: nowhere)."""
    out: dict[str, list[tuple[int, int]]] = {}
    single = _single_term(leaf)
    for name in GROUP_FIELDS[leaf.group]:
        if leaf.kind == "regex":
            regex = regexes.get(leaf.text)
            if regex is None:
                regex = regexes[leaf.text] = re2.compile(leaf.text, re2_options())
            text, index = d.folded(name)
            if regex.search(text) is None:
                continue
            # An empty match (e.g. /x*/) still counts; it just highlights nothing.
            spans = [d.to_original(name, m.start(), m.end(), index) for m in regex.finditer(text)]
            out[name] = [span for span in spans if span[1] > span[0]]
            continue
        if single is not None:
            if single[1] not in d.terms[name]:
                continue
            occurrences = d.positions(name)[single[1]]
        elif leaf.kind == "prefix":
            occurrences = _prefix_occurrences(d, name, leaf.text)
        else:
            occurrences = _phrase_occurrences(d.positions(name), leaf.slots, leaf.slop, first=False)
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


# Each test is a module-level function with its rule's data bound by ``partial``: one
# small object per test, where a closure costs a function object and a cell per
# variable, in every rule.


def _set_test(
    group: str,
    need: tuple[str, ...] = (),
    anys: tuple[tuple[str, ...], ...] = (),
    none: tuple[str, ...] = (),
) -> Test:
    """All of ``need``, one of each of ``anys`` and none of ``none`` in a field group.

    The stems are held in tuples, which the story's set reads at C speed
    (``issuperset``, ``isdisjoint``): a frozenset of two stems takes three times the
    memory, in every rule.
    """
    if not anys and not none:
        if len(need) == 1:
            return partial(_has, need[0], group)
        return partial(_has_all, need, group)
    if not need and not none and len(anys) == 1:
        return partial(_has_any, anys[0], group)
    return partial(_sets, group, need, anys, none)


def _has(stem: str, group: str, d: AnalyzedDoc) -> bool:
    return stem in d.terms[group]


def _has_all(need: tuple[str, ...], group: str, d: AnalyzedDoc) -> bool:
    return d.terms[group].issuperset(need)


def _has_any(alts: tuple[str, ...], group: str, d: AnalyzedDoc) -> bool:
    return not d.terms[group].isdisjoint(alts)


def _sets(
    group: str,
    need: tuple[str, ...],
    anys: tuple[tuple[str, ...], ...],
    none: tuple[str, ...],
    d: AnalyzedDoc,
) -> bool:
    terms = d.terms[group]
    if not terms.issuperset(need):
        return False
    for alts in anys:
        if terms.isdisjoint(alts):
            return False
    return terms.isdisjoint(none)


def _always(d: AnalyzedDoc) -> bool:
    """What is left to test of a one-word rule in a story known to hold the word."""
    return True


def _negate(inner: Test) -> Test:
    return partial(_not, inner)


def _not(inner: Test, d: AnalyzedDoc) -> bool:
    return not inner(d)


def _all_test(parts: list[Test]) -> Test:
    return parts[0] if len(parts) == 1 else partial(_every, tuple(parts))


def _every(parts: tuple[Test, ...], d: AnalyzedDoc) -> bool:
    for part in parts:  # noqa: SIM110 (a generator per call costs more)
        if not part(d):
            return False
    return True


def _any_test(parts: list[Test]) -> Test:
    return parts[0] if len(parts) == 1 else partial(_some, tuple(parts))


def _some(parts: tuple[Test, ...], d: AnalyzedDoc) -> bool:
    for part in parts:  # noqa: SIM110 (a generator per call costs more)
        if part(d):
            return True
    return False


def _prefix_test(prefix: str, group: str) -> Test:
    if len(prefix) < HEAD:
        return partial(_short_prefix, WORD_MARK + prefix, group)
    # The story's heads (a set look-up) decide three letters, and rule out most longer
    # prefixes before the search of the words.
    longer = WORD_MARK + prefix if len(prefix) > HEAD else None
    return partial(_prefixed, prefix_key(prefix[:HEAD]), longer, group)


def _short_prefix(mark: str, group: str, d: AnalyzedDoc) -> bool:
    return mark in d.word_lines[group]


def _prefixed(key: str, longer: str | None, group: str, d: AnalyzedDoc) -> bool:
    return key in d.heads[group] and (longer is None or longer in d.word_lines[group])


def _regex_test(regex: re2._Regexp, fields: tuple[str, ...]) -> Test:
    return partial(_searched, regex, fields)


def _searched(regex: re2._Regexp, fields: tuple[str, ...], d: AnalyzedDoc) -> bool:
    return any(regex.search(d.folded(f)[0]) is not None for f in fields)


def _plain_phrase_test(leaf: Leaf, fields: tuple[str, ...]) -> Test:
    """A phrase or proximity group of plain words (no compound in the query)."""
    stems = tuple(alts[0][0] for alts in leaf.slots)
    return partial(_plain_phrase, stems, leaf.group, leaf.slop, fields)


def _plain_phrase(
    stems: tuple[str, ...],
    group: str,
    slop: int | None,
    fields: tuple[str, ...],
    d: AnalyzedDoc,
) -> bool:
    terms = d.terms
    if not terms[group].issuperset(stems):
        return False
    for f in fields:
        # Each word must be in the very field the phrase occurs in.
        if not terms[f].issuperset(stems):
            continue
        positions = d.positions(f)
        if positions.has_joined(stems):
            slots = tuple(((stem,),) for stem in stems)
            found = _phrase_occurrences(positions, slots, slop, first=True)
        else:
            found = _simple_occurrences(positions, stems, slop, first=True)
        if found:
            return True
    return False


def _pair_test(leaf: Leaf, fields: tuple[str, ...]) -> Test:
    """A phrase of two different plain words, or the two within N words (``"a b"~N``),
    the commonest phrase of a rule: ``Positions.near`` decides it from the words'
    first and last positions when it can."""
    (a,), (b,) = (alts[0] for alts in leaf.slots)
    return partial(_pair, a, b, leaf.group, leaf.slop, fields)


def _pair(
    a: str, b: str, group: str, slop: int | None, fields: tuple[str, ...], d: AnalyzedDoc
) -> bool:
    terms = d.terms
    present = terms[group]
    if a not in present or b not in present:
        return False
    for f in fields:
        # Both words must be in the very field the phrase occurs in.
        present = terms[f]
        if a in present and b in present:
            positions = d.stem_positions[f]
            near = positions.near(a, b, slop)
            if near is None:  # a compound or a repeat here: full search
                slots = (((a,),), ((b,),))
                near = bool(_phrase_occurrences(positions, slots, slop, True))
            if near:
                return True
    return False


def _phrase_test(leaf: Leaf, fields: tuple[str, ...]) -> Test:
    """A phrase with a compound (``"e-mail scam"``): each slot has alternatives."""
    return partial(_phrase, leaf, _needed(leaf.slots), fields)


def _phrase(
    leaf: Leaf, needed: list[tuple[str, ...]], fields: tuple[str, ...], d: AnalyzedDoc
) -> bool:
    present = d.terms[leaf.group]
    if not all(any(t in present for t in alts) for alts in needed):
        return False
    return any(
        _phrase_occurrences(d.positions(f), leaf.slots, leaf.slop, first=True) for f in fields
    )


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
