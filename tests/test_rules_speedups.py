"""The C part of the rule matcher and its Python twins agree exactly; CI runs the C one."""

from __future__ import annotations

import os
import sys
from struct import Struct
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rules import RuleIndex, compile_rule, document, speedups
from bot.rules import index as index_module
from bot.rules.analysis import Analyzer
from bot.rules.checkset import Checks, PyCheckSet
from bot.rules.document import AnalyzedDoc
from tests.test_rules_fastpaths import CHECKED_RULES, DOC

try:
    from bot.rules._speedups import CheckSet, near
    from bot.rules._speedups import singles as chunk_singles
except ImportError:  # pragma: no cover - an install without a C compiler
    CheckSet = near = chunk_singles = None  # type: ignore[assignment,misc]

PAIR = Struct("qq")
INT64 = st.integers(-(2**63), 2**63 - 1)


def test_the_matcher_uses_the_c_build_where_it_was_built() -> None:
    # `make test` installs with a C compiler at hand (as CI does): the build must be there.
    if os.environ.get("CI"):
        assert CheckSet is not None and speedups.IMPLEMENTATION == "C"
    assert ("C" if CheckSet is not None else "Python") == speedups.IMPLEMENTATION


needs_c = pytest.mark.skipif(CheckSet is None, reason="the C part is not built")


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.text(max_size=8), max_size=60),
    values=st.lists(INT64, max_size=20),
    salt=st.integers(0, 2**63 - 1),
    pairs=st.lists(st.lists(st.tuples(INT64, st.integers(0, 2**40)), max_size=8), max_size=12),
    reuse=st.integers(0, 10),
)
def test_c_and_python_select_the_same_slots(
    words: list[str],
    values: list[int],
    salt: int,
    pairs: list[list[tuple[int, int]]],
    reuse: int,
) -> None:
    made: list[Checks] = [CheckSet(), PyCheckSet()]
    held = set(values) | {hash(w) for w in words[::2]} | {hash(w) ^ salt for w in words[1::2]}
    # Some pairs check a value the set holds.
    held_list = sorted(held)
    buffers = [
        b"".join(
            PAIR.pack(
                held_list[(check + reuse) % len(held_list)] if held_list and i % 2 else check, slot
            )
            for i, (check, slot) in enumerate(group)
        )
        for group in pairs
    ]
    outs = []
    for checks in made:
        for value in values:
            checks.add(value)
        checks.add_hashes(words[::2])
        checks.add_hashes(words[1::2], salt)
        assert len(checks) == len(held)
        assert all(value in checks for value in held)
        out: set[int] = set()
        packed = {f"k{i}": buffer for i, buffer in enumerate(buffers)}
        asked = [f"k{i}" for i in range(0, len(buffers), 2)] + ["absent"]
        checks.select(packed, iter(asked), out)
        outs.append(out)
    expected = {
        slot for buffer in buffers[::2] for check, slot in PAIR.iter_unpack(buffer) if check in held
    }
    assert outs[0] == outs[1] == expected


@needs_c
def test_the_c_set_grows_past_its_first_table() -> None:
    checks = CheckSet()
    checks.add_hashes(range(50_000))
    assert len(checks) == 50_000
    assert all(n in checks for n in range(0, 50_000, 7))
    assert 50_000 not in checks and -1 not in checks
    assert 2**70 not in checks and "x" not in checks  # not int64: simply absent


@needs_c
def test_the_c_set_refuses_what_it_cannot_read() -> None:
    checks = CheckSet()
    with pytest.raises(ValueError, match="torn pair"):
        checks.select({"k": b"x" * 15}, ["k"], set())
    with pytest.raises(TypeError):
        checks.select({"k": b"x" * 16}, ["k"], [])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        checks.select({"k": 1}, ["k"], set())  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        checks.select({}, [[1]], set())  # type: ignore[list-item]  # unhashable key
    with pytest.raises(TypeError):
        checks.add_hashes([[1]])  # type: ignore[list-item]  # unhashable
    with pytest.raises(OverflowError):
        checks.add(2**64)
    with pytest.raises(TypeError):
        CheckSet(1)  # type: ignore[call-arg]


