"""The ``newsbot`` command line: run, check, rule test, migrate, health."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings, load_settings
from bot.errors import ConfigError, NewsbotError
from bot.logs import setup_logging
from bot.redact import Redactor, redact_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsbot", description="News alerts from feeds to chats.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="FILE", help="YAML config (default: $NEWSBOT_CONFIG or ./config.yaml)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", parents=[common], help="run the service")
    sub.add_parser(
        "check", parents=[common], help="poll every feed once and show matches; sends nothing"
    )
    sub.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    sub.add_parser(
        "health",
        parents=[common],
        help="probe the running service's /healthz at health.listen (exit 0 healthy, 1 not)",
    )
    rule = sub.add_parser("rule", help="work with rules")
    rule_sub = rule.add_subparsers(dest="rule_command", required=True)
    test = rule_sub.add_parser("test", parents=[common], help="match one rule against one story")
    test.add_argument("query")
    test.add_argument("file", nargs="?", help="story body (default: stdin)")
    test.add_argument("--title", default="")
    test.add_argument("--source", default="")
    test.add_argument("--url", default="")
    test.add_argument("--author", default="")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``newsbot`` console script.

    Exit codes: 0 done (``rule test``: a match), 1 a failure while working (``check``: a
    feed failed; ``rule test``: no match; the service cannot start), 2 a problem with what
    was given (configuration, arguments, a file), 141 the reader of the output went away
    (``newsbot check | head``), as for a program stopped by SIGPIPE.
    """
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print("newsbot: the configuration has problems:", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        # A container HEALTHCHECK knows 0 and 1 only (Docker reserves 2).
        return 1 if args.command == "health" else 2
    setup_logging(settings.log_level, settings.secrets)
    redact = Redactor(settings.secrets)
    try:
        code = _command(args, settings)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at interpreter exit
        return code
    except ConfigError as exc:
        for line in exc.problems:
            print(redact(f"newsbot: {line}"), file=sys.stderr)
        return 2
    except NewsbotError as exc:  # e.g. a chat token the platform refuses
        print(redact(f"newsbot: cannot start: {exc}"), file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        logging.getLogger(__name__).debug("database error", exc_info=exc)
        print(redact(database_problem(settings.database, exc)), file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as exc:
        if not exc.filename or str(exc.filename) not in settings.database:
            raise
        # The SQLite file's directory cannot be created (a read-only or missing mount).
        print(redact(database_problem(settings.database, exc)), file=sys.stderr)
        return 1


def _command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "rule":
        return rule_test(args, settings)
    if args.command == "health":
        return health_command(settings)
    if args.command == "migrate":
        return migrate_command(settings)
    if args.command == "check":
        return asyncio.run(check(settings))
    return asyncio.run(run(settings))


def database_problem(url: str, exc: SQLAlchemyError | OSError) -> str:
    """One line saying that the database cannot be used, why, and what to check."""
    cause = getattr(exc, "orig", None) or exc
    if isinstance(cause, OSError) and cause.strerror:
        reason = f"{cause.strerror}: {cause.filename}" if cause.filename else cause.strerror
    else:
        reason = " ".join(str(cause).split()) or type(cause).__name__
    check = (
        "the database server is running and reachable"
        if url.startswith("postgresql")
        else "the file's directory exists and is writable"
    )
    return (
        f"newsbot: cannot use the database {redact_url(url)}: {reason} — check the database: "
        f"setting and that {check}"
    )


def migrate_command(settings: Settings) -> int:
    from bot.store import make_engine, migrate

    engine = make_engine(settings.database)
    migrate(engine)
    engine.dispose()
    print("database schema is up to date")
    return 0


HEALTH_TIMEOUT = 3.0  # seconds; a container HEALTHCHECK allows a little more


def probe_url(listen: str) -> str:
    """The /healthz URL to probe for ``health.listen``: a wildcard address is reached on
    loopback."""
    host, _, port = listen.rpartition(":")
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "[::]": "[::1]"}.get(host, host)  # noqa: S104
    return f"http://{host}:{port}/healthz"


def health_command(settings: Settings) -> int:
    """Probe the service this config describes: exit 0 healthy, 1 not.

    With the endpoint off (``health.listen: null``) there is nothing to probe: it says so
    and exits 0, so a container check does not mark a service unhealthy for that.
    """
    if settings.health.listen is None:
        print("healthy: nothing to probe, the endpoint is off (health.listen: null)")
        return 0
    url = probe_url(settings.health.listen)
    # No proxy: HTTP_PROXY in a container's environment must not catch a loopback probe.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=HEALTH_TIMEOUT) as response:
            print(f"healthy: {url} answered {response.status}")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {url} answered {exc.code}", file=sys.stderr)
    except urllib.error.URLError as exc:
        print(f"unhealthy: {url}: {exc.reason}", file=sys.stderr)
    except OSError as exc:  # e.g. a timeout while reading the answer
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
    return 1


def rule_test(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import rule_settings
    from bot.rules import Document, RuleSyntaxError, compile_rule

    try:
        rule = compile_rule(args.query, rule_settings(settings))
    except RuleSyntaxError as exc:
        print(f"bad query: {exc}", file=sys.stderr)
        print(f"  {args.query}\n  {' ' * (exc.column - 1)}^", file=sys.stderr)
        return 2
    try:
        body = Path(args.file).read_text(encoding="utf-8") if args.file else sys.stdin.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        print(
            f"newsbot: cannot read the story {args.file or 'from stdin'}: {reason} — give a "
            "UTF-8 text file, or leave the file out and pipe the story in",
            file=sys.stderr,
        )
        return 2
    doc = Document(
        title=args.title, text=body, source=args.source, url=args.url, author=args.author
    )
    result = rule.match(doc)
    if result is None:
        print("no match")
        return 1
    print("match")
    print("matched: " + ", ".join(result.terms))
    for field, spans in result.spans.items():
        text = getattr(doc, field, "")
        words = sorted({text[a:b] for a, b in spans})
        if words:
            print(f"  {field}: " + ", ".join(words))
    return 0


async def check(settings: Settings) -> int:
    from bot.adapters.console import printable
    from bot.app import App

    app = App(settings, adapters={}, health=False)
    try:
        await app.prepare()
        # The feeds `run` would poll: a feed taken out of the config and used by no chat
        # stays in the database (its history) but is not polled.
        active = set(await asyncio.to_thread(app.store.active_feed_ids))
        feeds = [f for f in await asyncio.to_thread(app.store.list_feeds) if f.id in active]
        if not feeds:
            print("no feeds: add some under feeds: in the config, or with addfeed in a chat")
        redact = Redactor(settings.secrets)
        failed = 0
        for feed in feeds:
            report = await app.pipeline.poll(feed.id, dry_run=True)
            print(printable(redact(f"== feed {feed.id} {feed.label} ({feed.url})")))
            if report.error:
                failed += 1
                print(printable(redact(f"   error: {report.error}")))
                continue
            chats = await asyncio.to_thread(
                app.store.chats_by_pk, {h.chat_pk for _, hits in report.matches for h in hits}
            )
            for story, hits in report.matches:
                link = f"  <{story.link}>" if story.link else ""
                print(printable(f" - {story.title}{link}"))
                for hit in hits:
                    chat = chats[hit.chat_pk]
                    print(f"     matches {chat.platform} chat {chat.chat_id}: {hit.query}")
        return 1 if failed else 0
    finally:
        await app.stop()


async def run(settings: Settings) -> int:
    from bot.app import App

    app = App(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
        await stop.wait()
    finally:
        await app.stop()
    return 0
