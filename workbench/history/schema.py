"""The history's tables, and how the schema is versioned and migrated.

Schema versions: `workbench_schema` holds one row (`id = 1`) with the store's version. A fresh
store is created from `metadata` at `SCHEMA_VERSION`. To change the schema:

1. change the tables in `metadata` (what a fresh store gets);
2. bump `SCHEMA_VERSION` to N;
3. register `MIGRATIONS[N]`, a function of a `Connection` that brings a version N-1 store to
   version N (`ALTER TABLE runs ADD COLUMN ...`), in SQL that both backends accept.

Opening an older store applies the missing migrations in order, and records the new version, in
one transaction under the lock: all or nothing. A store newer than this workbench is refused.

Version 3 scopes evidence to a project name (`core.projectname`): runs, results, confirmations,
readiness and the rollups carry `project`, the rollups and the results' indexes lead with it, and
every row an older store holds goes to project `legacy` (`workbench store claim` adopts them).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.core.projectname import LEGACY
from workbench.history.dialects import add_column, ordered_text

SCHEMA_VERSION = 3

Migration = Callable[[Connection], None]


def _key(length: int) -> sa.types.TypeEngine[str]:
    """Ids and ISO times: compared and ordered as bytes on every backend."""
    return ordered_text(length)


def _project() -> sa.Column[str]:
    """v3: whose evidence a row is (`core.projectname`), never empty."""
    return sa.Column("project", _key(64), nullable=False)


metadata = sa.MetaData()

schema_table = sa.Table(
    "workbench_schema",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1: one version per store
    sa.Column("version", sa.Integer, nullable=False),
    sa.CheckConstraint("id = 1", name="workbench_schema_one_row"),
)

runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", _key(64), primary_key=True),
    sa.Column("started_at", _key(40), nullable=False),
    sa.Column("finished_at", _key(40)),  # empty while running, and for a run found killed
    sa.Column("status", sa.String(16), nullable=False),  # running | complete | interrupted | failed
    sa.Column("environments", sa.Text, nullable=False),  # JSON list
    sa.Column("config_digest", sa.String(64), nullable=False),
    sa.Column("command", sa.String(32), nullable=False),
    sa.Column("workbench_version", sa.String(32), nullable=False),
    sa.Column(
        "requests", sa.Text, nullable=False, default="{}"
    ),  # JSON: requests that reached a server, per environment
    sa.Column("host", sa.String(255), nullable=False, default=""),  # the machine running it
    sa.Column("pid", sa.Integer),  # its process there
    # v2: every probe of the catalog was planned (no --probe selection): only such a run is a baseline
    sa.Column("complete", sa.Boolean),
    sa.Column("config_path", sa.Text),  # v2: the environments file it read ("" for the built-in default)
    _project(),
    sa.Index("ix_runs_status_host", "status", "host"),  # finding this host's runs still running
)

results_table = sa.Table(
    "results",
    metadata,
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
    _project(),
    sa.Index("ix_results_project_env_started", "project", "env", "started_at"),
    # trigger rules per series
    sa.Index("ix_results_project_env_probe_started", "project", "env", "probe", "started_at"),
    sa.Index("ix_results_started", "started_at"),  # hour-level trends over a recent window
)

# Rollups, kept by every append (see `_rollup`): a year of history charts from these few thousand
# rows instead of a scan of a million results. Samples only (outcome pass or fail).
# Their keys lead with the project (v3); the primary keys are named so that a table rebuilt under
# another name and renamed (the v3 migration) keeps the name a fresh store gives it.
series_table = sa.Table(
    "series",
    metadata,
    sa.Column("project", _key(64), nullable=False),
    sa.Column("env", _key(64), nullable=False),
    sa.Column("probe", _key(64), nullable=False),
    sa.PrimaryKeyConstraint("project", "env", "probe", name="series_pk"),
)

daily_outcomes_table = sa.Table(
    "daily_outcomes",
    metadata,
    sa.Column("project", _key(64), nullable=False),
    sa.Column("day", _key(10), nullable=False),  # YYYY-MM-DD of started_at (UTC)
    sa.Column("env", _key(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("symptom", sa.String(16), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("project", "day", "env", "outcome", "symptom", name="daily_outcomes_pk"),
)

daily_latency_table = sa.Table(
    "daily_latency",
    metadata,
    sa.Column("project", _key(64), nullable=False),
    sa.Column("day", _key(10), nullable=False),
    sa.Column("env", _key(64), nullable=False),
    sa.Column("bin", sa.Float, nullable=False),  # lower bound of a tenth-of-a-decade latency bin, ms
    sa.Column("count", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("project", "day", "env", "bin", name="daily_latency_pk"),
)
ROLLUP_TABLES = (series_table, daily_outcomes_table, daily_latency_table)

confirmations_table = sa.Table(
    "confirmations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("env", _key(64), nullable=False),
    sa.Column("item", sa.String(32), nullable=False),
    sa.Column("confirmed_by", sa.String(128), nullable=False),  # as declared (--by): anyone can type it
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("confirmed_at", _key(40), nullable=False),
    sa.Column("expires_at", _key(40)),
    _project(),
    # v3: what the machine saw beside the declared name: the OS user, the host, the config's sha256
    sa.Column("os_user", sa.String(128), nullable=False, default=""),
    sa.Column("host", sa.String(255), nullable=False, default=""),
    sa.Column("config_digest", sa.String(64), nullable=False, default=""),
    sa.Index("ix_confirmations_project_env", "project", "env"),
)

readiness_table = sa.Table(
    "readiness",
    metadata,
    sa.Column("run_id", _key(64), primary_key=True),
    sa.Column("env", _key(64), primary_key=True),
    sa.Column("ready", sa.Boolean, nullable=False),
    sa.Column("steps", sa.Text, nullable=False),  # JSON: the ten steps with status and evidence
    sa.Column("assessed_at", _key(40), nullable=False),
    _project(),
)


# The probes of the catalog when version 1 was current: a version 1 run was complete when every
# environment of it has a result for each (that is all version 1 knew of what was planned).
V1_CATALOG = (
    "endpoint.minimal",
    "request.app_realistic",
    "auth.missing_key",
    "auth.invalid_key",
    "errors.malformed_json",
    "errors.missing_field",
    "errors.invalid_value",
    "response.optional_fields",
    "response.fixture_replay",
    "streaming.sse",
    "limits.operator_confirmation",
)


def _v2_complete_runs(connection: Connection) -> None:
    """Version 2: runs record whether they were complete and which environments file they read."""
    connection.exec_driver_sql("ALTER TABLE runs ADD COLUMN complete BOOLEAN")
    connection.exec_driver_sql("ALTER TABLE runs ADD COLUMN config_path TEXT")
    results = results_table
    counted = (
        sa.select(results.c.run_id, results.c.env, sa.func.count(sa.distinct(results.c.probe)))
        .where(results.c.probe.in_(V1_CATALOG))
        .group_by(results.c.run_id, results.c.env)
    )
    whole: dict[str, set[str]] = {}
    for run_id, env, count in connection.execute(counted):
        if count == len(V1_CATALOG):
            whole.setdefault(run_id, set()).add(env)
    for run_id, environments in connection.execute(sa.select(runs_table.c.run_id, runs_table.c.environments)):
        complete = bool(json.loads(environments)) and set(json.loads(environments)) <= whole.get(
            run_id, set()
        )
        connection.execute(
            runs_table.update().where(runs_table.c.run_id == run_id).values(complete=complete, config_path="")
        )


def _v3_project_names(connection: Connection) -> None:
    """Version 3: every row belongs to a project; what an older store holds goes to `legacy`.

    The new columns take `legacy` as their default (a constant default: no table rewrite on either
    backend). The results' indexes are rebuilt leading with the project; the rollups, whose primary
    keys gain it, are rebuilt under a new name, filled from the old table, and renamed back.
    """
    for table in (runs_table, results_table, confirmations_table, readiness_table):
        add_column(
            connection, table.name, sa.Column("project", _key(64), nullable=False, server_default=LEGACY)
        )
    for name, length in (("os_user", 128), ("host", 255), ("config_digest", 64)):
        add_column(
            connection, "confirmations", sa.Column(name, sa.String(length), nullable=False, server_default="")
        )
    for old in ("ix_results_env_started", "ix_results_env_probe_started", "ix_confirmations_env"):
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {old}")
    for table in (results_table, confirmations_table):
        for index in table.indexes:
            if "project" in index.columns:
                index.create(connection)
    for table in ROLLUP_TABLES:
        staged = table.to_metadata(sa.MetaData(), name=f"{table.name}_v3")
        staged.create(connection)
        kept = [column.name for column in table.columns if column.name != "project"]
        listed = ", ".join(kept)
        connection.exec_driver_sql(
            f"INSERT INTO {staged.name} (project, {listed}) SELECT '{LEGACY}', {listed} FROM {table.name}"
        )
        connection.exec_driver_sql(f"DROP TABLE {table.name}")
        connection.exec_driver_sql(f"ALTER TABLE {staged.name} RENAME TO {table.name}")


MIGRATIONS: dict[int, Migration] = {  # version N -> brings a version N-1 store to N
    2: _v2_complete_runs,
    3: _v3_project_names,
}  # version N -> brings a version N-1 store to N
