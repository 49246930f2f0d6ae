"""Schema migration when several replicas start at once on one PostgreSQL database."""

from __future__ import annotations

import subprocess
import sys
import time

from sqlalchemy import inspect

from bot.store import make_engine
from tests.conftest import _reset_pg

# Each process waits for the same moment, then migrates: as replicas started together do.
MIGRATE = """
import sys, time
from bot.store import make_engine, migrate
engine = make_engine(sys.argv[1])
engine.connect().close()
time.sleep(max(float(sys.argv[2]) - time.time(), 0))
migrate(engine)
"""


def test_replicas_starting_together_migrate_one_after_another(pg_database: str) -> None:
    # `docker compose up --scale newsbot=3` on an empty database: every replica migrates.
    for _ in range(2):  # a race shows in some rounds only
        _reset_pg(pg_database)
        at = str(time.time() + 3)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", MIGRATE, pg_database, at],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        failures = [err for p in procs if (err := p.communicate(timeout=60)[1]) and p.returncode]
        assert failures == []
    engine = make_engine(pg_database)
    assert "outbox" in inspect(engine).get_table_names()
    engine.dispose()
