"""The history store: every result appended the moment it exists, so a run that dies keeps what it had.

SQLAlchemy Core over SQLite by default (`data/history.sqlite`), any SQLAlchemy URL with `--store`
or `WORKBENCH_STORE`: `postgresql://user:pass@host/db` for teams (psycopg 3, the `postgres` extra;
`postgresql://` and `postgres://` mean `postgresql+psycopg://`). Both backends get the same schema:
text, integers, floats and booleans. Times are ISO 8601 text (`2026-11-27T04:35:03.123Z`) that
sorts as bytes on both (PostgreSQL columns use the "C" collation, whatever the server's default),
so ordering, range filters and `substr` buckets are the same SQL everywhere. Nothing secret is
ever written here: results hold statuses, classes, timings, shapes and short details, never keys
or headers; a URL's password never appears in a message (`display_url`).

Many processes share one store at once:

- Opening reads the schema version; only a fresh or older store is changed, under a lock
  (SQLite `BEGIN IMMEDIATE`, PostgreSQL `pg_advisory_xact_lock`), so processes opening a fresh
  store together create it once. What a creator without the lock can still cause (`already
  exists`, a lock timeout) is retried after a short jittered pause.
- Every write is one short transaction. SQLite runs in WAL mode with a busy timeout and takes
  the write lock when a write begins: writers queue, readers never wait.
- A run records the host and pid running it. When a run begins, runs of this host still
  `running` whose process is gone (killed, or the machine rebooted) become `interrupted`
  (`mark_stale_runs`); a run on another host is left to that host.

Many projects share one store too. A `HistoryStore` is opened for one project name
(`core.projectname`; never the project folder, which only says where a default SQLite file is):
every row it writes carries that name, and every read (results, runs, baselines, confirmations,
readiness, the trends' aggregates) sees that project's rows only, so two teams with a `staging`
each never see each other's evidence. Rows from before names existed are project `legacy`
(`claim_legacy` adopts them). Only the secret search (`find_text`) and `scrub` read every project:
a key is a leak wherever it is.

The tables and how the schema is versioned and migrated: `_schema`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from workbench.core import clock
from workbench.core.errors import StoreError
from workbench.core.locations import (
    PASSWORD_PARAMETERS,
    STORE_ENV_VAR,
    absolute_store_url,
    store_backend,
    store_url,
    url_has_password,
)
from workbench.core.models import ProbeResult
from workbench.core.process import process_alive
from workbench.core.projectname import LEGACY, ProjectName, ProjectNameError, check_name, resolve
from workbench.core.redaction import Redactor
from workbench.core.terminaltext import printable
from workbench.history import aggregates, scrub
from workbench.history import rollup as rollup
from workbench.history.aggregates import SeriesRun, TrendCounts, WindowCounts
from workbench.history.confirmations import Confirmation
from workbench.history.dialects import IMMEDIATE, create_engine, lock_schema, parse_url
from workbench.history.protocol import Store
from workbench.history.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    confirmations_table,
    metadata,
    readiness_table,
    results_table,
    runs_table,
    schema_table,
)
from workbench.history.scrub import Scrubbed

_OPEN_ATTEMPTS = 6
_REINDEX_ABOVE = 50_000  # results a claim moves past which it builds their indexes again
_log = logging.getLogger("workbench.history")
_TRANSIENT = ("locked", "busy", "already exists", "duplicate key", "deadlock detected", "could not serialize")

_INSERT_RESULT = results_table.insert()
_RESULT_COLUMNS = [column.name for column in results_table.columns if column.name not in ("id", "project")]

# Runs begun by this process and not yet finished: a stale row carrying our own pid is not ours
# unless listed here (a restarted container reuses its pids).
_ACTIVE_RUNS: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of probes: when, over which environments, where, and whether it finished."""

    run_id: str
    started_at: str
    status: str
    environments: tuple[str, ...]
    config_digest: str
    command: str
    workbench_version: str
    finished_at: str | None = None
    requests: dict[str, int] | None = None
    host: str = ""  # stamped by `begin_run` when empty: this machine
    pid: int | None = None  # stamped by `begin_run` when empty: this process
    complete: bool = True  # every probe of the catalog planned; a partial run is never a baseline
    config_path: str = ""  # the environments file read ("" for the built-in default)
    project: str = ""  # whose evidence (`core.projectname`); stamped by `begin_run`

    def origin(self) -> str:
        """Where a run came from, for a baseline shown as evidence: project, host, config, when."""
        config = self.config_path or "the built-in default"
        digest = f" (sha256 {self.config_digest[:12]})" if self.config_digest else ""
        return (
            f"run {self.run_id} of project {self.project or '?'}, {self.command} on host "
            f"{self.host or '?'} at {self.started_at[:19].replace('T', ' ')} UTC, config {config}{digest}"
        )


