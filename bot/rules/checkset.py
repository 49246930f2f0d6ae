"""A story's check hashes, and the index entries they let through.

The index posts a rule under one key with a second check: the hash of another key the
story must hold (see ``_Posting`` in ``bot.rules.index``). Per story, the hashes of its
keys go into one ``CheckSet``; ``select`` keeps the slots of the (check, slot) pairs
under the keys the story hit whose check it holds.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from itertools import compress, repeat
from operator import xor


class CheckSet:
    """A set of 64-bit values: hashes of a story's keys."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: set[int] = set()

    def add(self, value: int) -> None:
        """Adds one value."""
        self._values.add(value)

    def add_hashes(self, objects: Iterable[Hashable], salt: int = 0) -> None:
        """Adds ``hash(o) ^ salt`` for each object."""
        hashes = map(hash, objects)
        self._values.update(map(xor, hashes, repeat(salt)) if salt else hashes)

    def select(self, packed: dict[str, bytes], keys: Iterable[str], out: set[int]) -> None:
        """Adds to ``out`` the slot of every pair under ``keys`` whose check is held.

        Args:
            packed: Key -> its (check, slot) pairs as native int64 values.
            keys: The story's keys of the posting's kind and field group.
            out: Where the selected slots go.
        """
        hits = packed.keys() & keys
        pairs = memoryview(b"".join(map(packed.__getitem__, hits))).cast("q")
        out.update(compress(pairs[1::2], map(self._values.__contains__, pairs[0::2])))

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __len__(self) -> int:
        return len(self._values)
