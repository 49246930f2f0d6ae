"""What ships for running newsbot in containers: compose.yaml, .env.example, the compose
config, the Dockerfile's health check, and the Prometheus rules and Grafana dashboard."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_settings
from bot.metrics import Metrics
from bot.store import make_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
ENV_REF = re.compile(r"\$\{(\w+)")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return data


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name: value for name, value in pairs}


def test_compose_runs_newsbot_on_a_healthy_postgresql() -> None:
    services = compose()["services"]
    db, bot = services["db"], services["newsbot"]
    assert db["image"].startswith("postgres:")  # the official image
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume, _, path = db["volumes"][0].partition(":")
    assert path == "/var/lib/postgresql/data"
    assert volume in compose()["volumes"]  # a named volume, kept across `down` and upgrades
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert db["restart"] == bot["restart"] == "unless-stopped"
    assert bot["build"] == "."


def test_compose_takes_secrets_from_env_and_the_config_read_only() -> None:
    bot = compose()["services"]["newsbot"]
    assert bot["env_file"] == ".env"
    (mount,) = bot["volumes"]
    assert (mount["type"], mount["source"], mount["read_only"]) == ("bind", "./config.yaml", True)
    assert mount["target"] == bot["environment"]["NEWSBOT_CONFIG"]
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    assert set(ENV_REF.findall(text)) <= set(env_example())
    assert all(value == "" for value in env_example().values())  # no secret ships
    for ignore in (".dockerignore", ".gitignore"):
        lines = (ROOT / ignore).read_text(encoding="utf-8").splitlines()
        assert ".env" in lines and any(line.strip("/") == "config.yaml" for line in lines)


def test_compose_replicas_do_not_fight_over_a_host_port() -> None:
    # `--scale newsbot=3` needs each replica's published port chosen by Docker.
    for mapping in compose()["services"]["newsbot"]["ports"]:
        assert re.fullmatch(r"127\.0\.0\.1::\d+", mapping), mapping


def test_the_compose_config_is_valid_and_listens_where_compose_publishes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = compose()["services"]["newsbot"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    image_listen = re.search(r"NEWSBOT_HEALTH_LISTEN=(\S+)", dockerfile)
    assert image_listen is not None
    for name in env_example():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEWSBOT_HEALTH_LISTEN", image_listen.group(1))
    monkeypatch.setenv("DATABASE_URL", "postgresql://newsbot:pw@db:5432/newsbot")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:ABC")
    settings = load_settings(ROOT / "deploy" / "config.yaml")
    assert settings.database.startswith("postgresql://")
    assert settings.platforms == ["telegram"]
    assert settings.health.listen == "0.0.0.0:8080"  # noqa: S104
    port = settings.health.listen.rpartition(":")[2]
    assert all(mapping.endswith(f"::{port}") for mapping in bot["ports"])
    # Every ${NAME} in the config comes from .env or from compose's environment.
    names = set(ENV_REF.findall((ROOT / "deploy" / "config.yaml").read_text(encoding="utf-8")))
    assert names <= set(env_example()) | set(bot["environment"])


def test_the_image_health_check_runs_newsbot_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    check = re.search(r"^HEALTHCHECK .*CMD (.+)$", dockerfile, re.MULTILINE)
    assert check is not None
    assert json.loads(check.group(1)) == ["newsbot", "health"]


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker CLI with its compose plugin is not installed",
)
def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    for name in ("compose.yaml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=secret\n", encoding="utf-8")
    (tmp_path / "config.yaml").write_text("{}\n", encoding="utf-8")
    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def families(tmp_path: Path) -> list[Any]:
    """Every metric family a service's /metrics holds (the store's read from an empty
    database)."""
    engine = make_engine(f"sqlite:///{tmp_path}/newsbot.db")
    migrate(engine)
    metrics = Metrics()
    metrics.read_store(engine)
    found = list(metrics.registry.collect())
    engine.dispose()
    return found


def series_names(family: Any) -> set[str]:
    """The names a family's samples carry in the text format."""
    if family.type == "counter":
        return {f"{family.name}_total", f"{family.name}_created"}
    if family.type == "histogram":
        return {f"{family.name}_{part}" for part in ("bucket", "count", "sum", "created")}
    return {family.name}


def referenced(expr: str) -> set[str]:
    return set(re.findall(r"\b((?:newsbot|process)_[a-z_]+)", expr))


def test_alerting_rules_and_dashboard_use_series_that_exist(tmp_path: Path) -> None:
    names = set().union(*(series_names(f) for f in families(tmp_path)))
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yaml").read_text(encoding="utf-8"))
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((ROOT / "deploy/grafana/newsbot.json").read_text(encoding="utf-8"))
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for expr in exprs:
        assert referenced(expr), expr
        assert referenced(expr) <= names, expr
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"NewsbotAlertsWaiting", "NewsbotFeedsFailing"} <= alerts


def test_every_series_is_documented(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    ours = [f for f in families(tmp_path) if f.name.startswith("newsbot_")]
    assert len(ours) >= 12
    for family in ours:
        name = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"`{name}`" in doc, f"{name} is not described in docs/operations.md"
