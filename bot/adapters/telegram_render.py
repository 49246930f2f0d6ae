"""Alerts and digests as Telegram HTML, within Telegram's message length.

Every piece of feed text is escaped, so a title such as ``<b>x</b> & <a href="tg://…">``
arrives as literal text. Only http(s) links become ``href``; a feed cannot make the bot
link to ``tg://user?id=…`` (a mention) or anything else.

An alert shows its summary as bullet points ("• " lines: Telegram's HTML has no lists);
a digest shows each story's summary on one line.

Long messages are shortened *before* escaping and markup: the plain texts (summary first,
then title, rule, source) are clipped until the rendered HTML fits, so a tag or an entity
is never cut in half. The budget is measured on the HTML source in UTF-16 code units,
which is never shorter than the visible text Telegram counts.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.commands import messages as msg
from bot.commands.actions import DIGEST_ACTIONS, Action, alert_actions
from bot.delivery.alert import Alert, highlight, when
from bot.i18n import tr, trn

MESSAGE_LIMIT = 4096  # Telegram's limit for one text message
MAX_HREF = 2048  # longer links are shown as text only: no client opens them anyway
DIGEST_SUMMARY = 300  # characters of summary per story in a digest
ELLIPSIS = "…"


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one is near,
    ending with an ellipsis. Works on plain text, before any escaping."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.7:  # don't throw away a long tail just to end on a space
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def safe_href(link: str | None) -> str | None:
    """The link if a chat may follow it (http or https, sensible length), else None."""
    if not link or len(link) > MAX_HREF:
        return None
    try:
        scheme = urlsplit(link).scheme.lower()
    except ValueError:
        return None
    return link if scheme in ("http", "https") else None


def emphasise(text: str, words: Sequence[str]) -> str:
    """Escaped ``text`` with each of ``words`` wrapped in ``<b>``."""
    return "".join(
        f"<b>{html.escape(piece)}</b>" if bold else html.escape(piece)
        for piece, bold in highlight(text, words)
    )


def _link(href: str | None, inner_html: str) -> str:
    if href is None:
        return inner_html
    return f'<a href="{html.escape(href, quote=True)}">{inner_html}</a>'


@dataclass(frozen=True, slots=True)
class _Texts:
    """The plain texts of one alert that may be shortened; ``summary`` holds one key
    point per line, so that shortening it drops the last points first."""

    title: str
    summary: str
    rule: str
    source: str
    link_text: str
    also: str


def _texts(alert: Alert) -> _Texts:
    return _Texts(
        title=alert.title.strip() or tr(msg.UNTITLED),
        summary=alert.summary.to_text(),
        rule=alert.rule,
        source=alert.source,
        link_text=alert.link or "",
        also=", ".join(alert.also_reported_by),
    )


def _alert_html(alert: Alert, t: _Texts) -> str:
    href = safe_href(alert.link)
    lines = [f"🔔 {_link(href, emphasise(t.title, alert.words))}"]
    meta = " · ".join(html.escape(p) for p in (t.source, when(alert.published)) if p)
    if meta:
        lines.append(meta)
    if t.rule:
        lines.append(f"🔎 <code>{html.escape(t.rule)}</code>")
    if t.summary:
        lines.append("")
        lines.extend(f"• {emphasise(point, alert.words)}" for point in t.summary.split("\n"))
    if t.link_text:
        lines.append("")
        lines.append(html.escape(t.link_text))
    if t.also:
        lines.append(f"<i>{html.escape(tr(msg.ALSO_REPORTED).format(outlets=t.also))}</i>")
    return "\n".join(lines)


def _fit(
    render: Callable[[_Texts], str], texts: _Texts, field: str, limit: int
) -> tuple[_Texts, str | None]:
    """Shorten one field (binary search on its plain length) until ``render`` fits."""
    full: str = getattr(texts, field)
    low, high = 0, len(full)
    best: tuple[_Texts, str] | None = None
    while low <= high:
        middle = (low + high) // 2
        candidate = replace(texts, **{field: clip(full, middle)})
        rendered = render(candidate)
        if telegram_length(rendered) <= limit:
            best = (candidate, rendered)
            low = middle + 1
        else:
            high = middle - 1
    if best is None:
        return replace(texts, **{field: ""}), None
    return best


def render_alert(alert: Alert, limit: int = MESSAGE_LIMIT) -> str:
    """One alert as Telegram HTML: linked title, source and time, the rule, the summary's
    key points as bullets with matched words in bold, the link, and "also reported by"."""
    texts = _texts(alert)
    html_text = _alert_html(alert, texts)
    if telegram_length(html_text) <= limit:
        return html_text
    # Sacrifice the least important text first; the title goes only when nothing else helps.
    for field in ("summary", "also", "link_text", "title", "rule", "source"):
        texts, fitted = _fit(lambda t: _alert_html(alert, t), texts, field, limit)
        if fitted is not None:
            return fitted
    # Only markup is left (an absurd limit): still never a cut tag.
    return _alert_html(alert, texts)


def _digest_entry(alert: Alert, detail: int, title_limit: int) -> str:
    """One story of a digest; ``detail`` 2 = with summary, 1 = title and meta, 0 = title."""
    title = clip(alert.title.strip() or tr(msg.UNTITLED), title_limit)
    href = safe_href(alert.link) if detail > 0 else None
    entry = f"• {_link(href, emphasise(title, alert.words))}"
    if detail >= 1:
        meta = " · ".join(html.escape(p) for p in (alert.source, when(alert.published)) if p)
        if meta:
            entry += f"\n  {meta}"
    if detail >= 2 and alert.summary:
        line = clip(alert.summary.one_line(), DIGEST_SUMMARY)
        entry += f"\n  {emphasise(line, alert.words)}"
    return entry


def render_digest(alerts: Sequence[Alert], limit: int = MESSAGE_LIMIT) -> str:
    """Several alerts as one message. Every story keeps at least its title: the digest
    loses detail (summaries, then links) rather than stories, since all of them are
    marked delivered by this one message."""
    heading = trn(msg.DIGEST, len(alerts))
    header = "📰 " + html.escape(heading.format(count=len(alerts)))
    for detail in (2, 1):
        body = "\n\n".join(_digest_entry(a, detail, 300) for a in alerts)
        message = f"{header}\n\n{body}"
        if telegram_length(message) <= limit:
            return message
    # Plain titles sharing the space evenly ("• " and a newline each). Escaping may make a
    # title longer than its plain share, so shrink the share until the whole fits.
    share = max((limit - telegram_length(header) - 2) // max(len(alerts), 1) - 3, 8)
    while True:
        body = "\n".join(_digest_entry(a, 0, share) for a in alerts)
        message = f"{header}\n\n{body}"
        if telegram_length(message) <= limit or share <= 8:
            return message  # at 8 characters a title is all but gone: stop there
        share -= max(share // 10, 1)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Plain text cut into messages at line ends (a long ``rules`` list), never mid-line
    unless one line alone is too long."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while telegram_length(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            head = line[: limit // 2]  # UTF-16 may double the length: stay safely under
            chunks.append(head)
            line = line[len(head) :]
        candidate = f"{current}\n{line}" if current else line
        if telegram_length(candidate) > limit:
            chunks.append(current)
            candidate = line
        current = candidate
    if current or not chunks:
        chunks.append(current)
    return [c for c in chunks if c.strip()] or [ELLIPSIS]


def keyboard(actions: Sequence[Action]) -> InlineKeyboardMarkup | None:
    """Buttons under a message, one per row (their labels are long for a phone's width)."""
    if not actions:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(a.label, callback_data=a.data)] for a in actions]
    )


def alert_keyboard(alert: Alert) -> InlineKeyboardMarkup | None:
    """An alert's buttons: mute or stop its rule, show more of the story."""
    return keyboard(alert_actions(alert.rule_id, alert.alert_id))


def digest_keyboard() -> InlineKeyboardMarkup | None:
    """A digest's one button: mute the chat for a day."""
    return keyboard(DIGEST_ACTIONS)
