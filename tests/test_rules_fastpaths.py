"""The presearcher's fast paths agree with the plain definitions they replace."""

from __future__ import annotations

from itertools import chain

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rules import Document, RuleIndex, compile_rule
from bot.rules.analysis import NOT_SINGLE, Analyzer
from bot.rules.document import BODY, AnalyzedDoc, Positions
from bot.rules.evaluate import _prefix_test
from bot.rules.syntax import Leaf

CHUNKS = [
    "Minsk",
    "Minsk,",
    "(Minsk).",
    "U.S.-led",
    "e-mail",
    "1,300",
    "3.5",
    "Łukaszenka's",
    "belta.by/politics",
    "-",
    "...",
    "café",
]

DOC = Document(
    title="E-mail from Minsk - the U.S.-led talks",
    text="Lukašenka's e-mail said 1,300 were freed. Talks (in Minsk) - and e mail - resumed.",
    source="Reuters World",
    url="https://www.belta.by/politics/e-mail-1,300?x=1",
    author="Jane Doe",
)


@pytest.mark.parametrize("chunk", CHUNKS)
def test_chunk_shortcuts_equal_the_full_analysis(chunk: str) -> None:
    analyzer = Analyzer("english")
    info = analyzer.info[chunk]
    # Ask the shortcuts first: for plain words they skip building the full RawInfo.
    fresh = Analyzer("english")
    single = fresh.single_of(chunk)
    if info.positions == 1 and not info.joined:
        word = info.pos_words[0]
        assert single == (info.pos_stems[0], word, word[:3] + "*")
        assert fresh.single[chunk] is single
    else:
        assert single is None and chunk not in fresh.single
        assert fresh.single[chunk] is NOT_SINGLE  # looked up: analysed, and kept


@pytest.mark.parametrize("field", ["title", "text", "source", "url", "author"])
def test_tokens_are_the_same_met_cold_or_warm(field: str) -> None:
    analyzer = Analyzer("english")
    cold = AnalyzedDoc(DOC, analyzer)
    warm = AnalyzedDoc(DOC, analyzer)  # every one-token chunk now comes from the cache
    for adoc in (cold, warm):
        raws = adoc.raws(field)
        flat = [stem for raw in raws for stem in analyzer.info[raw].pos_stems]
        assert adoc.positions(field)._flat == flat
        assert adoc.terms[field] == set(chain.from_iterable(analyzer.info[r].stems for r in raws))
        words = set(chain.from_iterable(analyzer.info[r].words for r in raws))
        assert adoc.word_set(field) == words
        assert adoc.heads[field] == {word[:3] + "*" for word in words}


def test_stems_are_interned_so_rule_and_story_share_objects() -> None:
    analyzer = Analyzer("english")
    from_story = analyzer.info["Prisoners,"].stems[0]
    root = compile_rule("prisoners").root
    assert isinstance(root, Leaf)
    from_rule = root.slots[0][0][0]
    assert from_story == from_rule
    assert from_story is from_rule


def test_terms_are_the_stems_of_every_chunk_compounds_included() -> None:
    analyzer = Analyzer("english")
    adoc = AnalyzedDoc(DOC, analyzer)
    for field in ("title", "text", "source", "url", "author"):
        expected = set(chain.from_iterable(analyzer.info[raw].stems for raw in adoc.raws(field)))
        assert adoc.terms[field] == expected, field
    assert "email" in adoc.terms["title"]
    assert adoc.terms[BODY] == adoc.terms["title"] | adoc.terms["text"]


def test_word_set_and_sorted_words_hold_every_folded_word() -> None:
    analyzer = Analyzer("english")
    adoc = AnalyzedDoc(DOC, analyzer)
    expected = set(chain.from_iterable(analyzer.info[raw].words for raw in adoc.raws("text")))
    assert adoc.word_set("text") == expected
    assert adoc.sorted_words("text") == sorted(expected)
    assert {"lukasenkas", "email", "1300"} <= expected


