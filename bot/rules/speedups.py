"""The rule matcher's C part, where it was built.

``bot/rules/_speedups.c`` holds the loops of a story's match that touch hundreds of
values each: the index's check set (``bot.rules.checkset``), a field's chunks looked up
in the chunk cache (``_Tokens`` in ``bot.rules.document``) and the two-word scan of
phrases and proximity (``Positions.near`` there). ``pip install`` builds it where a C
compiler is present; without it, the Python twin of each runs, giving the same
matches, slower.
"""

from __future__ import annotations

from types import ModuleType

compiled: ModuleType | None
try:
    from bot.rules import _speedups as compiled
except ImportError:  # pragma: no cover - only an install without a C compiler
    compiled = None

IMPLEMENTATION = "C" if compiled is not None else "Python"
