"""Every text the bot says in a chat, in one place: the English message ids.

Each is written through :func:`bot.i18n.tr` (``tr(msg.X).format(...)``), which gives the
chat's language from ``bot/locale/XX.po``; a text that counts something is a
:class:`~bot.i18n.Plural`, written through ``trn(msg.X, n).format(count=n, ...)`` so each
language picks its own form (Russian has three). Tests check that every text here has a
translation in each catalog, with the same ``{placeholders}``.
"""

from bot.i18n import Plural

HELP = """newsbot watches news feeds and alerts this chat when a story matches one of its rules.

Commands:
subscribe — start receiving alerts here (unsubscribe stops; rules are kept)
watch QUERY — add a rule, e.g. watch Belarus AND "prisoner release"
rules — list this chat's rules; unwatch N removes rule N
test QUERY — which recent stories a query would have matched (sends nothing)
feeds — this chat's feeds; addfeed URL adds one (a web page is fine); removefeed N
mute 2h — pause alerts (30m, 2h, 1d); unmute
digest off | hourly | daily HH:MM — one alert at a time, or gathered (this chat's time)
timezone Europe/Minsk — this chat's time zone for digests and alert times (default UTC)
quiet 22:00-07:00 — alerts in those hours arrive silently; add hold to keep them until
  the end instead; quiet off
export — this chat's feeds as an OPML file
import — adds the feeds of an OPML file sent with it (or: import URL)
status — feeds, last poll, errors, alerts sent today, time zone, quiet hours, language
language de — the language I write in here (en, de, ru); language alone lists them

Rules: words are ANDed; "exact phrase"; "a b"~5 (near); OR, NOT, -word, ( ); sanction*;
title:, text:, source:, url:, author:; /regex/"""

