"""Alerts and replies as Slack Block Kit payloads. Pure: values in, JSON-ready dicts out.

Every piece of feed or user text is inert here: where markup is needed (the linked title,
bold matched words) the text is escaped (``&``, ``<``, ``>``, and the emphasis marks
``*``, ``_``, ``~``, backtick) and the mrkdwn object is ``verbatim`` so Slack does not
auto-link channel names or parse ``@here``; the summary's key points are a ``rich_text``
bulleted list, whose text elements Slack never parses; everywhere else it goes in
``plain_text`` objects, which Slack never parses either. Sizes stay within Block Kit
limits (3000 characters a text object, 150 a header, 10 context elements, 50 blocks),
cutting text with an ellipsis rather than letting Slack reject the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from bot.commands import messages as msg
from bot.commands.actions import DIGEST_ACTIONS, Action, Verb, alert_actions
from bot.delivery.alert import Alert, highlight, when
from bot.i18n import tr, trn

TEXT_MAX = 3000  # characters in one text object (section, context element)
HEADER_MAX = 150  # characters in a header block
BLOCKS_MAX = 50  # blocks in one message
FALLBACK_MAX = 3000  # top-level text: Slack allows 40k, notifications show far less
TITLE_MAX = 300  # a longer feed title is noise, not information
SUMMARY_MAX = 1500
DIGEST_SUMMARY_MAX = 280
URL_MAX = 2000  # longer links are shown as text, not linked
BUTTON_TEXT_MAX = 75  # characters of a button's label
ACTION_ID_PREFIX = "newsbot_"  # every button's action_id; the adapter listens for these
ELLIPSIS = "…"

Block = dict[str, Any]

_WHITESPACE = re.compile(r"\s+")
# Characters that would end or split a <url|label> sequence, or break it across lines.
_URL_UNSAFE = re.compile(r"[<>|\s\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Message:
    """What ``chat.postMessage`` gets: blocks, and the plain fallback for notifications."""

    text: str
    blocks: list[Block]


# Slack has no escape for its emphasis marks: ``*bold*``, ``_italic_``, ``~strike~`` and
# ```code``` in a feed's text would be formatted. Each mark becomes a look-alike Slack does
# not read as markup (∗ ˍ ∼ ˋ), so the text reads the same and formats nothing.
_EMPHASIS_MARKS = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})


def escape(text: str) -> str:
    """Make text inert in mrkdwn: ``&``, ``<``, ``>`` as entities, emphasis marks as
    look-alikes.

    After this, ``<!channel>``, ``<@U123>`` and ``<https://x|y>`` show as literal text, and
    ``*a*``, ``_a_``, ``~a~`` and backticks format nothing.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.translate(_EMPHASIS_MARKS)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def clip_escaped(text: str, limit: int) -> str:
    """``escape(text)`` cut to at most ``limit`` characters without splitting an entity."""
    out: list[str] = []
    used = 0
    for index, char in enumerate(text):
        piece = escape(char)
        reserve = 0 if index == len(text) - 1 else len(ELLIPSIS)
        if used + len(piece) + reserve > limit:
            out.append(ELLIPSIS)
            break
        out.append(piece)
        used += len(piece)
    return "".join(out)


def safe_url(url: str | None) -> str | None:
    """The URL in a form that can sit inside ``<url|label>``, or None if it must not be linked.

    Only http(s) links are linked; characters that would close or split the sequence are
    percent-encoded and ``&`` is escaped (Slack decodes ``&amp;`` back in the href).
    """
    if not url or len(url) > URL_MAX:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    encoded = _URL_UNSAFE.sub(lambda m: quote(m.group(0), safe=""), url.strip())
    return encoded.replace("&", "&amp;")


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces."""
    return _WHITESPACE.sub(" ", text).strip()


def plain(text: str, limit: int = TEXT_MAX) -> dict[str, Any]:
    """A ``plain_text`` object: shown exactly as given, never parsed, emoji codes left alone."""
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": False}


def mrkdwn(text: str) -> dict[str, Any]:
    """A ``mrkdwn`` object for text already escaped; ``verbatim`` stops auto-linking."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def emphasised(text: str, words: Sequence[str], limit: int) -> str:
    """Escaped mrkdwn of ``text`` with each of ``words`` in bold, at most ``limit`` long."""
    out: list[str] = []
    budget = limit
    for piece, bold in highlight(text, words):
        marks = 2 if bold else 0
        rendered = escape(piece)
        if len(rendered) + marks > budget:
            room = budget - marks
            if room >= 2:
                cut = clip_escaped(piece, room)
                out.append(f"*{cut}*" if bold else cut)
            elif budget >= 1:
                out.append(ELLIPSIS)
            break
        out.append(f"*{rendered}*" if bold else rendered)
        budget -= len(rendered) + marks
    return "".join(out)


