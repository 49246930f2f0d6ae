"""The literal text a regex rule requires is read from the pattern, conservatively."""

from __future__ import annotations

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rules.literals import required_pieces
from bot.rules.syntax import re2_options

CASES = [
    ("belarus", ["belarus"]),
    ("Belarus", ["belarus"]),
    ("lukash(enko|enka)", ["lukash"]),
    ("belaru(s|sian)", ["belaru"]),
    ("minsk|warsaw", []),
    ("(?i)minsk", ["minsk"]),
    ("(?i:talks) resumed", ["talks", "resumed"]),
    ("prisoners? release", ["prisoner", "release"]),
    ("(?:prisoner) release", ["prisoner", "release"]),
    ("(?P<city>warsaw)", ["warsaw"]),
    ("(minsk)?x", ["x"]),
    ("(minsk)*", []),
    ("(minsk)+", ["minsk"]),
    ("x*y", ["y"]),
    ("mins?k", ["min", "k"]),
    ("a{0,3}bcd", ["bcd"]),
    ("minsk{2}abc", ["minsk", "abc"]),
    (r"\bminsk\b", ["minsk"]),
    (r"\p{L}+minsk", ["minsk"]),
    (r"\pLminsk", ["minsk"]),
    (r"\x41bc", ["bc"]),
    (r"\Qabc\E", []),
    (r"abc\.def", ["abc", "def"]),
    ("[abc]elarus", ["elarus"]),
    ("[]a]bc", ["bc"]),
    ("[[:alpha:]]xyz", ["xyz"]),
    ("a.b", ["a", "b"]),
    ("^minsk$", ["minsk"]),
    ("(" * 2000 + "x" + ")" * 2000, []),  # deeper than read: proves nothing, no crash
]


@pytest.mark.parametrize(("pattern", "pieces"), CASES, ids=[c[0][:30] for c in CASES])
def test_required_pieces(pattern: str, pieces: list[str]) -> None:
    re2.compile(pattern, re2_options())  # every case is a pattern rules accept
    assert required_pieces(pattern) == pieces


ATOMS = ["a", "b", "ab", "(", ")", "|", "?", "*", "+", "{2}", "{0,1}", "[ab]", ".", r"\.", "c"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(ATOMS), max_size=10), st.text(alphabet="abc.", max_size=12))
def test_every_match_holds_every_required_piece(atoms: list[str], text: str) -> None:
    """Whatever the pattern, a text it matches contains each piece said to be required."""
    pattern = "".join(atoms)
    try:
        regex = re2.compile(pattern, re2_options())
    except re2.error:
        return
    pieces = required_pieces(pattern)
    for match in regex.finditer(text):
        found = match.group().casefold()
        assert all(piece in found for piece in pieces), (pattern, text, pieces)