@pytest.mark.parametrize("field", ["title", "text"])
def test_prefix_tests_agree_with_the_words_of_the_field(field: str) -> None:
    """Heads decide three-letter prefixes, a search of the word line the others: a
    prefix running across two words, or starting inside one, finds nothing."""
    adoc = AnalyzedDoc(DOC, Analyzer("english"))
    words = adoc.word_set(field)
    tried = {word[:n] for word in words for n in (1, 2, 3, 4, 6)}
    tried |= {word[1:4] for word in words}  # inside words
    tried |= {a[-2:] + b[:2] for a, b in zip(sorted(words), sorted(words)[1:], strict=False)}
    for prefix in tried:
        expected = any(word.startswith(prefix) for word in words)
        assert _prefix_test(prefix, field)(adoc) == expected, (prefix, adoc.word_lines[field])
    assert _prefix_test("emai", field)(adoc)  # the joined "email" of "e-mail"


def test_positions_per_key_match_a_scan_of_the_tokens() -> None:
    adoc = AnalyzedDoc(DOC, Analyzer("english"))
    for field in ("title", "text"):
        positions = adoc.positions(field)
        flat = [stem for raw in adoc.raws(field) for stem in adoc.analyzer.info[raw].pos_stems]
        for stem in adoc.terms[field] | {"absent"}:
            expected = [i for i, token in enumerate(flat) if token == stem]
            assert list(positions.singles(stem)) == expected, stem
            assert positions.get(stem, ()) == [
                *((i, i) for i in expected),
                *positions.joined(stem),
            ] or (not expected and not positions.joined(stem))
    # the joined compound "e-mail" spans its two parts; "e mail" is no compound
    text = adoc.positions("text")
    (e_first, e_second) = text.singles("e")
    assert text.joined("email") == [(e_first, e_first + 1)]
    assert text.has_joined(["talk", "email"]) and not text.has_joined(["talk"])
    assert text.get("absent") == ()
    with pytest.raises(KeyError):
        text["absent"]


@settings(max_examples=400, deadline=None)
@given(
    words=st.lists(st.sampled_from("abcd"), max_size=14),
    pair=st.sampled_from(["ab", "ba", "ac", "da"]),
    slop=st.one_of(st.none(), st.integers(0, 4)),
)
def test_near_decides_a_pair_as_a_scan_of_the_tokens(
    words: list[str], pair: str, slop: int | None
) -> None:
    """Two-word phrases and proximity give the answer the definition gives, or (a word
    seen twice) defer to the full search."""
    a, b = pair[0], pair[1]
    # Equal strings that are other objects count too (stems are interned, but no
    # caller should depend on it for a right answer).
    flat = ["".join(["w", w]) for w in words]
    at = [i for i, w in enumerate(words) if w == a]
    bt = [i for i, w in enumerate(words) if w == b]
    if slop is None:
        expected = any(j - i == 1 for i in at for j in bt)
    else:
        expected = any(abs(j - i) <= slop + 1 for i in at for j in bt)
    near = Positions(flat, dict).near(f"w{a}", f"w{b}", slop)
    if near is None:
        assert len(at) > 1 or len(bt) > 1
    else:
        assert near == expected


def test_near_defers_to_the_full_search_for_compounds() -> None:
    adoc = AnalyzedDoc(DOC, Analyzer("english"))
    text = adoc.positions("text")
    assert text.near("email", "said", None) is None  # "email" is the joined "e-mail"
    assert text.near("said", "1300", None) is True
    assert text.near("1300", "said", None) is False
    assert text.near("1300", "said", 0) is True
    assert text.near("lukasenka", "freed", 4) is False
    assert text.near("freed", "lukasenka", 5) is True


CHECKED_RULES = {
    1: "minsk AND talks",  # a second check on one stem
    2: "(freed OR released) AND lukasenka",  # a check on any of two stems
    3: "resum* AND minsk",  # a check on a prefix head
    4: "title:minsk",  # no second check
    5: "title:talks AND minsk",  # a check on a key of another field group
    6: '"e mail" AND talks',
    7: "-warsaw",  # nothing required: always checked
    8: "minsk AND warsaw",  # the second check fails
}


