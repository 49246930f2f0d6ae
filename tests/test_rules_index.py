"""The presearcher index: upkeep, and exact agreement with the naive evaluator."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.rules import CompiledRule, Document, RuleIndex, RuleMatch, RuleSettings, compile_rule

DOC = Document(
    title="Belarus leader dampens hopes for mass prisoner release",
    text="Lukašenka met U.S. envoys in Minsk. The e-mail said 1,300 political prisoners remain.",
    source="Reuters World",
    url="https://www.belta.by/politics/view/x",
    author="Jane Doe",
)


def naive(rules: dict[int, CompiledRule], doc: Document) -> list[RuleMatch]:
    out = [rule.match(doc, rule_id) for rule_id, rule in sorted(rules.items())]
    return [m for m in out if m is not None]


def test_add_match_remove() -> None:
    index = RuleIndex()
    index.add(5, compile_rule('Belarus AND "prisoner release"'))
    index.add(2, compile_rule("warsaw"))
    index.add(9, compile_rule("minsk OR kyiv"))
    assert len(index) == 3
    matches = index.match(DOC)
    assert [m.rule_id for m in matches] == [5, 9]
    assert (matches[0].terms, matches[0].spans) == (
        ("Belarus", '"prisoner release"'),
        {"title": [(0, 7), (38, 54)]},
    )
    index.remove(5)
    index.remove(5)  # absent: no-op
    index.remove(77)
    assert len(index) == 2
    assert [m.rule_id for m in index.match(DOC)] == [9]


def test_add_replaces_a_rule_with_the_same_id() -> None:
    index = RuleIndex()
    index.add(1, compile_rule("minsk"))
    index.add(1, compile_rule("warsaw"))
    assert len(index) == 1
    assert index.match(DOC) == []
    index.add(1, compile_rule("belarus"))
    assert [m.terms for m in index.match(DOC)] == [("belarus",)]


def test_results_are_sorted_by_rule_id() -> None:
    index = RuleIndex()
    for rule_id in (30, 4, 17, 8, 1):
        index.add(rule_id, compile_rule("belarus"))
    assert [m.rule_id for m in index.match(DOC)] == [1, 4, 8, 17, 30]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("NOT warsaw", True),
        ("-belarus", False),
        ("warsaw OR -kyiv", True),
        ("/x*/", True),  # a regex without literals is checked against every story
        ("/[a-z]+/ -warsaw", True),
        ("title:/^belarus/", True),
        ("/belaru(s|sian)/", True),
        ("/lukasenka|warsaw/", True),
        ("/zzz(s|sian)/", False),
        ("sanc* OR prison*", True),
        ("author:doe", True),
        ("url:belta.by", True),
        ("source:reuters -title:warsaw", True),
        ('"e mail"', True),
        ("email", True),
    ],
)
def test_every_kind_of_rule_is_found(query: str, expected: bool) -> None:
    index = RuleIndex()
    index.add(1, compile_rule(query))
    index.add(2, compile_rule("unrelated"))
    assert bool(index.match(DOC)) is expected
    assert index.match(DOC) == naive({1: compile_rule(query)}, DOC)


@pytest.mark.parametrize("min_prefix", [1, 2, 3, 4])
def test_prefix_rules_are_keyed_alike_whatever_the_shortest_prefix(min_prefix: int) -> None:
    # Prefixes of three letters or more are keyed by the heads the analysis lists for
    # every word; shorter ones (allowed by a lower min_prefix) by each word cut to size.
    config = RuleSettings(min_prefix=min_prefix)
    queries = ["pri* AND minsk", "prisoner* -kyiv", "e* AND lukasenka", "mi*", "lu*", "zz*", "ma*"]
    rules = {
        i: compile_rule(q, config)
        for i, q in enumerate(queries)
        if len(q.split("*")[0]) >= min_prefix
    }
    index = RuleIndex(config)
    for rule_id, rule in rules.items():
        index.add(rule_id, rule)
    found = index.match(DOC)
    assert found == naive(rules, DOC)
    assert {m.rule_id for m in found} >= {i for i in (0, 1) if i in rules}


def test_index_refuses_a_rule_of_another_language() -> None:
    index = RuleIndex(RuleSettings(language="english"))
    with pytest.raises(ValueError, match="uses language 'german'"):
        index.add(1, compile_rule("haus", RuleSettings(language="german")))


def test_index_with_other_language_stems_stories_alike() -> None:
    german = RuleSettings(language="german")
    index = RuleIndex(german)
    index.add(1, compile_rule("haus", german))
    assert [m.rule_id for m in index.match(Document(text="Die Häuser"))] == [1]


def test_a_rule_found_under_its_word_is_left_only_the_rest_to_test() -> None:
    """`lukashenko AND "minister said"` is posted under its rarest-looking key, the long
    word; a story that reaches it there runs only the phrase test, and matches stay
    exactly those of the rule's own test."""
    words = ["lukashenko", "tsikhanouskaya", "qa"]
    rules = {i: compile_rule(f'{word} AND "minister said"') for i, word in enumerate(words)}
    index = RuleIndex()
    for rule_id, rule in rules.items():
        index.add(rule_id, rule)
    for rule_id in (0, 1):
        given = rules[rule_id].given
        assert given is not None and index._tests[index._slot_of[rule_id]] is given[2]
    # "qa" looks common (two letters): the rule is posted under "minist", tested in full.
    assert index._tests[index._slot_of[2]] is rules[2].test
    for text in [
        "The minister said no to Lukashenko.",
        "The minister, Lukashenko said.",
        "Tsikhanouskaya: the minister said qa.",
        "qa minister yesterday said",
        "minister said",
    ]:
        doc = Document(title="story", text=text)
        assert index.match(doc) == naive(rules, doc)


