"""A chat's time zone: IANA names (``Europe/Minsk``) checked against the zone database."""

from __future__ import annotations

import difflib
import zoneinfo
from datetime import UTC, datetime, tzinfo
from functools import cache

DEFAULT = "UTC"


class UnknownZone(ValueError):
    """A name that is no IANA time zone; ``suggestions`` holds close names."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        super().__init__(f"unknown time zone {name!r}")
        self.name = name
        self.suggestions = suggestions


@cache
def _names() -> dict[str, str]:
    """Lower-cased zone name -> its proper spelling."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def parse_zone(text: str) -> str:
    """The IANA zone ``text`` names, spelled properly (``europe/minsk`` -> ``Europe/Minsk``).

    Raises:
        UnknownZone: no such zone; carries up to three close names to suggest.
    """
    wanted = "_".join(text.strip().split())
    names = _names()
    found = names.get(wanted.lower())
    if found is not None:
        return found
    close = difflib.get_close_matches(wanted.lower(), list(names), n=3, cutoff=0.6)
    # A bare city ("Minsk") matches the end of its zone's name.
    tails = [n for low, n in names.items() if low.rsplit("/", 1)[-1] == wanted.lower()]
    suggestions = list(dict.fromkeys([*tails, *(names[c] for c in close)]))[:3]
    raise UnknownZone(text.strip(), suggestions)


def zone(name: str | None) -> tzinfo:
    """The tzinfo of a stored zone name; UTC for none (or a name the database lost)."""
    if not name or name == DEFAULT:
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def local_label(moment: datetime) -> str:
    """``2026-11-29 17:05 +03`` style: the time as its zone shows it, with the zone's
    abbreviation (``CET``, ``UTC``) or, for zones without one, its offset (``UTC+03``)."""
    abbreviation = moment.tzname() or "UTC"
    if abbreviation[:1] in "+-":
        abbreviation = "UTC" + abbreviation
    return f"{moment:%Y-%m-%d %H:%M} {abbreviation}"
