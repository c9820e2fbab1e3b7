"""Stores as older workbenches left them: the tables of schema version 2 (before project names),
frozen here as that version created them, and version 1 (before runs recorded whether they were
complete), so a migration test starts from what a team really has on disk."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from workbench.history.dialects import ordered_text

V2 = sa.MetaData()


def _key(length: int) -> sa.types.TypeEngine[str]:
    return ordered_text(length)


sa.Table(
    "workbench_schema",
    V2,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.CheckConstraint("id = 1", name="workbench_schema_one_row"),
)
sa.Table(
    "runs",
    V2,
    sa.Column("run_id", _key(64), primary_key=True),
    sa.Column("started_at", _key(40), nullable=False),
    sa.Column("finished_at", _key(40)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("environments", sa.Text, nullable=False),
    sa.Column("config_digest", sa.String(64), nullable=False),
    sa.Column("command", sa.String(32), nullable=False),
    sa.Column("workbench_version", sa.String(32), nullable=False),
    sa.Column("requests", sa.Text, nullable=False, default="{}"),
    sa.Column("host", sa.String(255), nullable=False, default=""),
    sa.Column("pid", sa.Integer),
    sa.Column("complete", sa.Boolean),
    sa.Column("config_path", sa.Text),
    sa.Index("ix_runs_status_host", "status", "host"),
)
sa.Table(
    "results",
    V2,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", _key(64), nullable=False, index=True),
    sa.Column("env", _key(64), nullable=False),
    sa.Column("probe", _key(64), nullable=False),
    sa.Column("area", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("symptom", sa.String(16), nullable=False),
    sa.Column("retryable", sa.Boolean, nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("latency_ms", sa.Float),
    sa.Column("ttft_ms", sa.Float),
    sa.Column("retry_after_s", sa.Float),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("started_at", _key(40), nullable=False),
    sa.Column("shape", sa.Text, nullable=False, default="[]"),
    sa.Column("facts", sa.Text, nullable=False, default="{}"),
    sa.Index("ix_results_env_started", "env", "started_at"),
    sa.Index("ix_results_env_probe_started", "env", "probe", "started_at"),
    sa.Index("ix_results_started", "started_at"),
)
sa.Table(
    "series",
    V2,
    sa.Column("env", _key(64), primary_key=True),
    sa.Column("probe", _key(64), primary_key=True),
)
sa.Table(
    "daily_outcomes",
    V2,
    sa.Column("day", _key(10), primary_key=True),
    sa.Column("env", _key(64), primary_key=True),
    sa.Column("outcome", sa.String(16), primary_key=True),
    sa.Column("symptom", sa.String(16), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
sa.Table(
    "daily_latency",
    V2,
    sa.Column("day", _key(10), primary_key=True),
    sa.Column("env", _key(64), primary_key=True),
    sa.Column("bin", sa.Float, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
sa.Table(
    "confirmations",
    V2,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("env", _key(64), nullable=False, index=True),
    sa.Column("item", sa.String(32), nullable=False),
    sa.Column("confirmed_by", sa.String(128), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("confirmed_at", _key(40), nullable=False),
    sa.Column("expires_at", _key(40)),
)
sa.Table(
    "readiness",
    V2,
    sa.Column("run_id", _key(64), primary_key=True),
    sa.Column("env", _key(64), primary_key=True),
    sa.Column("ready", sa.Boolean, nullable=False),
    sa.Column("steps", sa.Text, nullable=False),
    sa.Column("assessed_at", _key(40), nullable=False),
)


def run_row(run_id: str, environments: Iterable[str], started_at: str, **changes: Any) -> dict[str, Any]:
    """A finished, complete version 2 run row."""
    row: dict[str, Any] = {
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": started_at,
        "status": "complete",
        "environments": json.dumps(list(environments)),
        "config_digest": "d" * 64,
        "command": "audit",
        "workbench_version": "0.1.0",
        "requests": "{}",
        "host": "old-host",
        "pid": None,
        "complete": True,
        "config_path": "data/environments.toml",
    }
    row.update(changes)
    return row


def result_row(
    run_id: str, env: str, probe: str, outcome: str, started_at: str, **changes: Any
) -> dict[str, Any]:
    """A version 2 result row (a pass, unless `outcome` and `symptom` say otherwise)."""
    row: dict[str, Any] = {
        "run_id": run_id,
        "env": env,
        "probe": probe,
        "area": "endpoint",
        "outcome": outcome,
        "symptom": "none" if outcome == "pass" else "parser",
        "retryable": False,
        "http_status": 200,
        "latency_ms": 120.0,
        "ttft_ms": None,
        "retry_after_s": None,
        "detail": "",
        "action": "",
        "started_at": started_at,
        "shape": "[]",
        "facts": "{}",
    }
    row.update(changes)
    return row


def create_v2_store(url: str, tables: Mapping[str, list[dict[str, Any]]]) -> None:
    """A version 2 store at `url` holding `tables` (name -> rows), its rollups computed as version 2
    kept them (per day and environment, no project)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            V2.create_all(connection)
            connection.execute(V2.tables["workbench_schema"].insert().values(id=1, version=2))
            for name, rows in tables.items():
                if rows:
                    connection.execute(V2.tables[name].insert(), rows)
            _v2_rollups(connection)
    finally:
        engine.dispose()


def fill_v2_rollups(url: str) -> None:
    """Recompute a version 2 store's rollups from its results (after rows were added to it)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            _v2_rollups(connection)
    finally:
        engine.dispose()


def _v2_rollups(connection: sa.Connection) -> None:
    for name in ("daily_outcomes", "daily_latency", "series"):
        connection.execute(V2.tables[name].delete())
    results = V2.tables["results"]
    samples = results.c.outcome.in_(("pass", "fail"))
    day = sa.func.substr(results.c.started_at, 1, 10)
    keys = (day, results.c.env, results.c.outcome, results.c.symptom)
    connection.execute(
        V2.tables["daily_outcomes"]
        .insert()
        .from_select(
            ["day", "env", "outcome", "symptom", "count"],
            sa.select(*keys, sa.func.count()).where(samples).group_by(*keys),
        )
    )
    binned = (day, results.c.env, sa.cast(results.c.latency_ms / 10, sa.Integer) * 10)
    connection.execute(
        V2.tables["daily_latency"]
        .insert()
        .from_select(
            ["day", "env", "bin", "count"],
            sa.select(*binned, sa.func.count())
            .where(samples, results.c.latency_ms.is_not(None))
            .group_by(*binned),
        )
    )
    connection.execute(
        V2.tables["series"]
        .insert()
        .from_select(["env", "probe"], sa.select(results.c.env, results.c.probe).where(samples).distinct())
    )


def downgrade_v2_to_v1(url: str) -> None:
    """A version 2 store as version 1 left it: runs without `complete` and `config_path`."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE runs DROP COLUMN complete")
            connection.exec_driver_sql("ALTER TABLE runs DROP COLUMN config_path")
            connection.execute(V2.tables["workbench_schema"].update().values(version=1))
    finally:
        engine.dispose()