def test_every_sort_of_second_check_is_exact_and_removable() -> None:
    rules = {rule_id: compile_rule(query) for rule_id, query in CHECKED_RULES.items()}
    index = RuleIndex()
    for rule_id, rule in rules.items():
        index.add(rule_id, rule)
    assert [m.rule_id for m in index.match(DOC)] == [1, 2, 3, 4, 5, 6, 7]
    for gone in sorted(rules):
        index.remove(gone)
        del rules[gone]
        expected = [m for i, r in sorted(rules.items()) if (m := r.match(DOC, i))]
        assert index.match(DOC) == expected
    assert index.memory_keys() == 0
    assert all(not posting.packed for posting in index._postings.values())


def test_a_check_that_passes_by_hash_alone_still_needs_the_exact_test() -> None:
    """Hash collisions in the packed checks may add candidates, never matches."""
    index = RuleIndex()
    index.add(1, compile_rule("minsk AND warsaw"))
    assert index.match(DOC) == []
    # Post the rule once more with no check at all, as a colliding hash would.
    slot = index._slot_of[1]
    placed = index._place(compile_rule("minsk AND warsaw"))
    assert placed is not None
    (kind, group, text), *_ = placed[0]
    index._postings[(kind, group)].add(text, slot, None)
    assert index.match(DOC) == []


def test_freed_slots_are_reused_and_matches_stay_sorted_by_rule_id() -> None:
    index = RuleIndex()
    queries = {30: "minsk", 10: "talks", 20: "lukasenka"}
    for rule_id, query in queries.items():
        index.add(rule_id, compile_rule(query))
    index.remove(10)
    index.add(5, compile_rule("freed"))  # takes the slot rule 10 left
    index.add(30, compile_rule("warsaw"))  # replaced: no longer matches
    assert len(index) == 3 and len(index._ids) == 3
    assert [m.rule_id for m in index.match(DOC)] == [5, 20]
    index.remove(10)  # absent: nothing happens
    assert [m.rule_id for m in index.match(DOC)] == [5, 20]


@pytest.mark.parametrize(
    "text",
    [
        DOC.text,
        "MINSK and Minsk and minsk: THE E-Mail, U.S.-Led TALKS in Łódź",
        "İstanbul and ISTANBUL: the İ lowers to two characters",
    ],
)
def test_chunks_are_lower_cased_only_where_offsets_stay(text: str) -> None:
    analyzer = Analyzer("english")
    adoc = AnalyzedDoc(Document(text=text), analyzer)
    original = text.split()
    raws = adoc.raws("text")
    assert [len(r) for r in raws] == [len(r) for r in original]
    assert raws == ([r.lower() for r in original] if len(text.lower()) == len(text) else original)
    for raw, chunk in zip(raws, original, strict=True):
        assert analyzer.info[raw].pos_stems == analyzer.info[chunk].pos_stems
        assert analyzer.info[raw].words == analyzer.info[chunk].words


_TRICKY_CHUNKS = [
    *CHUNKS,
    "MINSK",
    "The",
    "the,",
    "İstanbul",
    "ISTANBUL.",
    "Straße",
    "e-Mail,",
    "(U.S.)",
    "1,300.",
    "don't",
    "Don’t",
    "a/b",
    "—",
    "«Lukašenka»",
    "x",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(_TRICKY_CHUNKS), max_size=25),
    st.lists(st.sampled_from([" ", "  ", "\n", "\t"]), min_size=25, max_size=25),
)
def test_fields_read_through_the_caches_equal_the_full_analysis(
    chunks: list[str], gaps: list[str]
) -> None:
    """Warm or cold, lowered or not: every position's stem, every word, every term."""
    text = "".join(chunk + gap for chunk, gap in zip(chunks, gaps, strict=False))
    shared = Analyzer("english")
    doc = Document(text=text)
    for adoc in (AnalyzedDoc(doc, shared), AnalyzedDoc(doc, shared)):  # cold, then warm
        reference = Analyzer("english")  # no cache shared with the reading under test
        original = text.split()
        flat = [stem for raw in original for stem in reference.info[raw].pos_stems]
        assert [stem for raw in adoc.raws("text") for stem in shared.info[raw].pos_stems] == flat
        positions = adoc.positions("text")
        for stem in {*flat, "absent"}:
            assert list(positions.singles(stem)) == [i for i, s in enumerate(flat) if s == stem]
        assert adoc.terms["text"] == {s for raw in original for s in reference.info[raw].stems}
        assert adoc.word_set("text") == {w for raw in original for w in reference.info[raw].words}
