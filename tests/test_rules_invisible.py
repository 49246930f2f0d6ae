"""Invisible and decomposed characters do not hide a word from a rule, in a story or in
the rule itself; highlights still cover the word as written."""

from __future__ import annotations

import pytest

from bot.rules import Document, RuleIndex, compile_rule

# (rule, story title, the part of the title the highlight must cover)
CASES = [
    ("belarus", "Protests in be\u0301larus", "be\u0301larus"),  # decomposed accent
    ("belarus", "Protests in Bel\u00adarus today", "Bel\u00adarus"),  # soft hyphen
    ("belarus", "Protests in Bel\u200barus", "Bel\u200barus"),  # zero-width space
    ("belarus", "Protests in Bel\u200carus", "Bel\u200carus"),  # zero-width non-joiner
    ("belarus", "Protests in Bel\u2060arus", "Bel\u2060arus"),  # word joiner
    ("belarus", "\ufeffBelarus votes", "Belarus"),  # byte-order mark, not highlighted
    ("belarus", "(Bel\u00adarus),", "Bel\u00adarus"),  # wrapped in punctuation
    ("lukašenka", "Lukas\u030cenka speaks", "Lukas\u030cenka"),  # decomposed caron
    ("Lukashenko", "Luka\u00adshen\u00adko speaks", "Luka\u00adshen\u00adko"),
    ('"prisoner release"', "mass prisoner re\u00adlease", "prisoner re\u00adlease"),
    ("bel\u00adarus", "Belarus votes", "Belarus"),  # in the rule
    ("be\u0301larus", "Belarus votes", "Belarus"),
    ("rele*", "prisoner re\u00adlease", "re\u00adlease"),  # a prefix
    ("re\u00adle*", "prisoner release", "release"),
    ("/belarus/", "Protests in Bel\u00adarus", "Bel\u00adarus"),  # a regex
    ("/belarus/", "Protests in be\u0301larus", "be\u0301larus"),
    ("e-mail", "an e-\u200bmail scam", "e-\u200bmail"),
    ("ｂｅｌａｒｕｓ", "Belarus votes", "Belarus"),  # full-width letters (NFKC)
]


@pytest.mark.parametrize(("query", "title", "word"), CASES, ids=[repr(c[1]) for c in CASES])
def test_invisible_characters_do_not_hide_a_word(query: str, title: str, word: str) -> None:
    rule = compile_rule(query)
    doc = Document(title=title)
    found = rule.match(doc, rule_id=1)
    assert found is not None
    start = title.index(word)
    assert found.spans == {"title": [(start, start + len(word))]}
    index = RuleIndex()
    index.add(1, rule)
    assert index.match(doc) == [found]


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("belarus", "Bel arus"),  # a real space still splits words
        ('"bel arus"', "Bel\u00adarus"),
        ("belarus", "Belorussia"),
    ],
)
def test_visible_differences_still_count(query: str, title: str) -> None:
    assert compile_rule(query).match(Document(title=title)) is None
