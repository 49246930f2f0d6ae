"""Platform-free chat commands: a command value in, a reply value out.

Adapters build a :class:`Caller` from an update, parse the text into a
:class:`~bot.commands.parse.Command`, call :meth:`CommandService.handle`, and render the
:class:`Reply` (plain text: the adapter escapes it for its platform).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial

from bot.commands import messages as msg
from bot.commands.actions import Action, Verb
from bot.commands.parse import Attachment, Command
from bot.config import Settings, parse_duration
from bot.delivery import outbox
from bot.delivery.digest import parse_digest
from bot.delivery.quiet import QuietHours, parse_quiet, stored_quiet
from bot.delivery.schedule import not_before
from bot.delivery.zones import UnknownZone, local_label, parse_zone, zone
from bot.errors import FeedError
from bot.feeds.discover import find_feed
from bot.feeds.fetch import Fetcher
from bot.feeds.opml import MAX_BYTES as OPML_MAX_BYTES
from bot.feeds.opml import OpmlError, OpmlFeed, parse_opml, render_opml, too_large
from bot.feeds.parse import parse_feed
from bot.i18n import DEFAULT, LANGUAGES, say, supported, tr, trn, use
from bot.models import Chat, Feed, OutboxStatus, Rule, StoredStory
from bot.redact import Redactor
from bot.rulebook import RuleBook, story_document
from bot.rules import CompiledRule, RuleSyntaxError
from bot.store import LimitReached, Store, utcnow
from bot.summarize.clip import clip_text

log = logging.getLogger(__name__)

# Commands anyone in a chat may use; the rest change the chat and need an admin in groups.
READ_ONLY = frozenset({"start", "help", "rules", "feeds", "status", "test", "export"})
# ``language`` with no argument only shows the language; it is checked in the command.
MUTE_BUTTON = timedelta(days=1)  # how long the mute buttons mute
MORE_CHARS = 1500  # characters of story text "Show more" gives
# Feeds of one import checked at once (each may take a fetch or two).
IMPORT_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a command, and where.

    ``may_edit`` answers whether this user may change the chat's settings (the adapter
    knows: a Telegram chat admin, a Slack user allowed by config). None means yes.
    """

    platform: str
    chat_id: str
    user_id: str | None = None
    chat_title: str | None = None
    may_edit: Callable[[], Awaitable[bool]] | None = None
    thread_id: str | None = None  # the forum topic (Telegram) the command was sent in
    # That topic's name as the message shows it (the name it was created with).
    topic_name: str | None = None
    language: str | None = None  # the user's app language (Telegram's language_code)


# The caller of the command being handled, for the few commands that need more than the
# chat (watch remembers the topic it was sent in).
_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("caller")


@dataclass(frozen=True, slots=True)
class Reply:
    """Plain text to send back. ``private`` replies (usage hints, errors) go only to the
    caller where the platform can do that (Slack ephemeral messages)."""

    text: str
    private: bool = False
    actions: tuple[Action, ...] = ()  # buttons to show under the reply
    # A short answer to a button press that concerns only the presser (a refusal, "that
    # rule is gone", "already muted"): Telegram shows it as a toast, Slack ephemerally.
    brief: bool = False
    file: Attachment | None = None  # sent along (Telegram document, Slack file upload)