def linked_title(alert: Alert, limit: int = TITLE_MAX) -> str:
    """``*<url|title>*`` (or ``*title*`` without a usable link), escaped."""
    title = clip_escaped(one_line(alert.title) or tr(msg.UNTITLED), limit)
    url = safe_url(alert.link)
    return f"*<{url}|{title}>*" if url else f"*{title}*"


def meta_line(alert: Alert) -> str:
    """``Source · 2026-11-29 14:05 UTC · by Author`` as plain text."""
    parts = [one_line(alert.source), when(alert.published)]
    if alert.author:
        parts.append(tr(msg.BY_AUTHOR).format(author=one_line(alert.author)))
    return " · ".join(part for part in parts if part)


def matched_words(alert: Alert) -> str | None:
    """``matched: *a*, *b*`` as escaped mrkdwn, or None when the rule matched no words."""
    words = list(dict.fromkeys(w for w in alert.words if w.strip()))
    if not words:
        return None
    listed = ", ".join(f"*{clip_escaped(one_line(w), 40)}*" for w in words[:10])
    return escape(tr(msg.MATCHED_LABEL)).replace("{words}", listed)


def rule_line(alert: Alert) -> str:
    """``Rule: QUERY · matched: a, b`` as escaped mrkdwn, matched words in bold."""
    line = escape(tr(msg.RULE_LABEL)).replace("{rule}", clip_escaped(one_line(alert.rule), 1200))
    matched = matched_words(alert)
    return f"{line} · {matched}" if matched else line


def link_line(alert: Alert) -> str | None:
    """The story's address as an escaped mrkdwn link, or None when it has none."""
    if not alert.link:
        return None
    url = safe_url(alert.link)
    shown = clip_escaped(one_line(alert.link), 200)
    return f"<{url}|{shown}>" if url else shown


def render_alert(alert: Alert) -> Message:
    """One alert: linked title, source and time, rule, the summary's key points as a
    bulleted list, link, "also reported by"."""
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn(linked_title(alert))},
    ]
    context: list[dict[str, Any]] = []
    meta = meta_line(alert)
    if meta:
        context.append(plain(meta))
    # The rule is the user's own text: plain, so its * and _ are not read as formatting.
    context.append(plain(tr(msg.RULE_LABEL).format(rule=one_line(alert.rule))))
    matched = matched_words(alert)
    if matched:
        context.append(mrkdwn(matched))
    blocks.append({"type": "context", "elements": context})
    summary = key_points_block(alert)
    if summary:
        blocks.append(summary)
    footer: list[dict[str, Any]] = []
    link = link_line(alert)
    if link:
        footer.append(mrkdwn(link))
    if alert.also_reported_by:
        footer.append(plain(also_reported(alert)))
    if footer:
        blocks.append({"type": "context", "elements": footer})
    buttons = actions_block(alert_actions(alert.rule_id, alert.alert_id))
    if buttons:
        blocks.append(buttons)
    return Message(text=fallback_text(alert), blocks=blocks)


def actions_block(actions: Sequence[Action]) -> Block | None:
    """Buttons as an ``actions`` block; each carries its action's data as its value and
    an ``action_id`` unique in the message (one button per verb)."""
    if not actions:
        return None
    elements = []
    for action in actions:
        button: Block = {
            "type": "button",
            "text": plain(action.label, BUTTON_TEXT_MAX),
            "action_id": ACTION_ID_PREFIX + action.verb.value,
            "value": action.data,
        }
        if action.verb is Verb.STOP_YES:
            button["style"] = "danger"
        elements.append(button)
    return {"type": "actions", "elements": elements}


def render_update(alert: Alert) -> Message:
    """A thread reply under an alert naming the outlets that reported it since."""
    text = also_reported(alert)
    return Message(
        text=clip_escaped(text, FALLBACK_MAX), blocks=[{"type": "section", "text": plain(text)}]
    )


def also_reported(alert: Alert) -> str:
    """``Also reported by A, B`` in the chat's language, as plain text."""
    return tr(msg.ALSO_REPORTED_LINE).format(outlets=", ".join(alert.also_reported_by))


