"""The history store: every result appended the moment it exists, so a run that dies keeps what it had.

SQLAlchemy Core over SQLite by default (`data/history.sqlite`), any SQLAlchemy URL with `--store`
or `WORKBENCH_STORE` (PostgreSQL for teams). The schema is versioned in `workbench_schema`;
`_MIGRATIONS` brings an older store forward. Nothing secret is ever written here: results hold
statuses, classes, timings, shapes and short details, never keys or headers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from ._confirm import Confirmation
from ._errors import StoreError
from ._models import ProbeResult

STORE_ENV_VAR = "WORKBENCH_STORE"
DEFAULT_STORE_PATH = Path("data/history.sqlite")
SCHEMA_VERSION = 1

metadata = sa.MetaData()

schema_table = sa.Table("workbench_schema", metadata, sa.Column("version", sa.Integer, nullable=False))

runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("status", sa.String(16), nullable=False),  # running | complete | interrupted | failed
    sa.Column("environments", sa.Text, nullable=False),  # JSON list
    sa.Column("config_digest", sa.String(64), nullable=False),
    sa.Column("command", sa.String(32), nullable=False),
    sa.Column("workbench_version", sa.String(32), nullable=False),
    sa.Column("requests", sa.Text, nullable=False, default="{}"),  # JSON: requests sent per environment
)

results_table = sa.Table(
    "results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("env", sa.String(64), nullable=False),
    sa.Column("probe", sa.String(64), nullable=False),
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
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("shape", sa.Text, nullable=False, default="[]"),
    sa.Column("facts", sa.Text, nullable=False, default="{}"),
    sa.Index("ix_results_env_started", "env", "started_at"),
    sa.Index("ix_results_env_probe_started", "env", "probe", "started_at"),  # trigger rules per series
)

confirmations_table = sa.Table(
    "confirmations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("env", sa.String(64), nullable=False, index=True),
    sa.Column("item", sa.String(32), nullable=False),
    sa.Column("confirmed_by", sa.String(128), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("confirmed_at", sa.String(40), nullable=False),
    sa.Column("expires_at", sa.String(40)),
)

readiness_table = sa.Table(
    "readiness",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("env", sa.String(64), primary_key=True),
    sa.Column("ready", sa.Boolean, nullable=False),
    sa.Column("steps", sa.Text, nullable=False),  # JSON: the ten steps with status and evidence
    sa.Column("assessed_at", sa.String(40), nullable=False),
)

_RESULT_COLUMNS = [column.name for column in results_table.columns if column.name != "id"]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of probes: when, over which environments, and whether it finished."""

    run_id: str
    started_at: str
    status: str
    environments: tuple[str, ...]
    config_digest: str
    command: str
    workbench_version: str
    finished_at: str | None = None
    requests: dict[str, int] | None = None


def resolve_store_url(explicit: str | None = None) -> str:
    """`--store`, else `$WORKBENCH_STORE`, else SQLite at `data/history.sqlite` (relative to here)."""
    url = explicit or os.environ.get(STORE_ENV_VAR)
    if url:
        return url
    return f"sqlite:///{DEFAULT_STORE_PATH}"