class CommandService:
    """Runs chat commands against the store and the rule index."""

    def __init__(
        self,
        store: Store,
        rulebook: RuleBook,
        settings: Settings,
        fetcher: Fetcher,
        on_feed_added: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.rulebook = rulebook
        self.settings = settings
        self.fetcher = fetcher
        self.on_feed_added = on_feed_added
        self._redact = Redactor(settings.secrets)

    async def answer(self, caller: Caller, command: Command) -> Reply:
        """Run one command and return the reply to show; never raises.

        The one funnel every adapter calls: a command that fails in a way nobody foresaw
        (a bug, a database that went away) is logged with its traceback and answered with
        a short apology, so the chat gets an answer and the adapter keeps reading commands.
        Every reply, and the file sent with it, has configured secrets and URL passwords
        masked.
        """
        try:
            reply = await self.handle(caller, command)
        except Exception:
            log.exception(
                "command %s failed",
                command.name,
                extra={"chat": caller.chat_id, "platform": caller.platform},
            )
            return Reply(tr(msg.FAILED), private=True)
        return replace(reply, text=self._redact(reply.text), file=self._redact_file(reply.file))

    def _redact_file(self, file: Attachment | None) -> Attachment | None:
        """A reply's file masked as its text is: an export lists feed URLs, whose
        passwords ``feeds`` never shows either (the files sent are UTF-8 text)."""
        if file is None:
            return None
        text = file.data.decode("utf-8", errors="replace")
        return Attachment(file.name, self._redact(text).encode("utf-8"))

    async def handle(self, caller: Caller, command: Command) -> Reply:
        """Run one command; never raises for bad input (the reply says what to type).

        Raises:
            Exception: whatever went wrong unforeseen; adapters call :meth:`answer`,
                which turns it into a reply.
        """
        handler = getattr(self, f"_cmd_{command.name}", None)
        if handler is None:
            await self._speak_to(caller)
            return Reply(tr(msg.UNKNOWN).format(name=command.name), private=True)
        read_only = command.name in READ_ONLY or (command.name == "language" and not command.args)
        if not read_only and caller.may_edit is not None and not await caller.may_edit():
            await self._speak_to(caller)
            return Reply(tr(msg.ADMINS_ONLY), private=True)
        chat = await self._chat_speaking(caller)
        _caller.set(caller)
        if command.name == "import":  # the one command that reads the files sent with it
            return await self._cmd_import(chat, command.args, command.files)
        reply: Reply = await handler(chat, command.args)
        return reply

    async def act(self, caller: Caller, action: Action | None) -> Reply:
        """Carry out a button press and return the answer to show; never raises.

        The buttons' funnel, as :meth:`answer` is the commands': an unforeseen failure is
        logged and answered with an apology. A button whose rule or story is gone, or one
        pressed twice, gets an answer saying so. In groups, only those who may change the
        chat's rules may press the changing buttons; others get a private refusal.
        ``action`` None is a button this version does not know (an old message's).
        """
        try:
            if action is None:
                await self._speak_to(caller)
                return Reply(tr(msg.BUTTON_UNKNOWN), private=True, brief=True)
            if action.verb.changes and caller.may_edit is not None and not await caller.may_edit():
                await self._speak_to(caller)
                return Reply(tr(msg.BUTTON_REFUSED), private=True, brief=True)
            chat = await self._chat_speaking(caller)
            reply = await self._press(chat, action)
        except Exception:
            log.exception(
                "button %s failed",
                action.data if action else None,
                extra={"chat": caller.chat_id, "platform": caller.platform},
            )
            return Reply(tr(msg.FAILED), private=True)
        return replace(reply, text=self._redact(reply.text))

    async def _chat_speaking(self, caller: Caller) -> Chat:
        """The caller's chat, with the texts of this command or press (the reply, its
        buttons) set to the chat's language. The language of the user's app is remembered
        on the chat: alerts follow it too, unless ``language`` fixed one."""
        chat = await asyncio.to_thread(
            self.store.ensure_chat, caller.platform, caller.chat_id, caller.chat_title
        )
        heard = supported(caller.language)
        if heard is not None and heard != chat.user_language:
            await asyncio.to_thread(self.store.update_chat, chat.id, user_language=heard)
            chat = replace(chat, user_language=heard)
        use(chat.speaks)
        return chat

    async def _speak_to(self, caller: Caller) -> None:
        """Set the language of a refusal as :meth:`_chat_speaking` would, without creating
        the chat or changing it: a refused or unknown command leaves nothing stored."""
        use(await self.language_for(caller))

    async def language_for(self, caller: Caller) -> str:
        """The language a reply to ``caller`` is written in (the chat's, or the one its
        user's app speaks), read without creating or changing the chat: for what an
        adapter says on its own, such as "Working on it…"."""
        chat = await asyncio.to_thread(self.store.get_chat, caller.platform, caller.chat_id)
        heard = supported(caller.language)
        if chat is not None and heard is not None:
            chat = replace(chat, user_language=heard)
        return chat.speaks if chat is not None else heard or DEFAULT

    async def _press(self, chat: Chat, action: Action) -> Reply:
        if action.verb is Verb.MUTE_ALL:
            return await self._mute_all(chat)
        if action.verb is Verb.MORE:
            return await self._show_more(chat, action.target)
        rules = await asyncio.to_thread(self.store.list_rules, chat.id)
        rule = next((r for r in rules if r.id == action.target), None)
        if rule is None:
            return Reply(tr(msg.RULE_GONE), private=True, brief=True)
        if action.verb is Verb.MUTE:
            return await self._mute_rule(chat, rule)
        if action.verb is Verb.STOP:
            ask = tr(msg.STOP_ASK).format(number=rule.number, query=rule.query)
            return Reply(
                ask, actions=(Action(Verb.STOP_YES, rule.id), Action(Verb.STOP_NO, rule.id))
            )
        if action.verb is Verb.STOP_NO:
            return Reply(tr(msg.STOP_KEPT).format(number=rule.number, query=rule.query))
        # Another press (or unwatch) may have removed it since the lookup.
        if not await asyncio.to_thread(self.store.remove_rule, chat.id, rule.id):
            return Reply(tr(msg.RULE_GONE), private=True, brief=True)
        self.rulebook.remove(rule.id)
        return Reply(tr(msg.UNWATCHED).format(number=rule.number, query=rule.query))

    async def _mute_rule(self, chat: Chat, rule: Rule) -> Reply:
        now = utcnow()
        if rule.muted(now) and rule.muted_until is not None:
            until = _local(rule.muted_until, chat)
            return Reply(
                tr(msg.RULE_ALREADY_MUTED).format(
                    number=rule.number, until=until, query=rule.query
                ),
                private=True,
                brief=True,
            )
        until_at = now + MUTE_BUTTON
        if not await asyncio.to_thread(self.store.mute_rule, chat.id, rule.id, until_at):
            return Reply(tr(msg.RULE_GONE), private=True, brief=True)
        return Reply(
            tr(msg.RULE_MUTED).format(
                number=rule.number, until=_local(until_at, chat), query=rule.query
            )
        )

    async def _mute_all(self, chat: Chat) -> Reply:
        now = utcnow()
        if chat.muted(now) and chat.muted_until is not None:
            text = tr(msg.ALREADY_MUTED_ALL).format(until=_local(chat.muted_until, chat))
            return Reply(text, private=True, brief=True)
        until = now + MUTE_BUTTON
        await asyncio.to_thread(self.store.update_chat, chat.id, muted_until=until)
        return Reply(tr(msg.MUTED_ALL).format(until=_local(until, chat)))

    async def _show_more(self, chat: Chat, alert_id: int | None) -> Reply:
        found = None
        if alert_id is not None:
            found = await asyncio.to_thread(self.store.story_of_alert, chat.id, alert_id)
        if found is None:
            return Reply(tr(msg.ALERT_GONE), private=True, brief=True)
        story, words = found
        text = tr(msg.MORE).format(
            title=story.title,
            source=" · ".join(p for p in (story.source, story.link or "") if p),
            text=clip_text(" ".join(story.body.split()), MORE_CHARS),
            words=", ".join(dict.fromkeys(words)) or tr(msg.MORE_NO_WORDS),
        )
        return Reply(text, private=True)

    async def name_topic(self, platform: str, chat_id: str, thread_id: str, name: str) -> None:
        """A forum topic was created or renamed: ``rules`` names it so from now on. Only
        for a chat the bot already knows; a topic's first rule records its name too."""
        chat = await asyncio.to_thread(self.store.get_chat, platform, chat_id)
        if chat is not None:
            await asyncio.to_thread(
                partial(self.store.name_topic, chat.id, thread_id, name, rename=True)
            )

    async def follow_migration(self, platform: str, old_chat_id: str, new_chat_id: str) -> None:
        """A chat got a new id (Telegram group -> supergroup): its rules, feeds and queued
        alerts move to it, and the rule index learns the rules' new owner at once."""
        await asyncio.to_thread(self.store.migrate_chat, platform, old_chat_id, new_chat_id)
        chat = await asyncio.to_thread(self.store.get_chat, platform, new_chat_id)
        if chat is None:
            return
        for rule in await asyncio.to_thread(self.store.list_rules, chat.id):
            self.rulebook.add(rule)  # replaces the entry, now owned by the surviving chat

    # -- commands ---------------------------------------------------------------

    async def _cmd_start(self, chat: Chat, args: str) -> Reply:
        return Reply(tr(msg.HELP))

    _cmd_help = _cmd_start

    async def _cmd_subscribe(self, chat: Chat, args: str) -> Reply:
        if chat.subscribed and chat.active:
            return Reply(tr(msg.ALREADY_SUBSCRIBED))
        await asyncio.to_thread(
            self.store.update_chat, chat.id, subscribed=True, active=True, inactive_reason=None
        )
        return Reply(tr(msg.SUBSCRIBED))

    async def _cmd_unsubscribe(self, chat: Chat, args: str) -> Reply:
        if not chat.subscribed:
            return Reply(tr(msg.NOT_SUBSCRIBED))
        await asyncio.to_thread(self.store.update_chat, chat.id, subscribed=False)
        return Reply(tr(msg.UNSUBSCRIBED))

    async def _cmd_watch(self, chat: Chat, args: str) -> Reply:
        if not args:
            return Reply(tr(msg.WATCH_USAGE), private=True)
        try:
            self.rulebook.compile(args)
        except RuleSyntaxError as exc:
            return Reply(tr(msg.WATCH_BAD).format(error=say(exc.text)), private=True)
        rules = await asyncio.to_thread(self.store.list_rules, chat.id)
        same = next((r for r in rules if _same_query(r.query, args)), None)
        if same is not None:
            number = rules.index(same) + 1
            return Reply(
                tr(msg.WATCH_DUPLICATE).format(number=number, query=same.query), private=True
            )
        try:
            caller = _caller.get(None)
            rule = await asyncio.to_thread(
                partial(
                    self.store.add_rule,
                    chat.id,
                    args,
                    limit=self.settings.rules.max_per_chat,
                    thread_id=caller.thread_id if caller else None,
                )
            )
        except LimitReached as exc:
            return Reply(tr(msg.LIMIT).format(detail=_limit(exc)), private=True)
        if caller is not None and caller.thread_id and caller.topic_name:
            await asyncio.to_thread(
                partial(
                    self.store.name_topic,
                    chat.id,
                    caller.thread_id,
                    caller.topic_name,
                    rename=False,
                )
            )
        self.rulebook.add(rule)
        template = tr(msg.WATCH_OK) if chat.subscribed else tr(msg.WATCH_OK_UNSUBSCRIBED)
        return Reply(template.format(number=rule.number, query=rule.query))

    async def _cmd_rules(self, chat: Chat, args: str) -> Reply:
        rules = await asyncio.to_thread(self.store.list_rules, chat.id)
        if not rules:
            return Reply(tr(msg.NO_RULES))
        names = await asyncio.to_thread(self.store.topic_names, chat.id)
        now = utcnow()
        lines = [
            f"{r.number}. {r.query}"
            + _topic(r.thread_id, names)
            + (
                tr(msg.RULE_MUTED_MARK).format(until=_local(r.muted_until, chat))
                if r.muted(now) and r.muted_until
                else ""
            )
            for r in rules
        ]
        if not chat.subscribed:
            lines.append(tr(msg.NOT_SUBSCRIBED))
        return Reply("\n".join(lines))

    async def _cmd_unwatch(self, chat: Chat, args: str) -> Reply:
        number = _number(args)
        if number is None:
            return Reply(tr(msg.UNWATCH_USAGE), private=True)
        rules = await asyncio.to_thread(self.store.list_rules, chat.id)
        if not 1 <= number <= len(rules):
            return Reply(tr(msg.NO_SUCH_RULE).format(number=number), private=True)
        rule = rules[number - 1]
        await asyncio.to_thread(self.store.remove_rule, chat.id, rule.id)
        self.rulebook.remove(rule.id)
        return Reply(tr(msg.UNWATCHED).format(number=number, query=rule.query))

    async def _cmd_test(self, chat: Chat, args: str) -> Reply:
        if not args:
            return Reply(tr(msg.TEST_USAGE), private=True)
        try:
            rule = self.rulebook.compile(args)
        except RuleSyntaxError as exc:
            return Reply(tr(msg.TEST_BAD).format(error=say(exc.text)), private=True)
        feed_ids = await asyncio.to_thread(self._visible_feed_ids, chat)
        recent = await asyncio.to_thread(self.store.recent_stories, 500, feed_ids)
        # Analysing 500 stories takes a moment: off the event loop, so chats stay responsive.
        hits = await asyncio.to_thread(_matching, rule, recent)
        if not hits:
            return Reply(trn(msg.TEST_NONE, len(recent)).format(query=args, count=len(recent)))
        some = trn(msg.TEST_SOME, len(recent))
        lines = [some.format(shown=len(hits), count=len(recent), query=args)]
        for stored in hits[:5]:
            lines.append(
                f"• {stored.title} — {stored.source}"
                + (f"\n  {stored.link}" if stored.link else "")
            )
        if len(hits) > 5:
            lines.append(tr(msg.TEST_MORE).format(count=len(hits) - 5))
        return Reply("\n".join(lines))

    async def _cmd_feeds(self, chat: Chat, args: str) -> Reply:
        own = await asyncio.to_thread(self.store.chat_feeds, chat.id)
        shared = await asyncio.to_thread(self.store.config_feeds)
        lines = [f"{n}. {f.label} — {f.url}" + _health(f) for n, f in enumerate(own, 1)]
        if not lines:
            lines.append(tr(msg.FEEDS_NONE))
        if shared:
            lines.append(tr(msg.FEEDS_SHARED))
            lines.extend(f"• {f.label}" + _health(f) for f in shared)
        return Reply("\n".join(lines))

    async def _cmd_addfeed(self, chat: Chat, args: str) -> Reply:
        return (await self._add_feed(chat, args)).reply

    async def _add_feed(self, chat: Chat, args: str) -> _FeedAdded:
        """``addfeed``'s checks and work: the address, feed detection (through the
        fetcher's address guard), the operator's feeds, the chat's limit."""
        url = args.strip().strip("<>")
        if not url:
            return _FeedAdded(Reply(tr(msg.ADDFEED_USAGE), private=True))
        if not url.startswith(("http://", "https://")):
            if "." not in url or " " in url:
                return _FeedAdded(Reply(tr(msg.ADDFEED_BAD_URL).format(url=url), private=True))
            url = "https://" + url
        try:
            found = await find_feed(self.fetcher, url)
            feed_url, fetched = found.url, found.response
            parsed = await asyncio.to_thread(
                parse_feed, fetched.body, url=fetched.url, headers=fetched.headers
            )
        except FeedError as exc:
            return _FeedAdded(
                Reply(tr(msg.ADDFEED_FAILED).format(error=say(exc.text)), private=True)
            )
        feed = await asyncio.to_thread(self.store.ensure_feed, feed_url)
        if feed.from_config:  # every chat gets it already; a second entry would show twice
            text = tr(msg.ADDFEED_OPERATOR).format(label=feed.label, url=feed.url)
            return _FeedAdded(Reply(text, private=True))
        try:
            added = await asyncio.to_thread(
                self.store.add_chat_feed,
                chat.id,
                feed.id,
                limit=self.settings.rules.max_feeds_per_chat,
            )
        except LimitReached as exc:
            return _FeedAdded(
                Reply(tr(msg.LIMIT).format(detail=_limit(exc)), private=True), limit=True
            )
        own = await asyncio.to_thread(self.store.chat_feeds, chat.id)
        number = next(n for n, f in enumerate(own, 1) if f.id == feed.id)
        if not added:
            return _FeedAdded(Reply(tr(msg.ADDFEED_ALREADY).format(number=number)))
        if self.on_feed_added is not None:
            self.on_feed_added(feed.id)
        label = parsed.title or feed_url
        text = tr(msg.ADDFEED_OK).format(number=number, label=label, url=feed_url)
        return _FeedAdded(Reply(text), label=label, url=feed_url)

    async def _cmd_removefeed(self, chat: Chat, args: str) -> Reply:
        number = _number(args)
        if number is None:
            return Reply(tr(msg.REMOVEFEED_USAGE), private=True)
        own = await asyncio.to_thread(self.store.chat_feeds, chat.id)
        if not 1 <= number <= len(own):
            return Reply(tr(msg.NO_SUCH_FEED).format(number=number), private=True)
        feed = own[number - 1]
        await asyncio.to_thread(self.store.remove_chat_feed, chat.id, feed.id)
        return Reply(tr(msg.REMOVEFEED_OK).format(number=number, label=feed.label))

    async def _cmd_mute(self, chat: Chat, args: str) -> Reply:
        try:
            seconds = parse_duration(args)
        except ValueError:
            return Reply(tr(msg.MUTE_USAGE), private=True)
        until = utcnow() + timedelta(seconds=min(seconds, 365 * 86400))
        await asyncio.to_thread(self.store.update_chat, chat.id, muted_until=until)
        return Reply(tr(msg.MUTED).format(until=_local(until, chat)))

    async def _cmd_unmute(self, chat: Chat, args: str) -> Reply:
        if not chat.muted(utcnow()):
            return Reply(tr(msg.NOT_MUTED))
        await asyncio.to_thread(self.store.update_chat, chat.id, muted_until=None)
        return Reply(tr(msg.UNMUTED))

    async def _cmd_digest(self, chat: Chat, args: str) -> Reply:
        try:
            mode = parse_digest(args)
        except ValueError:
            return Reply(tr(msg.DIGEST_USAGE), private=True)
        await asyncio.to_thread(self.store.update_chat, chat.id, digest=mode)
        return Reply(tr(msg.DIGEST_OFF) if mode == "off" else tr(msg.DIGEST_SET).format(mode=mode))

    async def _cmd_status(self, chat: Chat, args: str) -> Reply:
        now = utcnow()
        where = zone(chat.timezone)
        midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
        counts, own, shared, rules = await asyncio.gather(
            asyncio.to_thread(self.store.alert_counts, chat.id, midnight),
            asyncio.to_thread(self.store.chat_feeds, chat.id),
            asyncio.to_thread(self.store.config_feeds),
            asyncio.to_thread(self.store.list_rules, chat.id),
        )
        subscribed = chat.subscribed and chat.active
        state = tr(msg.STATUS_SUBSCRIBED if subscribed else msg.STATUS_NOT_SUBSCRIBED)
        if chat.muted(now) and chat.muted_until:
            until = local_label(chat.muted_until.astimezone(where))
            state = tr(msg.STATUS_MUTED).format(state=state, until=until)
        quiet = stored_quiet(chat.quiet)
        if quiet is None:
            quiet_text = tr(msg.STATUS_QUIET_NONE)
        else:
            held = tr(msg.STATUS_QUIET_HELD if quiet.hold else msg.STATUS_QUIET_SILENT)
            quiet_text = held.format(span=quiet)
        lines = [
            trn(msg.STATUS_CHAT, len(rules)).format(
                state=state, count=len(rules), digest=chat.digest
            ),
            tr(msg.STATUS_ZONE).format(zone=chat.timezone, quiet=quiet_text),
            tr(msg.STATUS_ALERTS).format(
                sent=counts.get(OutboxStatus.SENT, 0),
                waiting=counts.get(OutboxStatus.PENDING, 0),
            )
            + (
                tr(msg.STATUS_FAILED).format(failed=counts[OutboxStatus.FAILED])
                if counts.get(OutboxStatus.FAILED)
                else ""
            ),
            tr(msg.STATUS_LANGUAGE).format(language=_language_name(chat.speaks)),
        ]
        # A feed the chat added that the operator also lists is shown once.
        for feed in {f.id: f for f in [*own, *shared]}.values():
            polled = (
                local_label(feed.last_polled_at.astimezone(where))
                if feed.last_polled_at
                else tr(msg.STATUS_NOT_POLLED)
            )
            lines.append(
                tr(msg.STATUS_FEED).format(label=feed.label, polled=polled) + _health(feed)
            )
        return Reply("\n".join(lines))

    async def _cmd_timezone(self, chat: Chat, args: str) -> Reply:
        if not args.strip():
            return Reply(tr(msg.TIMEZONE_SHOW).format(zone=chat.timezone))
        try:
            name = parse_zone(args)
        except UnknownZone as exc:
            if exc.suggestions:
                close = ", ".join(exc.suggestions)
                return Reply(
                    tr(msg.TIMEZONE_CLOSE).format(name=exc.name, close=close), private=True
                )
            return Reply(tr(msg.TIMEZONE_UNKNOWN).format(name=exc.name), private=True)
        await asyncio.to_thread(self.store.update_chat, chat.id, timezone=name)
        await self._reschedule(replace(chat, timezone=name))
        now = local_label(utcnow().astimezone(zone(name)))
        return Reply(tr(msg.TIMEZONE_SET).format(zone=name, now=now))

    async def _cmd_quiet(self, chat: Chat, args: str) -> Reply:
        if not args.strip():
            quiet = stored_quiet(chat.quiet)
            return Reply(_quiet_text(quiet, chat.timezone) if quiet else tr(msg.QUIET_NONE))
        try:
            quiet = parse_quiet(args)
        except ValueError:
            return Reply(tr(msg.QUIET_USAGE).format(zone=chat.timezone), private=True)
        stored = str(quiet) if quiet else None
        await asyncio.to_thread(self.store.update_chat, chat.id, quiet=stored)
        await self._reschedule(replace(chat, quiet=stored))
        return Reply(_quiet_text(quiet, chat.timezone) if quiet else tr(msg.QUIET_OFF))

    async def _reschedule(self, chat: Chat) -> None:
        """Alerts held by the chat's old schedule (a digest slot in its old zone, quiet
        hours since changed or ended) go out when its new schedule says."""
        now = utcnow()
        await asyncio.to_thread(
            outbox.reschedule_waiting, self.store, chat.id, now, not_before(chat, now)
        )

    async def _cmd_language(self, chat: Chat, args: str) -> Reply:
        choices = ", ".join(f"{code} ({name})" for code, name in LANGUAGES.items())
        word = args.strip()
        if not word:
            how = tr(msg.LANGUAGE_FIXED if chat.language else msg.LANGUAGE_FOLLOWED)
            text = tr(msg.LANGUAGE_SHOW).format(
                language=_language_name(chat.speaks), how=how, choices=choices
            )
            return Reply(text)
        if word.lower() == "auto":
            await asyncio.to_thread(self.store.update_chat, chat.id, language=None)
            following = replace(chat, language=None).speaks
            use(following)
            return Reply(tr(msg.LANGUAGE_AUTO).format(language=_language_name(following)))
        code = supported(word)
        if code is None:
            return Reply(tr(msg.LANGUAGE_UNKNOWN).format(code=word, choices=choices), private=True)
        await asyncio.to_thread(self.store.update_chat, chat.id, language=code)
        use(code)  # the reply, and its buttons, already in the new language
        return Reply(tr(msg.LANGUAGE_SET).format(language=_language_name(code)))

    async def _cmd_export(self, chat: Chat, args: str) -> Reply:
        own = await asyncio.to_thread(self.store.chat_feeds, chat.id)
        if not own:
            return Reply(tr(msg.EXPORT_NONE))
        title = tr(msg.EXPORT_TITLE).format(chat=chat.title or chat.chat_id)
        data = render_opml(title, [OpmlFeed(f.url, f.label) for f in own])
        return Reply(
            trn(msg.EXPORT_OK, len(own)).format(count=len(own)),
            file=Attachment("newsbot-feeds.opml", data),
        )

    async def _cmd_import(self, chat: Chat, args: str, files: tuple[Attachment, ...] = ()) -> Reply:
        """``import``: the feeds of an OPML file sent with the command, or at the URL given,
        each added through :meth:`_add_feed`; the reply lists what was added and skipped."""
        try:
            data = await self._opml_data(args, files)
            if data is None:
                return Reply(tr(msg.IMPORT_USAGE), private=True)
            feeds = await asyncio.to_thread(parse_opml, data)
        except OpmlError as exc:
            return Reply(tr(msg.IMPORT_BAD).format(error=say(exc.text)), private=True)
        except FeedError as exc:
            return Reply(tr(msg.IMPORT_FAILED).format(error=say(exc.text)), private=True)
        gate = asyncio.Semaphore(IMPORT_CONCURRENCY)
        full = asyncio.Event()  # the chat's feed limit was reached: skip the rest unfetched

        async def add(feed: OpmlFeed) -> _FeedAdded:
            async with gate:
                if full.is_set():
                    return _FeedAdded(Reply(tr(msg.IMPORT_LIMIT)), limit=True)
                outcome = await self._add_feed(chat, feed.url)
                if outcome.limit:
                    full.set()
                return outcome

        outcomes = await asyncio.gather(*(add(feed) for feed in feeds))
        added = [o for o in outcomes if o.url is not None]
        done = trn(msg.IMPORT_DONE, len(added))
        lines = [done.format(count=len(added), skipped=len(outcomes) - len(added))]
        lines.extend(f"+ {o.label} — {o.url}" for o in added)
        lines.extend(
            f"- {feed.url}: {_first_line(o.reply.text)}"
            for feed, o in zip(feeds, outcomes, strict=True)
            if o.url is None
        )
        return Reply("\n".join(lines))

    async def _opml_data(self, args: str, files: tuple[Attachment, ...]) -> bytes | None:
        """The OPML file's bytes: the file sent with the command, else the one at the URL
        in ``args`` (fetched through the address guard); None when there is neither.

        Raises:
            OpmlError: the file sent is too large to read.
            FeedError: the URL could not be fetched.
        """
        if files:
            file = files[0]
            if file.too_large or len(file.data) > OPML_MAX_BYTES:
                raise OpmlError(too_large())
            return file.data
        url = args.strip().strip("<>")
        if not url.startswith(("http://", "https://")):
            return None
        fetched = await self.fetcher.fetch(
            url, accept="text/x-opml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
        )
        return fetched.body

    def _visible_feed_ids(self, chat: Chat) -> list[int]:
        return [f.id for f in [*self.store.chat_feeds(chat.id), *self.store.config_feeds()]]


@dataclass(frozen=True, slots=True)
class _FeedAdded:
    """What adding one feed came to: the reply for ``addfeed``; for a feed added, its
    label and address; ``limit`` when the chat's feed limit stopped it."""

    reply: Reply
    label: str | None = None
    url: str | None = None
    limit: bool = False


def _quiet_text(quiet: QuietHours, timezone: str) -> str:
    if quiet.hold:
        return tr(msg.QUIET_HOLD).format(span=quiet, zone=timezone, end=f"{quiet.end:%H:%M}")
    return tr(msg.QUIET_SILENT).format(span=quiet, zone=timezone)


def _topic(thread_id: str | None, names: dict[str, str]) -> str:
    """Where a rule's alerts go, when not the chat's main topic: the topic by name, or by
    number when its name was never seen."""
    if not thread_id:
        return ""
    name = names.get(thread_id)
    return tr(msg.TOPIC_NAMED).format(name=name) if name else tr(msg.TOPIC).format(thread=thread_id)


def _limit(exc: LimitReached) -> str:
    """What limit a chat reached, in its language."""
    detail = trn(msg.LIMIT_RULES if exc.what == "rules" else msg.LIMIT_FEEDS, exc.count)
    return detail.format(count=exc.count, limit=exc.limit)


def _language_name(code: str) -> str:
    """``Deutsch`` for ``de``: a language as its speakers name it."""
    return LANGUAGES.get(code, code)


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def _matching(rule: CompiledRule, stories: list[StoredStory]) -> list[StoredStory]:
    return [
        s
        for s in stories
        if rule.match(story_document(s.title, s.body, s.source, s.link, s.author)) is not None
    ]


def _same_query(a: str, b: str) -> bool:
    """Whether two rules are the same text, spacing aside."""
    return a.split() == b.split()


def _local(moment: datetime, chat: Chat) -> str:
    """A moment as the chat's clock shows it (``2026-11-29 17:05 UTC+03``)."""
    return local_label(moment.astimezone(zone(chat.timezone)))


def _number(args: str) -> int | None:
    text = args.strip().lstrip("#")
    return int(text) if text.isdigit() else None


def _health(feed: Feed) -> str:
    if not feed.error_count:
        return ""
    error = say(feed.last_error_text) if feed.last_error_text else feed.last_error
    return tr(msg.FEED_FAILING).format(count=feed.error_count, error=error)
