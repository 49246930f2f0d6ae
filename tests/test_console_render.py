"""The console adapter's text: key points as bullets, one line in a digest."""

from __future__ import annotations

import io

from bot.adapters.console import ConsoleAdapter, render
from bot.delivery.alert import Alert
from bot.models import Summary

ALERT = Alert(
    title="Belarus leader dampens hopes for mass prisoner release",
    link="https://news.example/belarus-1",
    source="World News",
    published=None,
    rule="Belarus",
    summary=Summary(("Belarus will not free prisoners en masse.", "Talks stalled on Monday.")),
    words=("Belarus",),
)


def test_alert_shows_key_points_as_bullets_with_matched_words_marked() -> None:
    lines = render(ALERT).splitlines()
    assert lines[3:5] == [
        "• *Belarus* will not free prisoners en masse.",
        "• Talks stalled on Monday.",
    ]


async def test_digest_shows_each_summary_on_one_line() -> None:
    out = io.StringIO()
    await ConsoleAdapter(out).send_digest("c1", [ALERT, ALERT])
    printed = out.getvalue()
    assert (
        printed.count("*Belarus* will not free prisoners en masse. Talks stalled on Monday.") == 2
    )
    assert "• " not in printed
