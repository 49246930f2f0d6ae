"""Block Kit rendering: hostile feed text stays inert, sizes stay within Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.slack_render import (
    BLOCKS_MAX,
    HEADER_MAX,
    SUMMARY_MAX,
    TEXT_MAX,
    clip_escaped,
    emphasised,
    escape,
    render_alert,
    render_digest,
    render_reply,
    safe_url,
    to_plain_text,
)
from bot.delivery.alert import Alert
from bot.models import Summary

HOSTILE = "<!channel> <@U123> <https://evil.example|click> & <#C1|general> @here"


def make_alert(**overrides: Any) -> Alert:
    values: dict[str, Any] = {
        "title": "Belarus leader dampens hopes for mass prisoner release",
        "link": "https://news.example/story?id=1&src=rss",
        "source": "Example World",
        "published": datetime(2026, 11, 29, 14, 5, tzinfo=UTC),
        "rule": 'Belarus AND "prisoner release"',
        "summary": "Belarus will not free prisoners en masse, the leader said.",
        "words": ("Belarus", "prisoner", "release"),
    }
    values.update(overrides)
    if isinstance(values["summary"], str):  # given as text: one key point per line
        values["summary"] = Summary.from_text(values["summary"])
    return Alert(**values)


def list_items(block: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The text elements of each item of a rich_text bulleted list block."""
    assert block["type"] == "rich_text"
    (bullets,) = block["elements"]
    assert bullets["type"] == "rich_text_list" and bullets["style"] == "bullet"
    assert all(item["type"] == "rich_text_section" for item in bullets["elements"])
    return [item["elements"] for item in bullets["elements"]]