class HistoryStore:
    """Append-only history of runs and results behind one SQLAlchemy engine."""

    def __init__(
        self,
        url: str | None = None,
        *,
        project: Path | None = None,
        project_name: str | ProjectName | None = None,
        create: bool = True,
    ) -> None:
        """`url` as `locations.store_url` reads it, in project folder `project`. Only the default
        location's folder is created: a folder named in a URL must exist (a typo must not grow a tree
        of folders and a new history). `create=False` (verbs that only read) refuses a SQLite file
        that does not exist yet. `project_name`: whose evidence is read and written (a configured
        name; None derives it from the project folder on SQLite, and is an error on PostgreSQL)."""
        parsed = parse_url(store_url(url, project=project))
        self.url = parsed.render_as_string(hide_password=False)
        self._passwords = _passwords_of(parsed)
        try:
            if isinstance(project_name, ProjectName):
                self._project_name = project_name
            elif project_name is not None:
                self._project_name = ProjectName(check_name(project_name))
            else:
                self._project_name = resolve(None, backend=store_backend(self.url), folder=project or Path())
        except ProjectNameError as exc:
            raise StoreError(f"{self.display_url}: {exc}") from None
        self._project = self._project_name.name
        self._warned: set[str] = set()  # malformed rows already named (`_skipped`)
        if not create and parsed.get_backend_name() == "sqlite" and not Path(str(parsed.database)).is_file():
            raise StoreError(
                f"no history store at {parsed.database}: nothing was recorded with this store yet "
                "(`workbench audit` writes it; --project-dir or --store names another)"
            )
        default = not (url or os.environ.get(STORE_ENV_VAR))
        self._engine = create_engine(parsed, shown=self.display_url, create_folder=default)
        self._writer = self._engine.execution_options(**{IMMEDIATE: True})
        self._ensure_schema()

    @classmethod
    def for_config(cls, config: Config, url: str | None = None, *, create: bool = True) -> HistoryStore:
        """The store `url` (default as `locations.store_url` says) opened for `config`'s project name:
        `[workbench] project`, else derived from its project folder (SQLite only; exit 2 naming the
        key on PostgreSQL)."""
        return cls(
            url,
            project=config.project,
            project_name=config.project_name(store_url(url, project=config.project)),
            create=create,
        )

    @classmethod
    def for_maintenance(
        cls, url: str | None = None, *, project: Path | None = None, create: bool = False
    ) -> HistoryStore:
        """The store opened for what concerns every project's rows (`find_text`, `scrub`, and
        `claim_legacy` through a named store): no project name is needed. Its own evidence methods
        would read and write project `legacy`; use `for_config` for a project's evidence."""
        return cls(url, project=project, project_name=ProjectName(LEGACY), create=create)

    @property
    def project_name(self) -> ProjectName:
        """Whose evidence this store object reads and writes, and whether the name was derived."""
        return self._project_name

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for the history's own modules and tests; other layers use methods."""
        return self._engine

    @property
    def has_password(self) -> bool:
        """Whether the URL carries a password: it may then never be a notebook parameter or printed."""
        return url_has_password(self.url)

    @property
    def absolute_url(self) -> str:
        """The URL with a relative SQLite path made absolute, for a process started in another folder.

        It carries the password, if any: pass it through an environment variable, never a parameter.
        """
        return absolute_store_url(self.url)

    def local_files(self) -> list[Path]:
        """The files on this machine that hold the history: a SQLite file and its -wal, -shm and -journal
        companions (recent results live in the WAL until a checkpoint; a hot journal left by a killed
        writer holds the pages it was changing); none for a server database."""
        parsed = sa.engine.make_url(self.url)
        database = parsed.database
        if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return []
        main = Path(database)
        companions = (Path(f"{main}{suffix}") for suffix in ("-wal", "-shm", "-journal"))
        return [path for path in (main, *companions) if path.exists()]

    def find_text(self, needles: Iterable[str]) -> list[StoredText]:
        """Where the stored text holds any of `needles`: every text column of the results, runs,
        confirmations and readiness tables, searched in SQL (LIKE), for a store with no local file to scan.
        """
        wanted = list(dict.fromkeys(needle for needle in needles if needle))
        found: list[StoredText] = []
        if not wanted:
            return found
        with self._read() as connection:
            for table in (results_table, runs_table, confirmations_table, readiness_table):
                columns = [column for column in table.columns if isinstance(column.type, sa.String)]
                pairs = [(column, needle) for column in columns for needle in wanted]
                counts = [
                    sa.func.coalesce(
                        sa.func.sum(sa.case((column.like(_like_pattern(needle), escape="\\"), 1), else_=0)), 0
                    )
                    for column, needle in pairs
                ]
                row = connection.execute(sa.select(*counts)).one()
                found += [
                    StoredText(f"{table.name}.{column.name}", needle, int(rows))
                    for (column, needle), rows in zip(pairs, row, strict=True)
                    if rows
                ]
        return found

    def scrub(self, values: Mapping[str, str]) -> Scrubbed:
        """Remove key values (variable -> value) from every project's text, in every form and fragment
        the redactor removes, then vacuum the store (`history.scrub`)."""
        try:
            return scrub.scrub(self._engine, Redactor.for_keys(values))
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot scrub the history store {self.display_url}: {self._reason(exc)}"
            ) from None

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def display_url(self) -> str:
        """The URL without a password (in its userinfo or its query), safe to print."""
        return display_url(self.url)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._writer.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot write the history store {self.display_url}: {self._reason(exc)}"
            ) from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot read the history store {self.display_url}: {self._reason(exc)}"
            ) from None

    def begin_run(self, run: RunRecord) -> list[str]:
        """Record a run as running here; first mark this host's dead runs (returned) interrupted."""
        row = _run_row(run)
        row["project"] = self._project
        row["host"] = run.host or socket.gethostname()
        row["pid"] = run.pid if run.pid is not None else os.getpid()
        with _ACTIVE_LOCK:  # before the insert commits: a concurrent begin_run must not see it stale
            _ACTIVE_RUNS.add(run.run_id)
        try:
            with self._write() as connection:
                stale = _mark_stale(connection)
                connection.execute(runs_table.insert().values(**row))
        except BaseException:
            with _ACTIVE_LOCK:
                _ACTIVE_RUNS.discard(run.run_id)
            raise
        return stale

    def finish_run(self, run_id: str, *, status: str, finished_at: str, requests: dict[str, int]) -> None:
        try:
            with self._write() as connection:
                connection.execute(
                    runs_table.update()
                    .where(runs_table.c.run_id == run_id)
                    .values(
                        status=status, finished_at=finished_at, requests=json.dumps(requests, sort_keys=True)
                    )
                )
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE_RUNS.discard(run_id)

    def mark_stale_runs(self) -> list[str]:
        """Mark `interrupted` this host's runs still `running` whose process is gone; their ids."""
        with self._write() as connection:
            return _mark_stale(connection)

    def append(self, result: ProbeResult) -> None:
        """Store one result in its own transaction: durable before the next probe finishes."""
        with self._write() as connection:
            # one cached statement, bound per call
            connection.execute(_INSERT_RESULT, _result_row(result, self._project))
            rollup.record(
                connection, result, self._project
            )  # the same transaction: the rollups never disagree

    def append_many(self, results: Sequence[ProbeResult]) -> None:
        """Store results that arrived together in one transaction (the engine's writer, under load)."""
        if not results:
            return
        with self._write() as connection:
            connection.execute(_INSERT_RESULT, [_result_row(result, self._project) for result in results])
            rollup.record_many(connection, results, self._project)

    def rebuild_rollups(self) -> None:
        """Recompute the trends rollups of every project from the results (after a bulk load, or to
        repair them)."""
        with self._write() as connection:
            rollup.rebuild(connection)

    def claim_legacy(self, envs: Sequence[str] = ()) -> Claimed:
        """Adopt the rows of project `legacy` (written before project names) into this project: the
        results, confirmations and readiness of `envs` (all when empty), and every legacy run whose
        environments are all adopted; their rollup counts move with them. One transaction: all or
        nothing. Moving many results, the indexes that lead with the project are built again after
        (faster than updating them row by row: measured in `make bench`)."""
        wanted = list(dict.fromkeys(envs))
        moved: dict[str, int] = {}
        with self._write() as connection:
            scope = [
                results_table.c.project == LEGACY,
                *([results_table.c.env.in_(wanted)] if wanted else []),
            ]
            many = connection.execute(sa.select(sa.func.count()).where(*scope)).scalar_one() > _REINDEX_ABOVE
            rebuilt = [index for index in results_table.indexes if "project" in index.columns] if many else []
            for index in rebuilt:
                index.drop(connection)
            for table in (results_table, confirmations_table, readiness_table):
                update = table.update().where(table.c.project == LEGACY)
                if wanted:
                    update = update.where(table.c.env.in_(wanted))
                moved[table.name] = connection.execute(update.values(project=self._project)).rowcount
            for index in rebuilt:
                index.create(connection)
            legacy_runs = connection.execute(
                sa.select(runs_table.c.run_id, runs_table.c.environments).where(
                    runs_table.c.project == LEGACY
                )
            ).all()
            adopted = [
                run_id
                for run_id, environments in legacy_runs
                if not wanted or set(_names(environments) or ["?"]) <= set(wanted)
            ]
            for start in range(0, len(adopted), 500):
                connection.execute(
                    runs_table.update()
                    .where(runs_table.c.run_id.in_(adopted[start : start + 500]))
                    .values(project=self._project)
                )
            moved[runs_table.name] = len(adopted)
            rollup.move(connection, LEGACY, self._project, wanted)
        return Claimed(self._project, tuple(wanted), moved)

    def results(
        self,
        run_ids: Sequence[str] = (),
        envs: Sequence[str] = (),
        *,
        probes: Sequence[str] = (),
        since: str | None = None,
    ) -> list[ProbeResult]:
        """Results in insertion order, filtered by runs, environments, probes and a start time."""
        query = (
            sa.select(results_table.c.id, *[results_table.c[name] for name in _RESULT_COLUMNS])
            .where(results_table.c.project == self._project)
            .order_by(results_table.c.id)
        )
        if run_ids:
            query = query.where(results_table.c.run_id.in_(list(run_ids)))
        if envs:
            query = query.where(results_table.c.env.in_(list(envs)))
        if probes:
            query = query.where(results_table.c.probe.in_(list(probes)))
        if since is not None:
            query = query.where(results_table.c.started_at >= since)
        with self._read() as connection:
            rows = [dict(row._mapping) for row in connection.execute(query)]
        results, skipped = [], []
        for row in rows:
            try:
                results.append(ProbeResult.from_dict(row))
            except (ValueError, KeyError, TypeError) as exc:
                skipped.append(f"results id {row['id']} ({_why(exc)})")
        self._skipped(skipped)
        return results

    def runs(
        self, *, limit: int | None = None, run_ids: Iterable[str] = (), env: str | None = None
    ) -> list[RunRecord]:
        """This project's runs, newest first; `env`: only runs that included that environment. A run is
        this project's when it wrote it, or when it holds results of it (a legacy run whose
        environments were claimed by different projects)."""
        holds = sa.exists().where(
            results_table.c.run_id == runs_table.c.run_id, results_table.c.project == self._project
        )
        query = (
            sa.select(runs_table)
            .where(sa.or_(runs_table.c.project == self._project, holds))
            .order_by(runs_table.c.started_at.desc(), runs_table.c.run_id.desc())
        )
        wanted = list(run_ids)
        if wanted:
            query = query.where(runs_table.c.run_id.in_(wanted))
        if env is not None:  # environments is a JSON list of names: match the quoted name exactly
            query = query.where(runs_table.c.environments.contains(json.dumps(env), autoescape=True))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as connection:
            rows = [dict(row._mapping) for row in connection.execute(query)]
        runs, skipped = [], []
        for row in rows:
            try:
                runs.append(_run_record(row))
            except (ValueError, KeyError, TypeError) as exc:
                skipped.append(f"runs {str(row.get('run_id'))[:64]!r} ({_why(exc)})")
        self._skipped(skipped)
        return runs

    def _skipped(self, rows: list[str]) -> None:
        """One warning (stderr) naming the malformed rows a read left out, each named once per store:
        a row another version or a hand wrote must cost a line, never the command."""
        new = [row for row in rows if row not in self._warned]
        if not new:
            return
        self._warned.update(new)
        named = "; ".join(new[:5]) + (f"; and {len(new) - 5} more" if len(new) > 5 else "")
        _log.warning(
            "warning: skipped %d malformed row(s) of the history store %s: %s",
            len(new),
            self.display_url,
            printable(named),
        )

    def last_passing_run(self, env: str, *, before: str) -> str | None:
        """The baseline of `env`: the newest complete run before `before` that finished, planned every
        probe of the catalog (a `--probe` selection is partial, never a baseline), and in which
        `env` of this project ran and nothing failed or errored (another project's `env` of the same
        name is another endpoint)."""
        results, runs = results_table, runs_table
        mine = (results.c.run_id == runs.c.run_id, results.c.project == self._project, results.c.env == env)
        ran = sa.exists().where(*mine)
        failed = sa.exists().where(*mine, results.c.outcome.in_(["fail", "error"]))
        query = (
            sa.select(runs.c.run_id)
            .where(
                runs.c.started_at < before,
                runs.c.status == "complete",
                runs.c.complete.is_(True),
                ran,
                ~failed,
            )
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
                    run_id=run_id,
                    env=env,
                    ready=ready,
                    steps=steps_json,
                    assessed_at=assessed_at,
                    project=self._project,
                )
            )

    def readiness(self, run_id: str) -> dict[str, str]:
        """env -> steps JSON of a run's readiness assessment (empty when none was made)."""
        query = sa.select(readiness_table.c.env, readiness_table.c.steps).where(
            readiness_table.c.run_id == run_id, readiness_table.c.project == self._project
        )
        with self._read() as connection:
            rows = connection.execute(query).all()
        found, skipped = {}, []
        for env, steps in rows:
            try:
                _json_column({"steps": steps}, "steps", "objects")
            except ValueError as exc:
                skipped.append(f"readiness of {run_id!r}/{str(env)[:64]!r} ({_why(exc)})")
                continue
            found[env] = steps
        self._skipped(skipped)
        return found

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
                    os_user=confirmation.os_user,
                    host=confirmation.host,
                    config_digest=confirmation.config_digest,
                    project=self._project,
                )
            )

    def confirmations(self, envs: Sequence[str] = ()) -> list[Confirmation]:
        """Every confirmation this project ever recorded (oldest first); see `current_by_item`."""
        table = confirmations_table
        query = (
            sa.select(table)
            .where(table.c.project == self._project)
            .order_by(table.c.confirmed_at, table.c.id)
        )
        if envs:
            query = query.where(table.c.env.in_(list(envs)))
        with self._read() as connection:
            rows = connection.execute(query).all()
        confirmations, skipped = [], []
        for row in rows:
            try:
                for stamp in (row.confirmed_at, row.expires_at):
                    if stamp is not None:
                        clock.parse_iso(stamp)  # `is_current` compares them: a bad one would stop every run
            except (ValueError, TypeError) as exc:
                skipped.append(f"confirmations id {row.id} (a time that is not ISO 8601: {_why(exc)})")
                continue
            confirmations.append(
                Confirmation(
                    row.env,
                    row.item,
                    row.confirmed_by,
                    row.note,
                    row.confirmed_at,
                    row.expires_at,
                    os_user=row.os_user,
                    host=row.host,
                    config_digest=row.config_digest,
                )
            )
        self._skipped(skipped)
        return confirmations

    # -- opening: create or migrate the schema once, whoever else opens it at the same time ----

    # -- aggregates for trends and trigger rules (`aggregates`): a few rows, however long the history

    def environments(self) -> list[str]:
        """Every environment with samples (a pass or a finding), sorted."""
        with self._read() as connection:
            return aggregates.environments(connection, self._project)

    def series_runs(self, envs: Sequence[str], *, until: str, depth: int) -> dict[str, list[SeriesRun]]:
        """Per environment, each probe's current run of one class, reading at most `depth` samples each."""
        with self._read() as connection:
            return aggregates.series_runs(connection, self._project, envs, until, depth)

    def window_counts(self, envs: Sequence[str], *, after: str, until: str) -> dict[str, WindowCounts]:
        """Per environment, samples in (after, until] and how many show each class."""
        with self._read() as connection:
            return aggregates.window_counts(connection, self._project, envs, after, until)

    def sample_days(self, envs: Sequence[str] = (), *, since: str | None = None) -> tuple[str, str] | None:
        """The first and last day with samples (YYYY-MM-DD), from the daily rollup."""
        with self._read() as connection:
            return aggregates.sample_days(connection, self._project, envs, since)

    def sample_span(self, envs: Sequence[str] = (), *, since: str | None = None) -> tuple[str, str] | None:
        """The first and last sample's start time, to the millisecond."""
        with self._read() as connection:
            return aggregates.sample_span(connection, self._project, envs, since)

    def trend_counts(self, bucket: str, envs: Sequence[str] = (), *, since: str | None = None) -> TrendCounts:
        """Samples per (bucket, env, outcome, symptom) and per latency bin; `bucket` in `BUCKETS`."""
        with self._read() as connection:
            return aggregates.trend_counts(connection, self._project, bucket, envs, since)

    def _ensure_schema(self) -> None:
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                if self._stored_version() != SCHEMA_VERSION:  # the common case reads one row, no lock
                    self._create_or_migrate()
                return
            except SQLAlchemyError as exc:
                if attempt + 1 < _OPEN_ATTEMPTS and _transient(exc):
                    time.sleep(0.05 * 2**attempt * random.uniform(0.5, 1.5))
                    continue
                raise StoreError(
                    f"cannot open the history store {self.display_url}: {self._reason(exc)}"
                ) from None

    def _stored_version(self) -> int | None:
        """The store's version, or None when there is no (current) version table to read."""
        with self._engine.connect() as connection:  # a refused connection fails here, not below
            try:
                version = connection.execute(
                    sa.select(schema_table.c.version).where(schema_table.c.id == 1)
                ).scalar()
            except DBAPIError:
                return None  # no such table (a fresh store) or column: the locked path looks closer
        self._refuse_newer(version)
        return version

    def _create_or_migrate(self) -> None:
        with self._writer.begin() as connection:  # SQLite: BEGIN IMMEDIATE, one schema writer at once
            lock_schema(connection)
            inspector = sa.inspect(connection)
            version = None
            if inspector.has_table(schema_table.name):
                if "id" not in {column["name"] for column in inspector.get_columns(schema_table.name)}:
                    raise StoreError(
                        f"{self.display_url} was created by a pre-release workbench: move it aside "
                        "(or delete it) and run again to start a new history"
                    )
                version = connection.execute(
                    sa.select(schema_table.c.version).where(schema_table.c.id == 1)
                ).scalar()
            if version is None:
                metadata.create_all(connection)
                connection.execute(schema_table.insert().values(id=1, version=SCHEMA_VERSION))
                return
            self._refuse_newer(version)
            for target in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](connection)
            connection.execute(
                schema_table.update().where(schema_table.c.id == 1).values(version=SCHEMA_VERSION)
            )

    def _refuse_newer(self, version: int | None) -> None:
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.display_url} has schema version {version}, newer than this workbench "
                f"({SCHEMA_VERSION}): upgrade contract-workbench"
            )

    def _reason(self, exc: SQLAlchemyError) -> str:
        """The driver's first line, never the password (a driver may echo what it was given)."""
        original = getattr(exc, "orig", None)
        text = str(original if original is not None else exc).strip()
        text = text.splitlines()[0][:300] if text else type(exc).__name__
        for password in self._passwords:
            text = text.replace(password, "***")
        if "locked" in text:
            text += " (another process holds a long write lock; retry)"
        return text


