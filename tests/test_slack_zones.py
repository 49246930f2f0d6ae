"""Time zones, quiet hours and OPML files in Slack: the whole service over HTTP mode,
signed slash commands and events, against the local Web API stand-in."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from bot.commands import messages as msg
from bot.feeds.opml import OpmlFeed, parse_opml, render_opml
from bot.store import utcnow
from tests import test_slack_app as slack_app
from tests.test_slack_app import CHANNEL, MATCHING, OLD_STORY, OTHER, StartApp, subscribe_and_watch
from tests.test_slack_app import rss as slack_rss

# The Slack app tests' fixture: newsbot started in HTTP mode against the stand-in.
start_app = slack_app.start_app


def span_around_now(hours: int = 1) -> str:
    """Quiet hours that hold the present moment, in UTC+03 (Minsk)."""
    now = utcnow() + timedelta(hours=3)
    return f"{now - timedelta(hours=hours):%H:%M}-{now + timedelta(hours=hours):%H:%M}"


async def test_alert_times_in_the_channels_zone_and_quiet_hours(start_app: StartApp) -> None:
    slack = await start_app()
    await subscribe_and_watch(slack)
    _, wrong = await slack.command("timezone Europe/Minks")
    assert "Did you mean: " in wrong["text"] and "Europe/Minsk" in wrong["text"]
    assert wrong["response_type"] == "ephemeral"
    _, zone = await slack.command("timezone Europe/Minsk")
    assert zone["text"].startswith("Time zone: Europe/Minsk (now ")
    _, quiet = await slack.command(f"quiet {span_around_now()}")
    assert "without a notification sound" in quiet["text"]
    _, status = await slack.command("status")
    assert "Time zone Europe/Minsk; quiet hours" in status["text"]

    assert await slack.poll() == 0
    slack.serve_feed(OLD_STORY, MATCHING, OTHER)
    assert await slack.poll() == 1
    # Slack has no per-message silence: the alert is posted as any other.
    assert await slack.app.dispatcher.run_once() == 1
    (blocks,) = slack.posted_blocks()
    assert blocks[1]["elements"][0]["text"].endswith(" UTC+03")


async def test_held_alerts_are_not_posted_in_quiet_hours(start_app: StartApp) -> None:
    slack = await start_app()
    await subscribe_and_watch(slack)
    await slack.command("timezone Europe/Minsk")
    _, hold = await slack.command(f"quiet {span_around_now()} hold")
    assert "alerts then wait until" in hold["text"]
    assert await slack.poll() == 0
    slack.serve_feed(OLD_STORY, MATCHING, OTHER)
    assert await slack.poll() == 1
    assert await slack.app.dispatcher.run_once() == 0
    assert slack.api.called("chat.postMessage") == []
    _, off = await slack.command("quiet off")
    assert off["text"] == msg.QUIET_OFF
    assert await slack.app.dispatcher.run_once() == 1  # released at once
    assert len(slack.api.called("chat.postMessage")) == 1


async def test_export_uploads_the_feeds_and_import_reads_a_shared_file(
    start_app: StartApp,
) -> None:
    slack = await start_app()
    slack.feeds.expect_request("/sport.xml").respond_with_data(
        slack_rss(MATCHING), content_type="application/rss+xml"
    )
    sport = slack.feeds.url_for("/sport.xml")
    data = render_opml("mine", [OpmlFeed(sport), OpmlFeed(slack.feeds.url_for("/feed.xml"))])
    shared = slack.api.share_file("mine.opml", data)
    mention = {"type": "app_mention", "user": "U0ALICE", "channel": CHANNEL, "ts": "1700.1"}
    await slack.event({**mention, "text": "<@UBOT> import", "files": [shared]})
    (reply,) = await slack.api.wait_for("chat.postMessage")
    text = reply.params["text"]
    assert text.startswith("Import: 1 feed added, 1 skipped.\n")
    assert "Every chat already gets that feed" in text  # the operator's feed: skipped
    (download,) = slack.api.called("download")
    assert download.headers["Authorization"] == "Bearer xoxb-test"

    _, ack = await slack.command("export")
    assert ack["text"] == "This chat's 1 feed, as OPML."
    await slack.api.wait_for("files.completeUploadExternal")
    ((params, uploaded),) = slack.api.uploaded()
    assert params["channel_id"] == CHANNEL
    assert params["files"][0]["title"] == "newsbot-feeds.opml"
    assert [f.url for f in parse_opml(uploaded)] == [sport]


async def test_import_of_a_large_file_or_one_off_slack(start_app: StartApp) -> None:
    slack = await start_app()
    mention = {"type": "app_mention", "user": "U0ALICE", "channel": CHANNEL, "ts": "1700.1"}
    large = slack.api.share_file("big.opml", b"<opml/>", size=50_000_000)
    await slack.event({**mention, "text": "<@UBOT> import", "files": [large]})
    (refused,) = await slack.api.wait_for("chat.postEphemeral")
    assert refused.params["text"] == "Could not read that OPML file: the file is larger than 1 MB"
    elsewhere = {
        **slack.api.share_file("x.opml", b"<opml/>"),
        "url_private": "https://evil.example/x",
    }
    elsewhere["url_private_download"] = "https://evil.example/x"
    await slack.event({**mention, "ts": "1700.2", "text": "<@UBOT> import", "files": [elsewhere]})
    await slack.api.wait_for("chat.postEphemeral", 2)
    assert slack.api.called("chat.postEphemeral")[1].params["text"] == msg.IMPORT_USAGE
    await asyncio.sleep(0.1)
    assert slack.api.called("download") == []  # the token never left for another host


async def test_import_from_a_url_by_slash_command(start_app: StartApp) -> None:
    slack = await start_app()
    slack.feeds.expect_request("/sport.xml").respond_with_data(
        slack_rss(MATCHING), content_type="application/rss+xml"
    )
    sport = slack.feeds.url_for("/sport.xml")
    slack.feeds.expect_request("/list.opml").respond_with_data(
        render_opml("mine", [OpmlFeed(sport)]), content_type="text/x-opml"
    )
    status, ack = await slack.command(f"import {slack.feeds.url_for('/list.opml')}")
    assert status == 200
    if ack["text"] == msg.WORKING:  # slower than the ack budget: the answer comes later
        (response,) = await slack.api.wait_for_response()
        ack = response
    assert json.dumps(ack["text"]).startswith('"Import: 1 feed added, 0 skipped.')