SUBSCRIBED = "Subscribed: alerts for this chat's rules will arrive here. Add one with: watch QUERY"
ALREADY_SUBSCRIBED = "This chat is already subscribed. Rules: send rules"
UNSUBSCRIBED = "Unsubscribed: no more alerts here. Your rules are kept; subscribe to resume."
NOT_SUBSCRIBED = "This chat is not subscribed. Send subscribe to start receiving alerts."
ADMINS_ONLY = "Only chat administrators can change this chat's rules, feeds and subscription."
UNKNOWN = "I don't know the command {name!r}. Send help for the list."
WATCH_USAGE = 'Usage: watch QUERY — e.g. watch Belarus AND "prisoner release"'
WATCH_BAD = (
    "That rule has a problem at {error}.\nFix it and send watch again; help shows the syntax."
)
WATCH_OK = "Rule {number} added: {query}"
WATCH_DUPLICATE = "Rule {number} already watches exactly that: {query}"
WATCH_OK_UNSUBSCRIBED = (
    "Rule {number} added: {query}\nThis chat is not subscribed yet: send subscribe to get alerts."
)
NO_RULES = "This chat has no rules yet. Add one with: watch QUERY"
UNWATCH_USAGE = "Usage: unwatch N — N is the rule's number from rules"
NO_SUCH_RULE = "There is no rule {number}. Send rules to see the numbers."
UNWATCHED = "Rule {number} removed: {query}"
LIMIT = "Limit reached: {detail}. Remove one first."
LIMIT_RULES = Plural(
    "this chat has {count} rule, the limit is {limit}",
    "this chat has {count} rules, the limit is {limit}",
)
LIMIT_FEEDS = Plural(
    "this chat has {count} feed, the limit is {limit}",
    "this chat has {count} feeds, the limit is {limit}",
)
TEST_BAD = (
    "That query has a problem at {error}.\nFix it and send test again; help shows the syntax."
)
TEST_USAGE = "Usage: test QUERY — shows which recent stories the query would have matched"
TEST_NONE = Plural(
    "No recent story matches {query} (checked {count} story).",
    "No recent story matches {query} (checked {count} stories).",
)
TEST_SOME = Plural(
    "{shown} of the last {count} story match {query}:",
    "{shown} of the last {count} stories match {query}:",
)
FEEDS_NONE = "This chat has no feeds of its own. Add one with: addfeed URL"
ADDFEED_USAGE = "Usage: addfeed URL — a feed address, or a web page that links to its feed"
ADDFEED_BAD_URL = "{url!r} is not a web address. Use a full http:// or https:// URL."
ADDFEED_FAILED = "Could not add that feed: {error}"
ADDFEED_OK = (
    "Feed {number} added: {label} — {url}\n"
    "Its current stories are taken as read; new ones are matched from now on."
)
ADDFEED_ALREADY = "This chat already has that feed (number {number})."
ADDFEED_OPERATOR = (
    "Every chat already gets that feed: {label} — {url} (set by the operator). Send feeds "
    "to see them."
)
REMOVEFEED_USAGE = "Usage: removefeed N — N is the feed's number from feeds"
NO_SUCH_FEED = "There is no feed {number} of this chat. Send feeds to see the numbers."
REMOVEFEED_OK = "Feed {number} removed: {label}"
MUTE_USAGE = "Usage: mute DURATION — e.g. mute 30m, mute 2h, mute 1d"
MUTED = "Muted until {until}. Alerts matched meanwhile are skipped. unmute resumes."
UNMUTED = "Unmuted: alerts resume."
NOT_MUTED = "This chat is not muted."
DIGEST_USAGE = (
    "Usage: digest off, digest hourly, or digest daily HH:MM (24-hour time in this chat's "
    "time zone, see timezone), e.g. digest daily 07:30"
)
DIGEST_SET = "Digest: {mode}."
DIGEST_OFF = "Digest off: alerts arrive one by one."
TIMEZONE_SHOW = "This chat's time zone: {zone}. Change it with: timezone Europe/Minsk"
TIMEZONE_SET = "Time zone: {zone} (now {now} there). Digest times and alert times use it."
TIMEZONE_UNKNOWN = "{name!r} is not a time zone I know. Use an IANA name such as Europe/Minsk."
TIMEZONE_CLOSE = "{name!r} is not a time zone I know. Did you mean: {close}?"
QUIET_USAGE = (
    "Usage: quiet 22:00-07:00 (alerts in those hours arrive without a notification sound), "
    "quiet 22:00-07:00 hold (they wait until 07:00), or quiet off. Times are in {zone}."
)
QUIET_NONE = "No quiet hours. Set them with: quiet 22:00-07:00"
QUIET_SILENT = "Quiet hours {span} ({zone}): alerts then arrive without a notification sound."
QUIET_HOLD = "Quiet hours {span} ({zone}): alerts then wait until {end}."
QUIET_OFF = "Quiet hours off: alerts notify at any time."
EXPORT_NONE = "This chat has no feeds of its own to export. Add one with: addfeed URL"
EXPORT_OK = Plural("This chat's {count} feed, as OPML.", "This chat's {count} feeds, as OPML.")
IMPORT_USAGE = (
    "Usage: send an OPML file with import in its caption or message, or import URL "
    "(the address of an OPML file)."
)
IMPORT_BAD = "Could not read that OPML file: {error}"
IMPORT_FAILED = "Could not fetch that OPML file: {error}"
IMPORT_LIMIT = "the chat's feed limit is reached"
IMPORT_DONE = Plural(
    "Import: {count} feed added, {skipped} skipped.",
    "Import: {count} feeds added, {skipped} skipped.",
)
FAILED = (
    "Sorry, something went wrong on our side and that command was not carried out. "
    "Please try again in a minute; if it keeps failing, tell the bot's operator."
)
WORKING = "Working on it…"

# The menu Telegram shows when someone types "/" (setMyCommands), one line per command.
COMMAND_MENU = {
    "start": "What this bot does",
    "help": "Commands and rule syntax",
    "subscribe": "Receive alerts in this chat",
    "unsubscribe": "Stop alerts here (rules are kept)",
    "watch": "Add a rule: /watch QUERY",
    "rules": "List this chat's rules",
    "unwatch": "Remove rule N: /unwatch N",
    "test": "Which recent stories a query matches",
    "feeds": "This chat's feeds",
    "addfeed": "Add a feed: /addfeed URL",
    "removefeed": "Remove feed N: /removefeed N",
    "mute": "Pause alerts: /mute 2h",
    "unmute": "Resume alerts",
    "digest": "Alerts one by one or gathered: off | hourly | daily HH:MM",
    "status": "Feeds, last poll, alerts sent today",
    "timezone": "This chat's time zone: /timezone Europe/Minsk",
    "quiet": "Quiet hours: /quiet 22:00-07:00 [hold] | off",
    "export": "This chat's feeds as an OPML file",
    "import": "Add the feeds of an OPML file sent with it",
    "language": "The language I write in here: /language de",
}

