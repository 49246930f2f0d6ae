"""Time zones, quiet hours and digest slots: pure, with fixed clocks (DST included)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.alert import Alert, when
from bot.delivery.digest import next_slot
from bot.delivery.quiet import QuietHours, parse_quiet, stored_quiet
from bot.delivery.schedule import for_chat, not_before
from bot.delivery.zones import UnknownZone, parse_zone, zone
from bot.models import Chat, Summary

BERLIN = ZoneInfo("Europe/Berlin")  # CET +1, CEST +2 from 2026-03-29 01:00 UTC
MINSK = ZoneInfo("Europe/Minsk")  # +3 all year


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def chat(**values: object) -> Chat:
    fields: dict[str, object] = {
        "id": 1,
        "platform": "console",
        "chat_id": "room",
        "title": None,
        "subscribed": True,
        "active": True,
        "inactive_reason": None,
        "muted_until": None,
        "digest": "off",
    }
    return Chat(**{**fields, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Europe/Minsk", "Europe/Minsk"),
        ("europe/minsk", "Europe/Minsk"),
        ("  America/New York ", "America/New_York"),
        ("UTC", "UTC"),
    ],
)
def test_zone_names(text: str, name: str) -> None:
    assert parse_zone(text) == name


@pytest.mark.parametrize(
    ("text", "suggested"),
    [
        ("Europe/Minks", "Europe/Minsk"),
        ("Minsk", "Europe/Minsk"),
        ("America/New_Yrok", "America/New_York"),
    ],
)
def test_wrong_zone_is_refused_with_close_names(text: str, suggested: str) -> None:
    with pytest.raises(UnknownZone) as caught:
        parse_zone(text)
    assert suggested in caught.value.suggestions
    assert len(caught.value.suggestions) <= 3


def test_nonsense_zone_has_no_suggestions() -> None:
    with pytest.raises(UnknownZone) as caught:
        parse_zone("qqqqqqqqqqqq")
    assert caught.value.suggestions == []


def test_unknown_stored_zone_reads_as_utc() -> None:
    assert zone("Nowhere/Land") is UTC
    assert zone(None) is UTC


def test_times_show_in_the_zone_given() -> None:
    moment = utc(2026, 11, 29, 14, 5)
    assert when(moment) == "2026-11-29 14:05 UTC"
    assert when(moment.astimezone(MINSK)) == "2026-11-29 17:05 UTC+03"
    assert when(moment.astimezone(BERLIN)) == "2026-11-29 15:05 CET"


def test_daily_digest_keeps_local_time_across_dst() -> None:
    # Before the spring change 08:00 in Berlin is 07:00 UTC; after it, 06:00 UTC.
    assert next_slot("daily 08:00", utc(2026, 3, 28, 9, 0), BERLIN) == utc(2026, 3, 29, 6, 0)
    assert next_slot("daily 08:00", utc(2026, 3, 27, 9, 0), BERLIN) == utc(2026, 3, 28, 7, 0)
    # And back in autumn (2026-10-25 01:00 UTC).
    assert next_slot("daily 08:00", utc(2026, 10, 24, 9, 0), BERLIN) == utc(2026, 10, 25, 7, 0)
    # Later the same local day, then the next day.
    assert next_slot("daily 08:00", utc(2026, 3, 29, 5, 59), BERLIN) == utc(2026, 3, 29, 6, 0)
    assert next_slot("daily 08:00", utc(2026, 3, 29, 6, 0), BERLIN) == utc(2026, 3, 30, 6, 0)


def test_digest_slot_in_utc_is_unchanged() -> None:
    assert next_slot("daily 07:30", utc(2026, 1, 1, 8, 0)) == utc(2026, 1, 2, 7, 30)
    assert next_slot("hourly", utc(2026, 1, 1, 8, 10)) == utc(2026, 1, 1, 9, 0)
    assert next_slot("off", utc(2026, 1, 1, 8, 10)) == utc(2026, 1, 1, 8, 10)


def test_hourly_digest_follows_half_hour_zones() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # +05:30
    assert next_slot("hourly", utc(2026, 1, 1, 8, 10), kolkata) == utc(2026, 1, 1, 8, 30)


@pytest.mark.parametrize(
    ("text", "quiet"),
    [
        ("22:00-07:00", QuietHours(time(22), time(7))),
        ("22:00 - 7:00 hold", QuietHours(time(22), time(7), hold=True)),
        ("13:15-14:00 silent", QuietHours(time(13, 15), time(14))),
        ("OFF", None),
    ],
)
def test_quiet_parsing(text: str, quiet: QuietHours | None) -> None:
    assert parse_quiet(text) == quiet
    if quiet is not None:
        assert stored_quiet(str(quiet)) == quiet


@pytest.mark.parametrize(
    "text", ["", "22-07", "25:00-07:00", "22:00-07:60", "07:00-07:00", "22:00-07:00 loud"]
)
def test_quiet_refuses_bad_spans(text: str) -> None:
    with pytest.raises(ValueError, match="quiet HH:MM-HH:MM"):
        parse_quiet(text)


def test_quiet_span_across_midnight_in_local_time() -> None:
    quiet = QuietHours(time(22), time(7))
    assert quiet.covers(utc(2026, 6, 1, 19, 0), MINSK)  # 22:00 Minsk
    assert quiet.covers(utc(2026, 6, 1, 3, 59), MINSK)  # 06:59
    assert not quiet.covers(utc(2026, 6, 1, 4, 0), MINSK)  # 07:00
    assert not quiet.covers(utc(2026, 6, 1, 18, 59), MINSK)
    assert quiet.ends_after(utc(2026, 6, 1, 19, 0), MINSK) == utc(2026, 6, 2, 4, 0)
    assert quiet.ends_after(utc(2026, 6, 2, 1, 0), MINSK) == utc(2026, 6, 2, 4, 0)
    day = QuietHours(time(12), time(13))
    assert day.covers(utc(2026, 6, 1, 9, 30), MINSK)
    assert not day.covers(utc(2026, 6, 1, 10, 0), MINSK)


def test_held_alerts_wait_for_the_end_of_quiet_hours_across_dst() -> None:
    berlin = chat(timezone="Europe/Berlin", quiet="22:00-07:00 hold")
    # 23:30 CET on the night of the spring change: held until 07:00 CEST = 05:00 UTC.
    assert not_before(berlin, utc(2026, 3, 28, 22, 30)) == utc(2026, 3, 29, 5, 0)
    # Outside quiet hours: at once.
    assert not_before(berlin, utc(2026, 3, 30, 12, 0)) == utc(2026, 3, 30, 12, 0)
    # Silent quiet hours do not hold.
    silent = chat(timezone="Europe/Berlin", quiet="22:00-07:00")
    assert not_before(silent, utc(2026, 3, 28, 22, 30)) == utc(2026, 3, 28, 22, 30)
    # A digest slot inside held hours moves to their end.
    digest = chat(timezone="Europe/Minsk", quiet="22:00-07:00 hold", digest="daily 06:00")
    assert not_before(digest, utc(2026, 6, 1, 12, 0)) == utc(2026, 6, 2, 4, 0)


def test_alert_for_chat_is_local_and_silent_in_quiet_hours() -> None:
    alert = Alert("T", None, "S", utc(2026, 6, 1, 19, 30), "rule", Summary(("x",)))
    minsk = chat(timezone="Europe/Minsk", quiet="22:00-07:00")
    night = for_chat(alert, minsk, utc(2026, 6, 1, 20, 0))
    assert night.silent and when(night.published) == "2026-06-01 22:30 UTC+03"
    day = for_chat(alert, minsk, utc(2026, 6, 1, 12, 0))
    assert not day.silent
    assert not for_chat(alert, chat(), utc(2026, 6, 1, 20, 0)).silent
