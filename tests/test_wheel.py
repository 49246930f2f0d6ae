"""The wheel built from a clean copy of the repository runs: what the image installs.

The Dockerfile builds with `pip wheel` and installs the wheel; this test does the same
without Docker. Only files git tracks are copied, so a module or migration that was never
added, or package data the wheel leaves out, fails here. Offline: the build uses this
environment's setuptools (no build isolation) and the installed wheel borrows this
environment's dependencies through a .pth file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# The first word of a reply, of a feed error and of a rule error, read from the installed
# wheel's Russian catalog.
RUSSIAN = (
    "from bot.commands import messages as m; from bot.feeds import messages as f; "
    "from bot.rules import messages as r; from bot.i18n import translate as t; "
    "print(*(t(x, 'ru').split()[0] for x in (m.SUBSCRIBED, f.OPML_NOT_OPML, r.EMPTY)))"
)


def clean_copy(dest: Path) -> Path:
    """The files git tracks, as a fresh clone would have them (with local edits)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted locally is left out, as in a commit
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def install_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a clean copy, install it into a new venv; its bin/ directory."""
    source = clean_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--wheel-dir", str(dist), str(source)],
        check=True,
    )
    (wheel,) = dist.glob("newsbot-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--quiet", "--no-deps", "--no-index"]
        + [str(wheel)],
        check=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Dependencies from this environment; its editable newsbot is not on the path, since
    # .pth files inside a directory named by a .pth file are not read.
    Path(purelib, "_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    return venv / "bin"


def test_the_wheel_migrates_runs_answers_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    bin_dir = install_wheel(tmp_path)
    workdir = tmp_path / "run"
    workdir.mkdir()
    # As in the image: ./config.yaml found from the working directory, no health.listen
    # in it, and the Dockerfile's NEWSBOT_HEALTH_LISTEN host (on a free port here).
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    image_listen = re.search(r"NEWSBOT_HEALTH_LISTEN=(\S+):\d+", dockerfile)
    check = re.search(r"^HEALTHCHECK .*CMD (.+)$", dockerfile, re.MULTILINE)
    assert image_listen is not None and check is not None
    port = free_port()
    config = workdir / "config.yaml"
    config.write_text("database: sqlite:///data/newsbot.db\n", encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEWSBOT_", "TELEGRAM_", "SLACK_", "PYTHON"))
    }
    env["NEWSBOT_HEALTH_LISTEN"] = f"{image_listen.group(1)}:{port}"
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import bot; print(bot.__file__)"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(tmp_path / "venv")), where  # the wheel's, not the checkout's
    # The message catalogs ship in the wheel: a Russian chat is not answered in English.
    russian = subprocess.run(
        [str(bin_dir / "python"), "-c", RUSSIAN],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert russian.split() == ["Подписка", "файл", "правило"], russian

    newsbot = [str(bin_dir / "newsbot")]
    migrated = subprocess.run(
        [*newsbot, "migrate"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "database schema is up to date" in migrated.stdout

    service = subprocess.Popen(
        [*newsbot, "run"],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        status = None
        while status != 200 and time.monotonic() < deadline and service.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
            except httpx.TransportError:
                time.sleep(0.2)
        assert status == 200, service.stdout.read() if service.poll() is not None else ""
        command = json.loads(check.group(1))  # the image's HEALTHCHECK, run from the wheel
        probe = subprocess.run(
            [str(bin_dir / command[0]), *command[1:]],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert probe.returncode == 0, probe.stderr
        assert f"healthy: http://127.0.0.1:{port}/healthz answered 200" in probe.stdout
        service.send_signal(signal.SIGTERM)
        output, _ = service.communicate(timeout=60)
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    assert service.returncode == 0, output
    assert "newsbot started" in output
