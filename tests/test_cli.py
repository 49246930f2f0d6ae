"""The ``newsbot`` command line, run as a user runs it: a real process."""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import yaml
from pytest_httpserver import HTTPServer

from bot.commands import messages as msg
from tests.feedserver import BELARUS, WEATHER, rss

STORY = (
    "Alexander Lukashenko said he would not free political prisoners en masse. "
    "Rights groups count more than 1,300 political prisoners."
)


def newsbot(
    *args: str, stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


@contextlib.contextmanager
def service(config: Path, *, stdin: int) -> Iterator[subprocess.Popen[str]]:
    """``newsbot run`` as a child process; killed at the end if a test left it running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def read_until(stream: IO[str], wanted: str, *, within: float) -> list[str]:
    """Lines read from ``stream`` until one equals ``wanted`` or ``within`` seconds pass."""
    found: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [found.put(line) for line in stream], daemon=True).start()
    lines: list[str] = []
    deadline = time.monotonic() + within
    while wanted not in lines and (left := deadline - time.monotonic()) > 0:
        with contextlib.suppress(queue.Empty):
            lines.append(found.get(timeout=left).rstrip("\n"))
    return lines


def write_config(tmp_path: Path, **values: object) -> Path:
    config = {"database": f"sqlite:///{tmp_path}/bot.db", "health": {"listen": None}, **values}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_rule_test_match(tmp_path: Path) -> None:
    result = newsbot(
        "rule", "test", 'Belarus AND "prisoner release"',
        "--title", "Belarus leader dampens hopes for mass prisoner release",
        stdin=STORY, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("match\n")
    assert "Belarus" in result.stdout and "prisoner release" in result.stdout


def test_rule_test_no_match_reads_a_file(tmp_path: Path) -> None:
    body = tmp_path / "story.txt"
    body.write_text(STORY)
    result = newsbot("rule", "test", "volcano OR earthquake", str(body), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "no match\n")


def test_rule_test_bad_query_shows_the_column(tmp_path: Path) -> None:
    result = newsbot("rule", "test", 'Belarus AND "prisoner release', stdin="", cwd=tmp_path)
    assert result.returncode == 2
    assert "column 13" in result.stderr
    assert "^" in result.stderr


def test_bad_config_stops_with_one_line_per_problem(tmp_path: Path) -> None:
    config = write_config(tmp_path, poll={"interval": "often"}, fetch={"max_bytes": "big"})
    result = newsbot("migrate", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert any(line.startswith("poll.interval:") for line in lines)
    assert any(line.startswith("fetch.max_bytes:") for line in lines)


def test_migrate_then_check_polls_and_sends_nothing(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/world.xml").respond_with_data(
        rss("World", [BELARUS, WEATHER]), content_type="application/rss+xml"
    )
    httpserver.expect_request("/broken.xml").respond_with_data("nope", status=503)
    config = write_config(
        tmp_path,
        fetch={"allow_private_addresses": True},
        feeds=[{"url": httpserver.url_for("/world.xml"), "name": "World"},
               {"url": httpserver.url_for("/broken.xml")}],
        subscriptions=[{"platform": "console", "chat": "desk", "rules": ['"prisoner release"']}],
    )  # fmt: skip
    assert newsbot("migrate", "--config", str(config)).returncode == 0
    result = newsbot("check", "--config", str(config))
    assert result.returncode == 1  # one feed failed
    out = result.stdout
    assert f" - {BELARUS.title}" in out and f" - {WEATHER.title}" in out
    assert 'matches console chat desk: "prisoner release"' in out
    assert "error: HTTP 503" in out
    assert "--- alert" not in out


def test_run_stops_cleanly_on_sigterm(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/world.xml").respond_with_data(
        rss("World", [WEATHER]), content_type="application/rss+xml"
    )
    config = write_config(
        tmp_path,
        fetch={"allow_private_addresses": True},
        feeds=[{"url": httpserver.url_for("/world.xml")}],
    )
    with service(config, stdin=subprocess.DEVNULL) as process:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not httpserver.log:
            time.sleep(0.1)
        assert httpserver.log, "the feed was never polled"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "newsbot started" in stderr


@pytest.mark.parametrize("argv", [["--help"], ["rule", "--help"]])
def test_help(argv: list[str], tmp_path: Path) -> None:
    result = newsbot(*argv, cwd=tmp_path)
    assert result.returncode == 0 and "usage: newsbot" in result.stdout


def test_console_conversation_on_stdin(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with service(config, stdin=subprocess.PIPE) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("/subscribe\n/watch Belarus AND\n/watch Belarus\n/rules\n")
        process.stdin.flush()
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "1. Belarus" not in lines:
            lines.append(process.stdout.readline().rstrip("\n"))
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
    assert any(line.startswith("Subscribed") for line in lines)
    assert any("column" in line for line in lines)  # the dangling AND
    assert "Rule 1 added: Belarus" in lines
    assert lines[-1] == "1. Belarus"


@pytest.mark.parametrize("command", ["check", "run", "migrate"])
def test_unreachable_database_is_one_line_saying_what_to_check(
    command: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, database="postgresql://nobody:Pw1234567@127.0.0.1:5999/x")
    result = newsbot(command, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "newsbot: cannot use the database postgresql://nobody:***@127.0.0.1:5999/x: "
    )
    assert "Connection refused" in line and "check the database: setting" in line
    assert "Pw1234567" not in result.stderr


def test_a_sqlite_file_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    config = write_config(tmp_path, database=f"sqlite:///{blocker}/bot.db")
    result = newsbot("check", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"newsbot: cannot use the database sqlite:///{blocker}/bot.db: ")
    assert "check the database: setting" in line


@pytest.mark.parametrize(
    ("content", "reason"), [(None, "No such file or directory"), (b"\xff\xfe\x00", "not UTF-8")]
)
def test_rule_test_with_a_file_it_cannot_read(
    content: bytes | None, reason: str, tmp_path: Path
) -> None:
    if content is not None:
        (tmp_path / "nosuchfile.txt").write_bytes(content)
    result = newsbot("rule", "test", "belarus", "nosuchfile.txt", cwd=tmp_path)
    assert result.returncode == 2  # a problem with what was given, not "no match"
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("newsbot: cannot read the story nosuchfile.txt: ")
    assert reason in result.stderr


def test_check_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """``newsbot check | head -1``: the reader goes away before newsbot is done."""
    config = write_config(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "check", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as head does once it has its line
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 141, stderr  # as if stopped by SIGPIPE
    assert stderr == ""


def test_check_polls_only_the_feeds_run_would_poll(tmp_path: Path, httpserver: HTTPServer) -> None:
    for path in ("/kept.xml", "/dropped.xml"):
        httpserver.expect_request(path).respond_with_data(
            rss("World", [WEATHER]), content_type="application/rss+xml"
        )
    kept, dropped = httpserver.url_for("/kept.xml"), httpserver.url_for("/dropped.xml")
    both = write_config(
        tmp_path, fetch={"allow_private_addresses": True}, feeds=[{"url": kept}, {"url": dropped}]
    )
    assert newsbot("check", "--config", str(both)).returncode == 0
    httpserver.clear_log()
    one = write_config(tmp_path, fetch={"allow_private_addresses": True}, feeds=[{"url": kept}])
    result = newsbot("check", "--config", str(one))
    assert result.returncode == 0, result.stderr
    assert kept in result.stdout and dropped not in result.stdout
    assert [request.path for request, _ in httpserver.log] == ["/kept.xml"]


def test_check_prints_no_terminal_control_characters(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "World \u009b2J",
        "items": [
            {
                "id": "1",
                "title": "Belarus \u009b31m red",
                "url": "https://news.example/1",
                "content_text": "x",
            }
        ],
    }
    httpserver.expect_request("/feed.json").respond_with_json(feed)
    config = write_config(
        tmp_path,
        fetch={"allow_private_addresses": True},
        feeds=[{"url": httpserver.url_for("/feed.json")}],
    )
    result = newsbot("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "\x9b" not in result.stdout
    assert " - Belarus \\x9b31m red  <https://news.example/1>" in result.stdout


def test_console_keeps_answering_after_a_command_that_crashes(tmp_path: Path) -> None:
    """A /watch of 249 nested parentheses once killed the stdin reader for good."""
    config = write_config(tmp_path)
    nested = "(" * 249 + "x" + ")" * 249
    log = tmp_path / "stderr.log"  # a file: the traceback is larger than a pipe's buffer
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(f"/watch {nested}\n/rules\n")
        process.stdin.flush()
        lines = read_until(process.stdout, msg.NO_RULES, within=30)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert msg.NO_RULES in lines, (lines, log.read_text()[-2000:])
    # The rule itself is refused: with a column error, or, if the parser fails on it in a
    # way nobody foresaw, with the apology (and the traceback in the log).
    answer = "\n".join(lines[: lines.index(msg.NO_RULES)])
    assert msg.FAILED in answer or "column 33: " in answer, answer