class HistoryStore:
    """Append-only history of runs and results behind one SQLAlchemy engine."""

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_store_url(url)
        self._engine = _create_engine(self.url)
        self._ensure_schema()

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write the history store {self.display_url}: {_reason(exc)}") from None

    @property
    def display_url(self) -> str:
        """The URL without a password, safe to print."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def begin_run(self, run: RunRecord) -> None:
        with self._write() as connection:
            connection.execute(runs_table.insert().values(**_run_row(run)))

    def finish_run(self, run_id: str, *, status: str, finished_at: str, requests: dict[str, int]) -> None:
        with self._write() as connection:
            connection.execute(
                runs_table.update()
                .where(runs_table.c.run_id == run_id)
                .values(status=status, finished_at=finished_at, requests=json.dumps(requests, sort_keys=True))
            )

    def append(self, result: ProbeResult) -> None:
        """Store one result in its own transaction: durable before the next probe finishes."""
        with self._write() as connection:
            connection.execute(results_table.insert().values(**_result_row(result)))

    def results(self, run_ids: Sequence[str] = (), envs: Sequence[str] = ()) -> list[ProbeResult]:
        """Results in insertion order, filtered by runs and environments."""
        query = sa.select(*[results_table.c[name] for name in _RESULT_COLUMNS]).order_by(results_table.c.id)
        if run_ids:
            query = query.where(results_table.c.run_id.in_(list(run_ids)))
        if envs:
            query = query.where(results_table.c.env.in_(list(envs)))
        with self._read() as connection:
            return [ProbeResult.from_dict(dict(row._mapping)) for row in connection.execute(query)]

    def runs(self, *, limit: int | None = None, run_ids: Iterable[str] = ()) -> list[RunRecord]:
        """Runs, newest first."""
        query = sa.select(runs_table).order_by(runs_table.c.started_at.desc(), runs_table.c.run_id.desc())
        wanted = list(run_ids)
        if wanted:
            query = query.where(runs_table.c.run_id.in_(wanted))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as connection:
            return [_run_record(row._mapping) for row in connection.execute(query)]

    def last_passing_run(self, env: str, *, before: str) -> str | None:
        """The newest complete run before `before` in which `env` ran and nothing failed or errored."""
        results, runs = results_table, runs_table
        ran = sa.exists().where(results.c.run_id == runs.c.run_id, results.c.env == env)
        failed = sa.exists().where(
            results.c.run_id == runs.c.run_id, results.c.env == env, results.c.outcome.in_(["fail", "error"])
        )
        query = (
            sa.select(runs.c.run_id)
            .where(runs.c.started_at < before, runs.c.status == "complete", ran, ~failed)
            .order_by(runs.c.started_at.desc())
            .limit(1)
        )
        with self._read() as connection:
            return connection.execute(query).scalar()

    def run(self, run_id: str) -> RunRecord:
        found = self.runs(run_ids=[run_id])
        if not found:
            raise StoreError(f"no run {run_id!r} in {self.display_url} (list runs with `workbench runs`)")
        return found[0]

    def save_readiness(
        self, run_id: str, env: str, *, ready: bool, steps_json: str, assessed_at: str
    ) -> None:
        with self._write() as connection:
            connection.execute(
                readiness_table.insert().values(
                    run_id=run_id, env=env, ready=ready, steps=steps_json, assessed_at=assessed_at
                )
            )

    def readiness(self, run_id: str) -> dict[str, str]:
        """env -> steps JSON of a run's readiness assessment (empty when none was made)."""
        query = sa.select(readiness_table.c.env, readiness_table.c.steps).where(
            readiness_table.c.run_id == run_id
        )
        with self._read() as connection:
            return {row.env: row.steps for row in connection.execute(query)}

    def add_confirmation(self, confirmation: Confirmation) -> None:
        with self._write() as connection:
            connection.execute(
                confirmations_table.insert().values(
                    env=confirmation.env,
                    item=confirmation.item,
                    confirmed_by=confirmation.by,
                    note=confirmation.note,
                    confirmed_at=confirmation.confirmed_at,
                    expires_at=confirmation.expires_at,
                )
            )

    def confirmations(self, envs: Sequence[str] = ()) -> list[Confirmation]:
        """Every confirmation ever recorded (oldest first); see `_confirm.current_by_item`."""
        table = confirmations_table
        query = sa.select(table).order_by(table.c.confirmed_at, table.c.id)
        if envs:
            query = query.where(table.c.env.in_(list(envs)))
        with self._read() as connection:
            return [
                Confirmation(row.env, row.item, row.confirmed_by, row.note, row.confirmed_at, row.expires_at)
                for row in connection.execute(query)
            ]

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the history store {self.display_url}: {_reason(exc)}") from None

    def _ensure_schema(self) -> None:
        try:
            with self._engine.begin() as connection:
                metadata.create_all(connection, checkfirst=True)
                version = connection.execute(sa.select(schema_table.c.version)).scalar()
                if version is None:
                    connection.execute(schema_table.insert().values(version=SCHEMA_VERSION))
                elif version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.display_url} has schema version {version}, newer than this workbench "
                        f"({SCHEMA_VERSION}): upgrade contract-workbench"
                    )
        except StoreError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the history store {self.display_url}: {_reason(exc)}") from None


def _create_engine(url: str) -> Engine:
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError:
        raise StoreError(
            f"{STORE_ENV_VAR} / --store is not a database URL: expected e.g. sqlite:///data/history.sqlite "
            "or postgresql://user@host/db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(
            f"cannot use store URL {parsed.render_as_string(hide_password=True)}: {exc}"
        ) from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and several writing runs share one file; busy_timeout waits instead of failing."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _run_row(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.status,
        "environments": json.dumps(list(run.environments)),
        "config_digest": run.config_digest,
        "command": run.command,
        "workbench_version": run.workbench_version,
        "requests": json.dumps(run.requests or {}, sort_keys=True),
    }


def _run_record(row: Any) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        started_at=row["started_at"],
        status=row["status"],
        environments=tuple(json.loads(row["environments"])),
        config_digest=row["config_digest"],
        command=row["command"],
        workbench_version=row["workbench_version"],
        finished_at=row["finished_at"],
        requests=json.loads(row["requests"] or "{}"),
    )


def _result_row(result: ProbeResult) -> dict[str, Any]:
    record = result.to_dict()
    record["shape"] = json.dumps(record["shape"])
    record["facts"] = json.dumps(record["facts"], sort_keys=True, default=str)
    return {name: record[name] for name in _RESULT_COLUMNS}


def _reason(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc)
    if isinstance(exc, OperationalError) and "locked" in text:
        text += " (another process holds a long write lock; retry)"
    return text.splitlines()[0][:300]