@pytest.mark.parametrize("implementation", ["C", "Python"])
def test_the_index_gives_the_same_matches_with_either(
    implementation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if implementation == "Python":
        monkeypatch.setattr(index_module, "new_checks", PyCheckSet)
    elif CheckSet is None:  # pragma: no cover
        pytest.skip("the C check set is not built")
    rules = {rule_id: compile_rule(query) for rule_id, query in CHECKED_RULES.items()}
    index = RuleIndex()
    for rule_id, rule in rules.items():
        index.add(rule_id, rule)
    expected = [m for i, r in sorted(rules.items()) if (m := r.match(DOC, i))]
    assert index.match(DOC) == expected
    assert [m.rule_id for m in expected] == [1, 2, 3, 4, 5, 6, 7]


@needs_c
def test_near_refuses_what_it_cannot_read() -> None:
    with pytest.raises(TypeError):
        near(("a", "b"), "a", "b", None, False)  # type: ignore[arg-type]  # not a list
    with pytest.raises(ValueError, match="negative"):
        near(["a", "b"], "a", "b", -1, False)
    with pytest.raises(TypeError):
        near(["a"], [1], "b", None, False)  # type: ignore[arg-type]  # unhashable key
    assert near([], "a", "b", 3, True) is False
    assert near(["a", 1, "b"], "a", "b", 1, False) is True  # any other token passes


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(["minsk", "talks", "belarus", "x"]), max_size=16),
    slop=st.one_of(st.none(), st.integers(0, 4)),
)
def test_near_by_identity_agrees_with_near_by_equality(words: list[str], slop: int | None) -> None:
    """Interned tokens and keys are compared by identity, others by equality: same answer."""
    interned = [sys.intern(w) for w in words]
    copies = ["".join(w) for w in words]  # equal strings, other objects
    for a, b in (("minsk", "talks"), ("talks", "minsk"), ("minsk", "belarus")):
        a, b = sys.intern(a), sys.intern(b)
        by_identity = near(interned, a, b, slop, True)
        assert by_identity == near(copies, a, b, slop, False)
        assert by_identity == near(interned, "".join(a), b, slop, True)  # key not interned


@needs_c
@pytest.mark.parametrize("field", ["title", "text", "url"])
def test_chunks_look_the_same_in_c_and_python(field: str) -> None:
    """The C pass over a field's chunks gives what the three Python passes give, for
    chunks seen before, met for the first time, and of several tokens."""
    seen = []
    for scan in (document._chunk_singles, None):
        with patch.object(document, "_chunk_singles", scan):
            tokens = AnalyzedDoc(DOC, Analyzer("english"))._fields[field]  # a fresh cache
            seen.append((tokens.singles, tokens.flat, tokens.terms, tokens.multi))
    assert seen[0] == seen[1]
    assert seen[0][1], field


@needs_c
def test_chunk_singles_refuses_a_bad_cache() -> None:
    with pytest.raises(TypeError, match="tuple"):
        chunk_singles(["a"], {"a": "not a tuple"})  # type: ignore[dict-item]
    with pytest.raises(KeyError):
        chunk_singles(["a"], {})
    with pytest.raises(TypeError):
        chunk_singles(("a",), {})  # type: ignore[arg-type]


@needs_c
def test_near_survives_a_token_that_changes_the_list() -> None:
    tokens: list[str] = []

    class Meddler(str):
        __hash__ = str.__hash__

        def __eq__(self, other: object) -> bool:
            tokens.clear()  # runs mid-scan, under the C loop
            return False

    tokens += [Meddler("a"), "a", "b"]
    assert near(tokens, "a", "b", 1, False) is False and tokens == []
