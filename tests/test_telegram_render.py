"""Alerts as Telegram HTML: escaping, links, emphasis, and shortening without cut tags."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.telegram_render import (
    MESSAGE_LIMIT,
    clip,
    render_alert,
    render_digest,
    safe_href,
    split_text,
    telegram_length,
)
from bot.delivery.alert import Alert
from bot.models import Summary

HOSTILE = '<b>x</b> & <a href="tg://user?id=1">'
TELEGRAM_TAGS = {"b", "i", "a", "code"}


class TelegramHTML(HTMLParser):
    """Checks what Telegram's parser would: known tags only, each closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in TELEGRAM_TAGS, f"unexpected tag <{tag}>"
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"] or "")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(message: str) -> TelegramHTML:
    parser = TelegramHTML()
    parser.feed(message)
    parser.close()
    assert parser.stack == [], f"unclosed tags {parser.stack}"
    return parser


def alert(**changes: object) -> Alert:
    values: dict[str, object] = {
        "title": "Belarus leader dampens hopes for mass prisoner release",
        "link": "https://news.example/belarus-1",
        "source": "World News",
        "published": datetime(2026, 11, 29, 14, 5, tzinfo=UTC),
        "rule": 'Belarus AND "prisoner release"',
        "summary": "Lukashenko said he would not free political prisoners en masse.",
        "words": ("Belarus", "prisoner release"),
    }
    values.update(changes)
    if isinstance(values["summary"], str):  # given as text: one key point per line
        values["summary"] = Summary.from_text(values["summary"])
    return Alert(**values)  # type: ignore[arg-type]


def test_alert_has_linked_title_meta_rule_summary_and_link() -> None:
    message = render_alert(alert(also_reported_by=("Daily Wire",)))
    assert message.splitlines()[0] == (
        '🔔 <a href="https://news.example/belarus-1"><b>Belarus</b> leader dampens hopes '
        "for mass <b>prisoner release</b></a>"
    )
    assert "World News · 2026-11-29 14:05 UTC" in message
    assert "🔎 <code>Belarus AND &quot;prisoner release&quot;</code>" in message
    assert "Lukashenko said he would not free political prisoners en masse." in message
    assert "\nhttps://news.example/belarus-1\n" in message
    assert message.endswith("<i>also reported by Daily Wire</i>")
    parsed = parse(message)
    assert parsed.hrefs == ["https://news.example/belarus-1"]


POINTS = Summary(
    (
        "Lukashenko said Belarus would not free political prisoners en masse.",
        "Talks on a prisoner release with Lithuania stalled on Monday.",
        "Rights groups count 1,200 political prisoners.",
    )
)


def test_summary_is_bullet_points_in_story_order_with_matched_words_bold() -> None:
    message = render_alert(alert(summary=POINTS))
    assert (
        "\n\n• Lukashenko said <b>Belarus</b> would not free political prisoners en masse.\n"
        "• Talks on a <b>prisoner release</b> with Lithuania stalled on Monday.\n"
        "• Rights groups count 1,200 political prisoners.\n\n"
    ) in message
    parse(message)


def test_each_point_is_escaped_on_its_own_line() -> None:
    message = render_alert(alert(summary=Summary((HOSTILE, "<i>Belarus</i> & more")), link=None))
    bullets = [line for line in message.splitlines() if line.startswith("• ")]
    assert bullets == [
        f"• {html.escape(HOSTILE)}",
        "• &lt;i&gt;<b>Belarus</b>&lt;/i&gt; &amp; more",
    ]
    visible = "".join(parse(message).text)
    assert HOSTILE in visible and "<i>Belarus</i> & more" in visible


def test_a_long_summary_loses_its_last_points_first() -> None:
    points = Summary(tuple(f"Point {n} " + "about the prisoner talks " * 100 for n in range(3)))
    message = render_alert(alert(summary=points))
    assert telegram_length(message) <= MESSAGE_LIMIT
    assert f"• {points.points[0]}\n" in message  # the first point whole
    assert "• Point 1" in message and "• Point 2" not in message
    parse(message)


def test_digest_shows_the_summary_on_one_line() -> None:
    message = render_digest([alert(summary=POINTS, words=()), alert(title="Second", words=())])
    assert f"\n  {html.escape(POINTS.one_line())}\n" in message
    assert message.count("• ") == 2  # one per story, none per key point


def test_hostile_feed_text_arrives_as_literal_text() -> None:
    message = render_alert(
        alert(
            title=HOSTILE + " Belarus",
            summary=HOSTILE,
            source=HOSTILE,
            rule="Belarus",
            link='https://news.example/a"><b>x</b>',
            also_reported_by=(HOSTILE,),
        )
    )
    parsed = parse(message)
    visible = "".join(parsed.text)
    assert visible.count(HOSTILE) == 4  # title, source, summary, also reported by
    assert parsed.hrefs == ['https://news.example/a"><b>x</b>']  # quoted, not markup
    assert "tg://" not in "".join(parsed.hrefs)


