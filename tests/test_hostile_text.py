"""Feed text is inert in every rendering, digests included: no markup, no mention, no link
but the story's own."""

from __future__ import annotations

from bot.adapters.telegram_render import render_digest
from tests.test_telegram_render import HOSTILE, alert, parse


def test_hostile_feed_text_in_a_telegram_digest_is_literal() -> None:
    stories = [
        alert(title=HOSTILE + " Belarus", summary=HOSTILE, source=HOSTILE, author=HOSTILE),
        alert(title="Belarus", summary="Belarus " + HOSTILE, link='https://n.example/"><b>'),
    ]
    parsed = parse(render_digest(stories))
    visible = "".join(parsed.text)
    assert (
        visible.count(HOSTILE) >= 3
    )  # title, source and summary of the first, summary of the second
    assert parsed.hrefs == ["https://news.example/belarus-1", 'https://n.example/"><b>']