def texts(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every text object in the blocks (section text, context elements, headers)."""
    found: list[dict[str, Any]] = []
    for block in blocks:
        if block["type"] == "rich_text":
            found.extend(element for item in list_items(block) for element in item)
            continue
        if block["type"] == "actions":
            found.extend(button["text"] for button in block["elements"])
            continue
        if "text" in block:
            found.append(block["text"])
        found.extend(block.get("elements", []))
    return found


def assert_inert(text_object: dict[str, Any]) -> None:
    """Feed text cannot open a Slack control sequence except our own links."""
    if text_object["type"] in ("plain_text", "text"):
        return  # never parsed by Slack (rich text mentions are elements of other types)
    assert text_object["verbatim"] is True
    body = text_object["text"]
    for control in ("<!", "<@", "<#", "<https://evil"):
        assert control not in body


def assert_within_limits(blocks: list[dict[str, Any]]) -> None:
    assert 1 <= len(blocks) <= BLOCKS_MAX
    for block in blocks:
        if block["type"] == "rich_text":
            items = list_items(block)
            assert items and all(items)
            assert sum(len(e["text"]) for item in items for e in item) <= SUMMARY_MAX
            continue
        if block["type"] == "actions":
            assert 1 <= len(block["elements"]) <= 25
            assert all(1 <= len(b["text"]["text"]) <= 75 for b in block["elements"])
            assert all(len(b["value"]) <= 2000 for b in block["elements"])
            continue
        limit = HEADER_MAX if block["type"] == "header" else TEXT_MAX
        if "text" in block:
            assert 1 <= len(block["text"]["text"]) <= limit
        assert len(block.get("elements", [])) <= 10
        for element in block.get("elements", []):
            assert 1 <= len(element["text"]) <= TEXT_MAX


def test_alert_has_linked_title_meta_rule_summary_and_link() -> None:
    message = render_alert(make_alert())
    title, meta, summary, footer = message.blocks
    assert title["text"]["text"] == (
        "*<https://news.example/story?id=1&amp;src=rss|"
        "Belarus leader dampens hopes for mass prisoner release>*"
    )
    assert meta["elements"][0] == {
        "type": "plain_text",
        "text": "Example World · 2026-11-29 14:05 UTC",
        "emoji": False,
    }
    assert meta["elements"][1] == {
        "type": "plain_text",
        "text": 'Rule: Belarus AND "prisoner release"',
        "emoji": False,
    }
    assert meta["elements"][2] == {
        "type": "mrkdwn",
        "text": "matched: *Belarus*, *prisoner*, *release*",
        "verbatim": True,
    }
    assert list_items(summary) == [
        [
            {"type": "text", "text": "Belarus", "style": {"bold": True}},
            {"type": "text", "text": " will not free prisoners en masse, the leader said."},
        ]
    ]
    assert footer["elements"][0]["text"] == (
        "<https://news.example/story?id=1&amp;src=rss|https://news.example/story?id=1&amp;src=rss>"
    )
    assert message.text == (
        "Belarus leader dampens hopes for mass prisoner release — Example World\n"
        "https://news.example/story?id=1&amp;src=rss"
    )


def test_hostile_feed_text_is_inert_everywhere() -> None:
    alert = make_alert(
        title=HOSTILE,
        source=HOSTILE,
        summary=f"{HOSTILE} prisoner",
        author=HOSTILE,
        rule=HOSTILE,
        words=("<@U123>", "prisoner"),
        also_reported_by=(HOSTILE,),
    )
    message = render_alert(alert)
    for text_object in texts(message.blocks):
        assert_inert(text_object)
    assert "&lt;!channel&gt;" in message.blocks[0]["text"]["text"]
    # Rich text is literal: the summary needs no escaping, and has no mention elements.
    assert list_items(message.blocks[2]) == [
        [
            {"type": "text", "text": "<!channel> "},
            {"type": "text", "text": "<@U123>", "style": {"bold": True}},
            {"type": "text", "text": " <https://evil.example|click> & <#C1|general> @here "},
            {"type": "text", "text": "prisoner", "style": {"bold": True}},
        ]
    ]
    assert "<!channel>" not in message.text and "&lt;!channel&gt;" in message.text


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://x.example/a|b c>d", "https://x.example/a%7Cb%20c%3Ed"),
        ("http://x.example/?q=1&r=<2>", "http://x.example/?q=1&amp;r=%3C2%3E"),
        ("javascript:alert(1)", None),
        ("mailto:a@b.example", None),
        ("https:///no-host", None),
        ("", None),
        (None, None),
        ("https://x.example/" + "a" * 3000, None),
    ],
)
def test_safe_url(link: str | None, expected: str | None) -> None:
    assert safe_url(link) == expected


def test_unlinkable_link_is_shown_as_text() -> None:
    message = render_alert(make_alert(link="javascript:alert(1)"))
    assert message.blocks[0]["text"]["text"] == (
        "*Belarus leader dampens hopes for mass prisoner release*"
    )
    assert message.blocks[-1]["elements"][0]["text"] == "javascript:alert(1)"


def test_alert_without_optional_parts() -> None:
    message = render_alert(make_alert(link=None, published=None, summary="", words=()))
    assert [b["type"] for b in message.blocks] == ["section", "context"]
    assert message.blocks[1]["elements"] == [
        {"type": "plain_text", "text": "Example World", "emoji": False},
        {"type": "plain_text", "text": 'Rule: Belarus AND "prisoner release"', "emoji": False},
    ]


def test_summary_formatting_characters_stay_literal() -> None:
    summary = "Talks *continue* in _Minsk_ <!here> & elsewhere."
    message = render_alert(make_alert(summary=summary, words=("Vilnius",)))
    assert list_items(message.blocks[2]) == [[{"type": "text", "text": summary}]]


def test_summary_is_a_bulleted_list_of_key_points_in_order() -> None:
    points = Summary(
        (
            "Belarus will not free prisoners en masse, the leader said.",
            "Talks with Lithuania on a prisoner release stalled on Monday.",
            "Rights groups count 1,200 political prisoners.",
        )
    )
    message = render_alert(make_alert(summary=points))
    items = list_items(message.blocks[2])
    assert ["".join(e["text"] for e in item) for item in items] == list(points.points)
    bold = [e["text"] for item in items for e in item if e.get("style") == {"bold": True}]
    assert bold == ["Belarus", "prisoner", "release"]
    assert [b["type"] for b in message.blocks] == ["section", "context", "rich_text", "context"]


def test_a_huge_summary_keeps_its_first_points_within_the_cap() -> None:
    points = Summary(tuple(f"Point {n} " + "about the prisoner talks " * 40 for n in range(3)))
    items = list_items(render_alert(make_alert(summary=points)).blocks[2])
    shown = ["".join(e["text"] for e in item) for item in items]
    assert shown[0] == points.points[0]
    assert shown[-1].endswith("…")
    assert sum(len(point) for point in shown) <= SUMMARY_MAX


def test_rule_formatting_characters_stay_literal() -> None:
    message = render_alert(make_alert(rule="sanction* AND _x_ <!channel>"))
    assert message.blocks[1]["elements"][1] == {
        "type": "plain_text",
        "text": "Rule: sanction* AND _x_ <!channel>",
        "emoji": False,
    }


def test_also_reported_by_is_plain_text() -> None:
    message = render_alert(make_alert(also_reported_by=("Reuters", "BBC")))
    assert message.blocks[-1]["elements"][-1] == {
        "type": "plain_text",
        "text": "Also reported by Reuters, BBC",
        "emoji": False,
    }


def test_huge_alert_stays_within_limits() -> None:
    alert = make_alert(
        title="&" * 5000,
        summary=("prisoner & <release> " * 2000),
        source="S" * 5000,
        rule="r" * 5000,
        words=tuple(f"w{i}" for i in range(50)) + ("prisoner",),
        also_reported_by=tuple("R" * 100 for _ in range(100)),
    )
    message = render_alert(alert)
    assert_within_limits(message.blocks)
    assert len(message.text) <= 3000
    # The request Slack gets is JSON; make sure the payload serialises.
    json.dumps(message.blocks)


@given(
    st.text(max_size=400),
    st.lists(st.text(min_size=1, max_size=12), max_size=4),
    st.integers(min_value=0, max_value=300),
)
def test_emphasised_respects_the_limit_and_never_leaks_markup(
    text: str, words: list[str], limit: int
) -> None:
    rendered = emphasised(text, words, limit)
    assert len(rendered) <= limit
    assert "<" not in rendered and ">" not in rendered


@given(st.text(max_size=300), st.integers(min_value=1, max_value=200))
def test_clip_escaped_never_splits_an_entity(text: str, limit: int) -> None:
    clipped = clip_escaped(text, limit)
    assert len(clipped) <= limit
    if len(escape(text)) <= limit:
        assert clipped == escape(text)
    else:
        body = clipped.removesuffix("…")
        assert escape(text).startswith(body)


def test_digest_lists_every_alert_within_block_limits() -> None:
    alerts = [
        make_alert(title=f"Story {n} {HOSTILE}", summary="prisoner " * 200) for n in range(120)
    ]
    message = render_digest(alerts)
    assert message.blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "120 new stories", "emoji": False},
    }
    assert_within_limits(message.blocks)
    body = "\n".join(b["text"]["text"] for b in message.blocks[1:] if b["type"] == "section")
    assert message.blocks[-1]["type"] == "actions"  # "mute all", within the block limit
    for n in range(120):
        assert f"Story {n} " in body
    for text_object in texts(message.blocks):
        assert_inert(text_object)


def test_digest_of_one() -> None:
    message = render_digest([make_alert()])
    assert message.blocks[0]["text"]["text"] == "1 new story"
    assert message.blocks[1]["text"]["text"].startswith("*<https://news.example/story")
    assert "*Belarus* will not free" in message.blocks[1]["text"]["text"]


def test_digest_shows_the_key_points_on_one_line() -> None:
    points = Summary(("First <!here> point.", "Second point & more."))
    message = render_digest([make_alert(summary=points, words=())])
    lines = message.blocks[1]["text"]["text"].split("\n")
    assert lines[-1] == "First &lt;!here&gt; point. Second point &amp; more."


def test_reply_is_plain_text_split_into_sections() -> None:
    reply = "\n".join(f"{n}. <!channel> rule {'x' * 100}" for n in range(1, 101))
    message = render_reply(reply)
    assert all(b["text"]["type"] == "plain_text" for b in message.blocks)
    assert_within_limits(message.blocks)
    assert "\n".join(b["text"]["text"] for b in message.blocks) == reply
    assert "<!channel>" not in message.text


@pytest.mark.parametrize(
    ("typed", "plain"),
    [
        ("watch AT&amp;T &lt;merger&gt;", "watch AT&T <merger>"),
        (
            "addfeed <https://news.example/rss?a=1&amp;b=2>",
            "addfeed https://news.example/rss?a=1&b=2",
        ),
        ("addfeed <https://news.example|news.example>", "addfeed https://news.example"),
        ("watch <#C123|general> <@U42> <!here>", "watch #general @U42 @here"),
        ("watch <@U42|alice>", "watch @alice"),
        ('watch "prisoner release"~5', 'watch "prisoner release"~5'),
    ],
)
def test_to_plain_text(typed: str, plain: str) -> None:
    assert to_plain_text(typed) == plain


FORMATTING = "*bold* _it_ ~st~ `code` ```block```"


def test_feed_formatting_marks_format_nothing() -> None:
    alert = make_alert(
        title=f"Belarus {FORMATTING}",
        summary=f"Belarus {FORMATTING} said.",
        source=FORMATTING,
        author=FORMATTING,
        also_reported_by=(FORMATTING,),
    )
    for message in (render_alert(alert), render_digest([alert, alert])):
        for text_object in texts(message.blocks):
            if text_object.get("type") != "mrkdwn":
                continue  # plain_text and rich text are never parsed
            body = text_object["text"]
            assert not any(mark in body for mark in "_~`"), body
            # The only asterisks left are ours: around the link and the matched words.
            unmarked = body.replace("*<", "").replace(">*", "").replace("*Belarus*", "")
            unmarked = unmarked.replace("*prisoner*", "").replace("*release*", "")
            assert "*" not in unmarked.replace("matched: ", ""), body
        assert "*bold*" not in message.text and "`code`" not in message.text
    title = render_alert(alert).blocks[0]["text"]["text"]
    assert title == (
        "*<https://news.example/story?id=1&amp;src=rss|"
        "Belarus ∗bold∗ ˍitˍ ∼st∼ ˋcodeˋ ˋˋˋblockˋˋˋ>*"
    )