# Buttons under alerts (bot/commands/actions.py), and the answers to pressing them.
BUTTON_LABELS = {
    "mute": "Mute this rule for a day",
    "stop": "Stop this rule",
    "stopyes": "Yes, stop it",
    "stopno": "No, keep it",
    "more": "Show more",
    "muteall": "Mute all for a day",
}
BUTTON_REFUSED = "Only those who may change this chat's rules can use this button."
BUTTON_UNKNOWN = "This button no longer works. Send help for the commands."
RULE_GONE = "That rule no longer exists (it was stopped). Send rules to see the current ones."
ALERT_GONE = "That story is no longer stored, so there is nothing more to show."
RULE_MUTED = "Rule {number} muted until {until}: {query}\nIts alerts resume then."
RULE_ALREADY_MUTED = "Rule {number} is already muted until {until}: {query}"
STOP_ASK = "Stop rule {number} for good? {query}"
STOP_KEPT = "Rule {number} kept: {query}"
MUTED_ALL = "All alerts muted until {until}. unmute resumes them sooner."
ALREADY_MUTED_ALL = "This chat is already muted until {until}. unmute resumes alerts."
MORE = "{title}\n{source}\n\n{text}\n\nMatched: {words}"
MORE_NO_WORDS = "(the rule matched by source, link or author)"
TOPIC = " — topic {thread}"
TOPIC_NAMED = " — topic “{name}”"
RULE_MUTED_MARK = " (muted until {until})"

# Command replies assembled from parts.
TEST_MORE = "…and {count} more."
FEEDS_SHARED = "Feeds every chat gets (set by the operator):"
FEED_FAILING = " — failing ({count}× in a row: {error})"
STATUS_CHAT = Plural(
    "This chat: {state}; {count} rule; digest {digest}.",
    "This chat: {state}; {count} rules; digest {digest}.",
)
STATUS_SUBSCRIBED = "subscribed"
STATUS_NOT_SUBSCRIBED = "not subscribed"
STATUS_MUTED = "{state}, muted until {until}"
STATUS_ZONE = "Time zone {zone}; quiet hours {quiet}."
STATUS_QUIET_HELD = "{span} (held)"
STATUS_QUIET_SILENT = "{span} (silent)"
STATUS_QUIET_NONE = "none"
STATUS_ALERTS = "Alerts today: {sent} sent, {waiting} waiting"
STATUS_FAILED = ", {failed} failed"
STATUS_LANGUAGE = "Language: {language}."
STATUS_FEED = "• {label}: last poll {polled}"
STATUS_NOT_POLLED = "not yet"
EXPORT_TITLE = "newsbot feeds of {chat}"
LANGUAGE_SHOW = (
    "This chat's language: {language} ({how}). Available: {choices}.\n"
    "Change it with: language de, or language auto to follow the app language of whoever "
    "writes to me."
)
LANGUAGE_FIXED = "set with the language command"
LANGUAGE_FOLLOWED = "following the app language of whoever writes to me"
LANGUAGE_SET = "Language: {language}. Replies, alerts and buttons here are now in it."
LANGUAGE_AUTO = "Language: following the app language of whoever writes to me (now {language})."
LANGUAGE_UNKNOWN = "I don't speak {code!r}. Available: {choices}."

# Words the renderers put around feed text in alerts and digests (feed text itself is
# never translated).
UNTITLED = "(untitled)"
ALSO_REPORTED = "also reported by {outlets}"
ALSO_REPORTED_LINE = "Also reported by {outlets}"
RULE_LABEL = "Rule: {rule}"
RULE_LABEL_LOWER = "rule: {rule}"
MATCHED_LABEL = "matched: {words}"
BY_AUTHOR = "by {author}"
DIGEST = Plural("Digest: {count} story", "Digest: {count} stories")
NEW_STORIES = Plural("{count} new story", "{count} new stories")
CONSOLE_HELLO = "console: type commands such as /help, /subscribe, /watch QUERY"
CONSOLE_ALERT = "--- alert for {chat} ---"
CONSOLE_DIGEST = Plural(
    "--- digest for {chat}: {count} story ---", "--- digest for {chat}: {count} stories ---"
)
CONSOLE_UPDATED = "--- alert {message} for {chat}, updated ---"