def key_points_block(alert: Alert, limit: int = SUMMARY_MAX) -> Block | None:
    """The summary's key points as a bulleted ``rich_text`` list, matched words in bold,
    at most ``limit`` characters in all; None when the alert has no summary.

    Rich text elements are literal text: nothing in them is read as mrkdwn, a link or a
    mention, so feed text goes in unescaped and stays inert.
    """
    items: list[Block] = []
    budget = limit
    for point in alert.summary.points:
        if budget <= len(ELLIPSIS):
            break
        point = clip(point, budget)
        budget -= len(point)
        elements = [
            {"type": "text", "text": piece, "style": {"bold": True}}
            if bold
            else {"type": "text", "text": piece}
            for piece, bold in highlight(point, alert.words)
        ]
        items.append({"type": "rich_text_section", "elements": elements})
    if not items:
        return None
    return {
        "type": "rich_text",
        "elements": [{"type": "rich_text_list", "style": "bullet", "elements": items}],
    }


def fallback_text(alert: Alert) -> str:
    """The notification text: title, source and link, escaped, no markup."""
    parts = [one_line(alert.title) or tr(msg.UNTITLED), one_line(alert.source)]
    text = " — ".join(part for part in parts if part)
    if alert.link:
        text += f"\n{alert.link}"
    return clip_escaped(text, FALLBACK_MAX)


def digest_entry(alert: Alert, summary_max: int = DIGEST_SUMMARY_MAX) -> str:
    """One story of a digest as escaped mrkdwn: title, meta and rule, short summary."""
    lines = [linked_title(alert, 200)]
    meta = meta_line(alert)
    lines.append(escape(clip(meta, 300)) + (" · " if meta else "") + rule_line(alert))
    if summary_max and alert.summary:
        lines.append(emphasised(alert.summary.one_line(), alert.words, summary_max))
    if alert.also_reported_by:
        lines.append(escape(clip(also_reported(alert), 300)))
    return "\n".join(lines)


def _pack(entries: Iterable[str], limit: int) -> list[str]:
    """Join entries into as few texts of at most ``limit`` characters as possible."""
    packed: list[str] = []
    for entry in entries:
        entry = entry if len(entry) <= limit else entry[: limit - 1] + ELLIPSIS
        if packed and len(packed[-1]) + 2 + len(entry) <= limit:
            packed[-1] += "\n\n" + entry
        else:
            packed.append(entry)
    return packed


def render_digest(alerts: Sequence[Alert]) -> Message:
    """Several alerts in one message: a header, then the stories, packed into sections.

    Every alert is shown (the dispatcher marks them all sent): when there are too many for
    the block limit, summaries are dropped first, then the stories share sections.
    """
    count = len(alerts)
    header = trn(msg.NEW_STORIES, count).format(count=count)
    room = BLOCKS_MAX - 2  # the header, and the "mute all" button at the end
    sections = _pack((digest_entry(a) for a in alerts), TEXT_MAX)
    if len(sections) > room:
        sections = _pack((digest_entry(a, summary_max=0) for a in alerts), TEXT_MAX)
    blocks: list[Block] = [{"type": "header", "text": plain(header, HEADER_MAX)}]
    blocks.extend({"type": "section", "text": mrkdwn(s)} for s in sections[:room])
    buttons = actions_block(DIGEST_ACTIONS)
    if buttons:
        blocks.append(buttons)
    titles = "; ".join(one_line(a.title) for a in alerts)
    return Message(text=clip_escaped(f"{header}: {titles}", FALLBACK_MAX), blocks=blocks)


def render_reply(text: str, actions: Sequence[Action] = ()) -> Message:
    """A command reply: plain_text sections (never parsed), split at line ends, then the
    reply's buttons if it has any."""
    chunks: list[str] = []
    for line in text.splitlines() or [""]:
        line = clip(line, TEXT_MAX)
        if chunks and len(chunks[-1]) + 1 + len(line) <= TEXT_MAX:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    if len(chunks) > BLOCKS_MAX - 1:
        chunks = [*chunks[: BLOCKS_MAX - 2], ELLIPSIS]
    blocks: list[Block] = [{"type": "section", "text": plain(chunk)} for chunk in chunks]
    buttons = actions_block(actions)
    if buttons:
        blocks.append(buttons)
    return Message(text=clip_escaped(text, FALLBACK_MAX), blocks=blocks)


_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def to_plain_text(text: str) -> str:
    """Slack-formatted text a user typed back to what they see.

    ``<https://x.org|x.org>`` becomes ``https://x.org``, ``<#C1|news>`` becomes ``#news``,
    ``<@U1>`` becomes ``@U1``, and ``&amp;``/``&lt;``/``&gt;`` are decoded, so a rule
    ``watch AT&T`` or ``addfeed <https://…>`` reaches the command service as typed.
    """

    def replace(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("#"):
            return f"#{label}" if label else target
        if target.startswith(("@", "!")):
            return f"@{label}" if label else "@" + target[1:]
        return target

    converted = _SLACK_LINK.sub(replace, text)
    return converted.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
