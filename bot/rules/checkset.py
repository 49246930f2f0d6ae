"""A story's check hashes, and the index entries they let through.

The index posts a rule under one key with a second check: the hash of another key the
story must hold (see ``_Posting`` in ``bot.rules.index``). Per story, the hashes of its
keys go into one ``CheckSet``; ``select`` keeps the (check, slot) pairs of the keys the
story hit whose check it holds.

It is the loop of the presearcher that touches the most values per story, so it comes in
C where built (``bot.rules.speedups``): there the values are plain 64-bit words, where
Python makes and frees an int object for each. Without the build, the same in Python
below; the two agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from itertools import compress, repeat
from operator import xor
from typing import Protocol

from bot.rules.speedups import compiled


class Checks(Protocol):
    """A set of 64-bit values: hashes of a story's keys."""

    def add(self, value: int) -> None:
        """Adds one value."""

    def add_hashes(self, objects: Iterable[Hashable], salt: int = 0) -> None:
        """Adds ``hash(o) ^ salt`` for each object."""

    def select(self, packed: dict[str, bytes], keys: Iterable[str], out: set[int]) -> None:
        """Adds to ``out`` the slot of every pair under ``keys`` whose check is held;
        ``packed`` maps a key to its native int64 (check, slot) pairs."""

    def __contains__(self, value: object) -> bool: ...

    def __len__(self) -> int: ...


class PyCheckSet:
    """``Checks`` in Python, for an install without the C build."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: set[int] = set()

    def add(self, value: int) -> None:
        self._values.add(value)

    def add_hashes(self, objects: Iterable[Hashable], salt: int = 0) -> None:
        hashes = map(hash, objects)
        self._values.update(map(xor, hashes, repeat(salt)) if salt else hashes)

    def select(self, packed: dict[str, bytes], keys: Iterable[str], out: set[int]) -> None:
        hits = packed.keys() & keys
        pairs = memoryview(b"".join(map(packed.__getitem__, hits))).cast("q")
        out.update(compress(pairs[1::2], map(self._values.__contains__, pairs[0::2])))

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __len__(self) -> int:
        return len(self._values)


# A new, empty set of a story's check hashes.
new_checks: Callable[[], Checks] = compiled.CheckSet if compiled is not None else PyCheckSet