@pytest.mark.parametrize(
    "link",
    [
        "tg://user?id=1",
        "javascript:alert(1)",
        "ftp://news.example/x",
        "",
        None,
        "https://" + "a" * 3000,
    ],
)
def test_only_sensible_web_links_become_links(link: str | None) -> None:
    message = render_alert(alert(link=link))
    assert parse(message).hrefs == []
    assert safe_href(link) is None


def test_emphasis_is_case_insensitive_and_whole_words() -> None:
    message = render_alert(
        alert(title="BELARUS and Belarusian news", summary="", words=("belarus",), link=None)
    )
    assert message.splitlines()[0] == "🔔 <b>BELARUS</b> and Belarusian news"


def test_a_long_summary_is_shortened_before_escaping() -> None:
    summary = ("Prisoners & <families> waited. " * 400).strip()
    message = render_alert(alert(summary=summary))
    assert telegram_length(message) <= MESSAGE_LIMIT
    parsed = parse(message)
    visible = "".join(parsed.text)
    assert "Belarus leader dampens hopes" in visible  # the title is untouched
    assert "…" in visible and "https://news.example/belarus-1" in visible
    assert telegram_length(message) > MESSAGE_LIMIT - 200  # shortened, not emptied


def test_a_huge_title_of_markup_characters_still_fits() -> None:
    message = render_alert(alert(title="&<>" * 5000, summary="&" * 5000))
    assert telegram_length(message) <= MESSAGE_LIMIT
    parse(message)


def test_emoji_count_twice() -> None:
    message = render_alert(alert(summary="😀" * 3000))
    assert telegram_length(message) <= MESSAGE_LIMIT
    # Each emoji is two UTF-16 units: about 2000 fit, not the ~4000 a code-point count allows.
    assert 1800 < message.count("😀") < MESSAGE_LIMIT // 2
    parse(message)


@settings(max_examples=150, deadline=None)
@given(
    title=st.text(alphabet="ab <>&\"'\n😀é", max_size=6000),
    summary=st.text(alphabet="ab <>&\"'\n😀é", max_size=9000),
    words=st.lists(st.sampled_from(["a", "ab", "b", "é", "<", "a&b"]), max_size=3),
    limit=st.integers(min_value=200, max_value=MESSAGE_LIMIT),
)
def test_any_alert_fits_and_is_well_formed(
    title: str, summary: str, words: list[str], limit: int
) -> None:
    message = render_alert(alert(title=title, summary=summary, words=tuple(words)), limit=limit)
    assert telegram_length(message) <= limit
    parse(message)


def test_digest_keeps_every_story_and_fits() -> None:
    alerts = [
        alert(
            title=f"Story {n}: " + "very long headline about prisoner release " * 8,
            link=f"https://news.example/{'x' * 150}/{n}",
            summary="A summary. " * 80,
        )
        for n in range(50)
    ]
    message = render_digest(alerts)
    assert telegram_length(message) <= MESSAGE_LIMIT
    visible = "".join(parse(message).text)
    assert message.startswith("📰 Digest: 50 stories")
    for n in range(50):
        assert f"Story {n}:" in visible


def test_small_digest_has_links_meta_and_summaries() -> None:
    message = render_digest([alert(), alert(title="Second <story>", words=())])
    parsed = parse(message)
    assert message.startswith("📰 Digest: 2 stories")
    assert len(parsed.hrefs) == 2
    assert "Second <story>" in "".join(parsed.text)
    assert message.count("World News · 2026-11-29 14:05 UTC") == 2
    assert "political prisoners" in message


def test_clip_prefers_word_boundaries() -> None:
    assert clip("short", 10) == "short"
    assert clip("the quick brown fox jumps", 18) == "the quick brown…"
    assert clip("abcdefghij", 5) == "abcd…"
    assert clip("abc", 0) == ""


def test_split_text_cuts_replies_at_line_ends() -> None:
    lines = [f"{n}. " + "Belarus AND prisoner " * 20 for n in range(1, 101)]
    text = "\n".join(lines)
    chunks = split_text(text)
    assert len(chunks) > 1
    assert all(telegram_length(c) <= MESSAGE_LIMIT for c in chunks)
    assert "\n".join(chunks) == text
    assert split_text("one line") == ["one line"]
    giant = split_text("x" * 10_000)
    assert "".join(giant) == "x" * 10_000 and all(len(c) <= MESSAGE_LIMIT for c in giant)


def test_escaping_matches_the_standard_library() -> None:
    # Telegram accepts &lt; &gt; &amp; &quot; and numeric entities: what html.escape makes.
    message = render_alert(alert(title="it's <fine>", words=(), summary="", link=None))
    assert html.escape("it's <fine>") in message
