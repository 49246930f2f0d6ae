"""export and import through the platform-free service and the console adapter."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.adapters.console import ConsoleAdapter, show_reply, with_local_file
from bot.app import App
from bot.commands import messages as msg
from bot.commands.parse import Attachment, Command, parse_slash
from bot.commands.service import Caller, Reply
from bot.feeds.opml import OpmlFeed, parse_opml, render_opml
from tests.conftest import make_settings
from tests.feedserver import BELARUS, WEATHER, rss


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    instance = App(
        make_settings(database_url, rules={"max_feeds_per_chat": 3}),
        adapters={"console": ConsoleAdapter(io.StringIO())},
        health=False,
    )
    await instance.prepare()
    yield instance
    await instance.stop()


async def say(app: App, text: str, *files: Attachment, admin: bool = True) -> Reply:
    async def may_edit() -> bool:
        return admin

    command = parse_slash(text)
    assert command is not None
    command = Command(command.name, command.args, files)
    return await app.service.answer(Caller("console", "room", "u1", may_edit=may_edit), command)


def serve_feeds(httpserver: HTTPServer, *names: str) -> list[str]:
    for name in names:
        httpserver.expect_request(f"/{name}.xml").respond_with_data(
            rss(name.title(), [BELARUS, WEATHER]), content_type="application/rss+xml"
        )
    return [httpserver.url_for(f"/{name}.xml") for name in names]


def opml(*urls: str) -> Attachment:
    return Attachment("feeds.opml", render_opml("mine", [OpmlFeed(u) for u in urls]))


async def test_import_adds_each_feed_through_addfeeds_checks(
    app: App, httpserver: HTTPServer
) -> None:
    world, sport = serve_feeds(httpserver, "world", "sport")
    httpserver.expect_request("/page").respond_with_data(
        "<html>hi</html>", content_type="text/html"
    )
    page = httpserver.url_for("/page")
    reply = await say(app, "/import", opml(world, "not a url", page, sport))
    lines = reply.text.split("\n")
    assert lines[0] == "Import: 2 feeds added, 2 skipped."
    assert f"+ World — {world}" in lines and f"+ Sport — {sport}" in lines
    assert (
        "- not a url: 'not a url' is not a web address. Use a full http:// or https:// URL."
        in lines
    )
    assert any(
        line.startswith(f"- {page}: Could not add that feed: no feed found") for line in lines
    )
    chat = app.store.get_chat("console", "room")
    assert chat is not None
    assert sorted(f.url for f in app.store.chat_feeds(chat.id)) == sorted([world, sport])
    # Again: nothing new, each says it is there already.
    again = await say(app, "/import", opml(world))
    assert again.text.startswith("Import: 0 feeds added, 1 skipped.\n- ")
    assert "already has that feed (number" in again.text


async def test_import_stops_at_the_chats_feed_limit(app: App, httpserver: HTTPServer) -> None:
    urls = serve_feeds(httpserver, "a", "b", "c", "d", "e")
    reply = await say(app, "/import", opml(*urls))
    assert reply.text.startswith("Import: 3 feeds added, 2 skipped.")
    assert reply.text.count("Limit reached") + reply.text.count(msg.IMPORT_LIMIT) == 2


async def test_import_refuses_private_addresses_by_default(
    database_url: str, httpserver: HTTPServer
) -> None:
    (world,) = serve_feeds(httpserver, "world")
    settings = make_settings(database_url, fetch={"allow_private_addresses": False})
    app = App(settings, adapters={"console": ConsoleAdapter(io.StringIO())}, health=False)
    await app.prepare()
    try:
        reply = await say(app, "/import", opml(world))
        assert reply.text.startswith("Import: 0 feeds added, 1 skipped.")
        assert "allow_private_addresses" in reply.text
        # Nor is an OPML file fetched from a private address.
        fetched = await say(app, f"/import {httpserver.url_for('/list.opml')}")
        assert fetched.text.startswith("Could not fetch that OPML file")
        assert app.store.list_feeds() == []
    finally:
        await app.stop()


async def test_import_from_a_url(app: App, httpserver: HTTPServer) -> None:
    (world,) = serve_feeds(httpserver, "world")
    httpserver.expect_request("/list.opml").respond_with_data(
        opml(world).data, content_type="text/x-opml"
    )
    reply = await say(app, f"/import {httpserver.url_for('/list.opml')}")
    assert reply.text == f"Import: 1 feed added, 0 skipped.\n+ World — {world}"


@pytest.mark.parametrize(
    ("file", "error"),
    [
        (Attachment("x.opml", b"<!DOCTYPE x [<!ENTITY a 'b'>]><opml><body/></opml>"), "DTD"),
        (Attachment("x.opml", b"", size=5_000_000), "larger than 1 MB"),
        (Attachment("x.opml", b"x" * 1_000_001), "larger than 1 MB"),
        (Attachment("x.rss", rss("World", [BELARUS])), "not OPML"),
    ],
)
async def test_import_of_a_bad_file_says_why(app: App, file: Attachment, error: str) -> None:
    reply = await say(app, "/import", file)
    assert reply.text.startswith("Could not read that OPML file:") and error in reply.text
    assert reply.private


async def test_import_without_a_file_shows_usage_and_needs_an_admin(app: App) -> None:
    assert (await say(app, "/import")).text == msg.IMPORT_USAGE
    assert (await say(app, "/import", opml(), admin=False)).text == msg.ADMINS_ONLY


async def test_export_sends_the_chats_feeds_as_opml(app: App, httpserver: HTTPServer) -> None:
    assert (await say(app, "/export")).text == msg.EXPORT_NONE
    world, sport = serve_feeds(httpserver, "world", "sport")
    await say(app, f"/addfeed {world}")
    await say(app, f"/addfeed {sport}")
    reply = await say(app, "/export", admin=False)  # read-only: any member may
    assert reply.text == "This chat's 2 feeds, as OPML."
    assert reply.file is not None and reply.file.name == "newsbot-feeds.opml"
    assert [feed.url for feed in parse_opml(reply.file.data)] == [world, sport]


def test_console_reads_import_path_and_prints_files(tmp_path: Path) -> None:
    path = tmp_path / "mine.opml"
    path.write_bytes(opml("https://example.com/f.xml").data)
    command = with_local_file(Command("import", str(path)))
    assert command.files == (Attachment("mine.opml", path.read_bytes(), path.stat().st_size),)
    big = tmp_path / "big.opml"
    big.write_bytes(b"x" * 1_000_001)
    (large,) = with_local_file(Command("import", str(big))).files
    assert large.too_large and large.data == b""
    assert with_local_file(Command("import", "https://x.example/a.opml")).files == ()
    assert with_local_file(Command("import", str(tmp_path / "missing"))).files == ()
    shown = show_reply(Reply("Here.", file=Attachment("f.opml", b"<opml>\x1b[2J</opml>")))
    assert shown == "Here.\n--- file f.opml ---\n<opml>\\x1b[2J</opml>"


async def test_export_masks_configured_secrets_as_replies_do(
    database_url: str, httpserver: HTTPServer
) -> None:
    """A feed address that carries a configured secret (here the LLM key, as a query
    parameter) is masked in the file as ``feeds`` masks it in text."""
    key = "sk-very-secret-key"
    settings = make_settings(
        database_url,
        summary={"llm": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key": key}},
    )
    app = App(settings, adapters={"console": ConsoleAdapter(io.StringIO())}, health=False)
    await app.prepare()
    try:
        (world,) = serve_feeds(httpserver, "world")
        assert (await say(app, f"/addfeed {world}?key={key}")).text.startswith("Feed 1 added")
        assert key not in (await say(app, "/feeds")).text
        reply = await say(app, "/export")
        assert reply.file is not None
        assert key.encode() not in reply.file.data
        assert [f.url for f in parse_opml(reply.file.data)] == [f"{world}?key=***"]
    finally:
        await app.stop()