def open_for_report(config_path: str = "", store_url: str = "", *, create: bool = True) -> HistoryStore:
    """The store a report notebook (or `workbench.History`) is given, opened for the project its
    configuration names: `config_path` (empty: as `locations.find_config` finds one from here) and
    `store_url` (empty: $WORKBENCH_STORE, else the project's SQLite file)."""
    from workbench.core.config import load_config

    return HistoryStore.for_config(
        load_config(Path(config_path) if config_path else None), store_url or None, create=create
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    """What `claim_legacy` moved into `project`: rows per table (runs: whole runs adopted)."""

    project: str
    envs: tuple[str, ...]  # empty: every environment
    rows: dict[str, int]


@dataclass(frozen=True, slots=True)
class StoredText:
    """A needle found in the store: the column (`table.column`) and how many rows hold it."""

    column: str
    needle: str
    rows: int


def _like_pattern(needle: str) -> str:
    """A LIKE pattern matching `needle` anywhere, its own `%`, `_` and `\\` taken literally."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def display_url(url: str) -> str:
    """A store URL safe to print: every password hidden wherever the URL carries it (its userinfo,
    and each libpq password parameter of its query, `password` and `sslpassword`)."""
    try:
        parsed = sa.engine.make_url(url)
    except (ArgumentError, ValueError):
        return "<not a database URL>"
    hidden = {name: "***" for name in parsed.query if name.lower() in PASSWORD_PARAMETERS}
    shown = parsed.update_query_dict(hidden).render_as_string(hide_password=True)
    for name in hidden:
        shown = shown.replace(f"{name}=%2A%2A%2A", f"{name}=***")  # rendering quotes the stars
    return shown


def _passwords_of(url: sa.URL) -> list[str]:
    """Every secret the URL carries: what a driver's message must never repeat."""
    found = [url.password] if url.password else []
    for name, value in url.query.items():
        if name.lower() in PASSWORD_PARAMETERS:
            found += [value] if isinstance(value, str) else list(value)
    return [secret for secret in found if secret]


def _transient(exc: SQLAlchemyError) -> bool:
    """An error another process opening the store at the same moment can cause: worth a retry."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(marker in text for marker in _TRANSIENT)


# -- runs whose process is gone ----------------------------------------------------------------


def _mark_stale(connection: Connection) -> list[str]:
    host = socket.gethostname()
    running = connection.execute(
        sa.select(runs_table.c.run_id, runs_table.c.pid, runs_table.c.started_at).where(
            runs_table.c.status == "running", runs_table.c.host == host
        )
    ).all()
    marked = []
    for run_id, pid, started_at in running:
        if _process_alive(run_id, pid, started_at):
            continue
        done = connection.execute(
            runs_table.update()
            .where(runs_table.c.run_id == run_id, runs_table.c.status == "running")
            .values(status="interrupted")
        )
        if done.rowcount:
            marked.append(run_id)
    return marked


def _process_alive(run_id: str, pid: int | None, started_at: str) -> bool:
    """Whether the process that began a run on this host may still be running it (when unsure: yes)."""
    if pid is None:
        return True
    if pid == os.getpid():
        with _ACTIVE_LOCK:
            return run_id in _ACTIVE_RUNS
    return process_alive(pid, started_before=datetime.fromisoformat(started_at.replace("Z", "+00:00")))


# -- rows ----------------------------------------------------------------------------------------


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
        "host": run.host,
        "pid": run.pid,
        "complete": run.complete,
        "config_path": run.config_path,
        "project": run.project,
    }


def _run_record(row: Any) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        started_at=row["started_at"],
        status=row["status"],
        environments=tuple(_json_column(row, "environments", "names")),
        config_digest=row["config_digest"],
        command=row["command"],
        workbench_version=row["workbench_version"],
        finished_at=row["finished_at"],
        requests=_json_column(row, "requests", "object", default="{}"),
        host=row["host"],
        pid=row["pid"],
        complete=bool(row["complete"]),
        config_path=row["config_path"] or "",
        project=row["project"],
    )


_SHAPES: dict[str, tuple[type[Any], type[Any] | None, str]] = {
    "names": (list, str, "a JSON list of names"),
    "object": (dict, None, "a JSON object"),
    "objects": (list, dict, "a JSON list of objects"),
}


def _json_column(row: Any, column: str, shape: str, default: str = "") -> Any:
    """A JSON column's value of `shape` (`_SHAPES`); ValueError naming the column when it is not."""
    try:
        value = json.loads(row[column] or default)
    except (TypeError, ValueError):
        raise ValueError(f"{column} is not JSON") from None
    kind, items, words = _SHAPES[shape]
    if not isinstance(value, kind) or (
        items is not None and not all(isinstance(item, items) for item in value)
    ):
        raise ValueError(f"{column} is not {words}")
    return value


def _why(exc: Exception) -> str:
    """Why a row could not be read, in a few words (a bad value shown short)."""
    if isinstance(exc, json.JSONDecodeError):
        return "a JSON column is not JSON"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _names(environments: str) -> list[str]:
    """A run's environments column (a JSON list of names); [] when it is not one."""
    try:
        names = json.loads(environments)
    except (TypeError, ValueError):
        return []
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


def _result_row(result: ProbeResult, project: str) -> dict[str, Any]:
    """The row of a result, built field by field (no deep copy: this runs once per probe)."""
    row = {name: getattr(result, name) for name in _RESULT_COLUMNS}
    row.update(
        project=project,
        area=str(result.area),
        outcome=str(result.outcome),
        symptom=str(result.symptom),
        shape=json.dumps(list(result.shape)),
        facts=json.dumps(dict(result.facts), sort_keys=True, default=str),
    )
    return row


if TYPE_CHECKING:
    from workbench.core.config import Config

    # mypy checks that HistoryStore offers every method of the protocol
    _CONFORMS: type[Store] = HistoryStore