# -- property: the index and the naive evaluator agree on random rules and stories --------

WORDS = [
    "belarus",
    "Belarusian",
    "minsk",
    "prisoner",
    "prisoners",
    "release",
    "released",
    "sanction",
    "sanctions",
    "e-mail",
    "email",
    "U.S.",
    "us",
    "café",
    "cafe",
    "Łukaszenka",
    "lukaszenka",
    "kyiv",
    "talks",
    "1,300",
    "1300",
    "the",
    "Беларусь",
    "Лукашенко",
    "lukashenko",
    "Bel\u00adarus",
    "be\u0301larus",
]
PREFIXES = ["bel*", "pris*", "sanc*", "luka*", "rele*", "caf*", "kyi*"]
REGEXES = [
    "/belaru(s|sian)/",
    "/prisoners?/",
    r"/\d+/",
    "/e-?mail/",
    "/^the/",
    "/x*/",
    "/mins|kyi/",
]
FIELDS = ["", "", "", "title:", "text:", "source:", "url:", "author:"]
JOINERS = [" ", " ", " ", ", ", ". ", " - ", "; ", " (", ") "]


def _quote(words: list[str]) -> str:
    return '"' + " ".join(words) + '"'


leaf = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(PREFIXES),
    st.sampled_from(REGEXES),
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(_quote),
    st.tuples(st.lists(st.sampled_from(WORDS), min_size=2, max_size=3), st.integers(0, 4)).map(
        lambda t: f"{_quote(t[0])}~{t[1]}"
    ),
)
fielded = st.tuples(st.sampled_from(FIELDS), leaf).map(lambda t: t[0] + t[1])


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from([" ", " AND ", " OR ", " -", " NOT "]), children).map(
            lambda t: t[0] + t[1] + t[2]
        ),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"-({c})"),
    )


queries = st.recursive(fielded, _combine, max_leaves=6)

texts = st.lists(
    st.tuples(st.sampled_from(WORDS + ["warsaw", "other", "Minsk's"]), st.sampled_from(JOINERS)),
    max_size=25,
).map(lambda pairs: "".join(w + j for w, j in pairs).strip())

documents = st.builds(
    Document,
    title=texts,
    text=texts,
    source=st.sampled_from(["", "Reuters World", "Belta", "Kyiv Independent"]),
    url=st.sampled_from(
        ["", "https://www.belta.by/politics/x", "https://example.org/kyiv-talks?q=belarus"]
    ),
    author=st.sampled_from(["", "Jane Doe", "Łukasz Nowak"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule_texts=st.lists(queries, min_size=1, max_size=12),
    docs=st.lists(documents, min_size=1, max_size=4),
)
def test_index_agrees_with_naive(rule_texts: list[str], docs: list[Document]) -> None:
    rules = {i * 3 + 1: compile_rule(q) for i, q in enumerate(rule_texts)}
    index = RuleIndex()
    for rule_id, rule in rules.items():
        index.add(rule_id, rule)
    # replacing and removing must leave the index exact too
    index.add(1, rules[1])
    index.remove(10_000)
    for doc in docs:
        assert index.match(doc) == naive(rules, doc)
    if len(rules) > 1:
        gone = max(rules)
        index.remove(gone)
        del rules[gone]
        for doc in docs:
            assert index.match(doc) == naive(rules, doc)
