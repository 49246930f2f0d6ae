"""Every kind of bad watch rule is refused with its column and what was expected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rules import Document, RuleSettings, RuleSyntaxError, compile_rule

# (query, column, words the message must contain)
BAD = [
    # empty
    ("", 1, "the rule is empty"),
    ("   ", 1, "the rule is empty"),
    # dangling operators
    ("belarus AND", 9, "the rule ends right after AND"),
    ("belarus AND ", 9, "the rule ends right after AND"),
    ("AND belarus", 1, "AND has nothing before it"),
    ("OR belarus", 1, "OR has nothing before it"),
    ("belarus OR", 9, "the rule ends right after OR"),
    ("belarus OR OR minsk", 12, "OR has nothing after it"),
    ("belarus AND OR minsk", 13, "AND has nothing after it"),
    ("belarus NOT", 9, "the rule ends right after NOT"),
    ("NOT", 1, "the rule ends right after NOT"),
    ("(belarus AND)", 13, "AND has nothing after it"),
    ("belarus && ", 9, "the rule ends right after &&"),
    ("- belarus", 1, "- has nothing after it"),
    ("belarus -", 9, "- has nothing after it"),
    ("belarus + minsk", 9, "+ has nothing after it"),
    ("(belarus -)", 10, "- has nothing after it"),
    # parentheses
    ("(belarus", 1, "this ( is never closed"),
    ("((belarus)", 1, "this ( is never closed"),
    ("belarus (minsk OR kyiv", 9, "this ( is never closed"),
    ("belarus)", 8, "this ) has no matching ("),
    (")", 1, "this ) has no matching ("),
    ("(belarus))", 10, "this ) has no matching ("),
    ("()", 2, "the parentheses are empty"),
    ("belarus ( )", 11, "the parentheses are empty"),
    ("Belarus AND (", 13, "the rule ends right after ("),
    ("(", 1, "the rule ends right after ("),
    ("title:(", 7, "the rule ends right after ("),
    ("( OR belarus)", 3, "( has nothing after it"),
    ("(" * 33 + "x" + ")" * 33, 33, "nests ( ) and NOT more than 32 levels deep"),
    ("NOT " * 33 + "x", 129, "nests ( ) and NOT more than 32 levels deep"),
    ("-" * 33 + "x", 33, "nests ( ) and NOT more than 32 levels deep"),
    ("(" * 249 + "x" + ")" * 249, 33, "nests ( ) and NOT more than 32 levels deep"),
    # quotes and phrases
    ('"prisoner release', 1, "this quote is never closed"),
    ('belarus "prisoner', 9, "this quote is never closed"),
    ('"a" "b', 5, "this quote is never closed"),
    ('""', 1, "the phrase has no words"),
    ('" ... "', 1, "the phrase has no words"),
    ('"sanction* relief"', 10, "* does not work inside a phrase"),
    # proximity
    ("belarus~5", 8, "~ (proximity) only works after a quoted phrase"),
    ("belarus~", 8, "~ (proximity) only works after a quoted phrase"),
    ("~5", 1, "~ (proximity) only works after a quoted phrase"),
    ('"a b"~', 6, "~ must be followed by a number"),
    ('"a b"~x', 7, "~ must be followed by a number"),
    ('"a b"~500', 7, "~500 is too far apart"),
    # fields
    ("foo:bar", 1, "unknown field foo:"),
    ("belarus Subject:talks", 9, "unknown field Subject:"),
    ("title:", 1, "the rule ends right after title:"),
    ("title: ", 1, "the rule ends right after title:"),
    ("title:)", 7, "title: has nothing after it"),
    ("title:url:belta", 7, "title: cannot be followed by url:"),
    ("title:-belarus", 7, "title: cannot be followed by -"),
    ("title:(url:belta)", 8, "url: is inside another field"),
    # prefixes
    ("se*", 1, "the prefix se* is too short"),
    ("s*", 1, "the prefix s* is too short"),
    ("*", 1, "the prefix * is too short"),
    ("belarus ab*", 9, "the prefix ab* is too short"),
    ("sanc*ion", 5, "* is only allowed at the end of a word"),
    ("*sanction", 1, "* is only allowed at the end of a word"),
    ("sanction**", 9, "* is only allowed at the end of a word"),
    ("e-ma*", 1, "e-ma* is not a plain word before *"),
    ("u.s.*", 1, "u.s.* is not a plain word before *"),
    # words with nothing to search for
    ("&", 1, "& has no letters or digits to search for"),
    ("belarus ...", 9, "... has no letters or digits to search for"),
    # regular expressions
    ("/belaru(s/", 1, "invalid regular expression"),
    ("/a{2,1}/", 1, "invalid regular expression"),
    (r"/(a)\1/", 1, "invalid regular expression"),
    ("/(?=a)b/", 1, "invalid regular expression"),
    ("belarus /abc", 9, "this regular expression is never closed"),
    ("//", 1, "the regular expression is empty"),
    ("title://", 7, "the regular expression is empty"),
]


@pytest.mark.parametrize(("query", "column", "words"), BAD, ids=[b[0] or "<empty>" for b in BAD])
def test_bad_query_is_refused_with_column(query: str, column: int, words: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        compile_rule(query)
    err = caught.value
    assert err.column == column
    assert words in str(err)
    assert str(err).startswith(f"column {column}: ")
    # the column points into the rule, at the part that is wrong
    assert 1 <= err.column <= max(1, len(query))
    # the message always says what would have been accepted
    assert err.expected
    assert f"expected {err.expected}" in str(err)


def test_error_is_a_value_error_with_readable_parts() -> None:
    with pytest.raises(ValueError, match=r"^column 9: the rule ends right after AND — expected"):
        compile_rule("belarus AND")
    with pytest.raises(RuleSyntaxError) as caught:
        compile_rule("belarus AND")
    assert str(caught.value.problem) == "the rule ends right after AND"
    assert str(caught.value.expected) == 'a word, a "phrase" or ( after AND'
    assert str(caught.value.text) == str(caught.value)


def test_query_length_limit() -> None:
    compile_rule("a" * 500)
    with pytest.raises(RuleSyntaxError) as caught:
        compile_rule("a" * 501)
    assert caught.value.column == 501
    assert "the rule is 501 characters long, the limit is 500" in str(caught.value)


def test_query_length_limit_is_configurable() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        compile_rule("belarus minsk", RuleSettings(max_length=10))
    assert caught.value.column == 11


def test_term_limit_counts_words_prefixes_and_regexes() -> None:
    fifty = " ".join(f"w{i}" for i in range(50))
    compile_rule(fifty)
    with pytest.raises(RuleSyntaxError) as caught:
        compile_rule(fifty + " extra")
    assert caught.value.column == len(fifty) + 2
    assert "more than 50 terms" in str(caught.value)
    settings = RuleSettings(max_terms=3)
    compile_rule('"a b" c', settings)
    with pytest.raises(RuleSyntaxError, match="column 9: the rule has more than 3 terms"):
        compile_rule('"a b" c sanc*', settings)
    with pytest.raises(RuleSyntaxError, match="column 1: the rule has more than 3 terms"):
        compile_rule('"a b c d"', settings)
    with pytest.raises(RuleSyntaxError, match="column 10: the rule has more than 3 terms"):
        compile_rule("a b c OR /x/", settings)


def test_prefix_length_is_configurable() -> None:
    settings = RuleSettings(min_prefix=5)
    compile_rule("sanct*", settings)
    with pytest.raises(RuleSyntaxError, match="at least 5 letters before"):
        compile_rule("sanc*", settings)
    compile_rule("ab*", RuleSettings(min_prefix=2))


def test_prefix_length_counts_folded_letters() -> None:
    compile_rule("Łuk*")
    with pytest.raises(RuleSyntaxError, match="too short"):
        compile_rule("Łu*")


@pytest.mark.parametrize(
    "query",
    [
        "http://example.org/x",
        "10:30",
        'belarus "a b"~0',
        "title:(a OR b) -source:(c OR d)",
        r"/a\/b/",
        "a AND NOT b",
        "(a) (b)",
        "a||b",
    ],
)
def test_edge_queries_are_accepted(query: str) -> None:
    assert compile_rule(query).query == query


@pytest.mark.parametrize(
    "query",
    [
        "(" * 1000 + "x" + ")" * 1000,
        "NOT " * 2000 + "x",
        "-" * 5000 + "x",
        "title:(" + "(" * 999 + "x" + ")" * 1000,
    ],
)
def test_deep_nesting_is_a_clean_error_under_a_long_length_limit(query: str) -> None:
    """rules.max_length 10000 allows 1,000 levels of ( ): refused with a column, never a
    RecursionError."""
    with pytest.raises(RuleSyntaxError, match="more than 32 levels deep") as caught:
        compile_rule(query, RuleSettings(max_length=10_000, max_terms=10_000))
    assert 1 <= caught.value.column <= len(query)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    compile_rule("(" * 32 + "belarus" + ")" * 32)
    compile_rule("NOT " * 32 + "belarus")
    assert compile_rule("NOT NOT belarus").match(Document(title="Belarus")) is not None


PIECES = ["belarus", "AND", "OR", "NOT", "(", ")", "-", "+", '"', "title:", "*", "~", "/", " "]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_every_error_names_something_inside_the_rule(parts: list[str]) -> None:
    """Whatever the query, an error points at a column of it and names what is wrong."""
    query = "".join(parts)
    try:
        compile_rule(query)
    except RuleSyntaxError as err:
        assert 1 <= err.column <= max(1, len(query))
        message = str(err).removeprefix(f"column {err.column}: ")
        assert "  " not in message and not message.startswith(" ")
        for language in ("de", "ru"):  # every error is worded in each catalog too
            worded = err.text.render(language)
            assert str(err.column) in worded and worded != str(err)
