"""The ``newsbot`` command line: run, check, rule test, migrate, health."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bot.config import Settings, load_settings
from bot.errors import ConfigError, NewsbotError
from bot.logs import setup_logging


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
    """Entry point of the ``newsbot`` console script."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print("newsbot: the configuration has problems:", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        # A container HEALTHCHECK knows 0 and 1 only (Docker reserves 2).
        return 1 if args.command == "health" else 2
    setup_logging(settings.log_level)
    if args.command == "rule":
        return rule_test(args, settings)
    if args.command == "health":
        return health_command(settings)
    try:
        if args.command == "migrate":
            return migrate_command(settings)
        if args.command == "check":
            return asyncio.run(check(settings))
        return asyncio.run(run(settings))
    except ConfigError as exc:
        for line in exc.problems:
            print(f"newsbot: {line}", file=sys.stderr)
        return 2
    except NewsbotError as exc:  # e.g. a chat token the platform refuses
        print(f"newsbot: cannot start: {exc}", file=sys.stderr)
        return 1


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
    body = Path(args.file).read_text(encoding="utf-8") if args.file else sys.stdin.read()
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
    from bot.app import App

    app = App(settings, adapters={}, health=False)
    try:
        await app.prepare()
        feeds = await asyncio.to_thread(app.store.list_feeds)
        if not feeds:
            print("no feeds: add some under feeds: in the config, or with addfeed in a chat")
        failed = 0
        for feed in feeds:
            report = await app.pipeline.poll(feed.id, dry_run=True)
            print(f"== feed {feed.id} {feed.label} ({feed.url})")
            if report.error:
                failed += 1
                print(f"   error: {report.error}")
                continue
            chats = await asyncio.to_thread(
                app.store.chats_by_pk, {h.chat_pk for _, hits in report.matches for h in hits}
            )
            for story, hits in report.matches:
                print(f" - {story.title}" + (f"  <{story.link}>" if story.link else ""))
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
