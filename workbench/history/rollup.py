"""Rollups of the history, kept current by every append: what trends over months are read from.

A year of scheduled runs is a million results; grouping them takes seconds on every report. So
each sample (outcome pass or fail) also adds one to its day's count per environment, outcome and
symptom, and to its day's latency bin, in the same transaction as the result itself; the series
(environment, probe) it belongs to is recorded once. Trends by day or month then read a few
thousand rows. `rebuild` recomputes them from the results (a store filled by other means, or the
evidence `workbench store claim` moved to another project). Every rollup key leads with the
project (`core.projectname`): one project's counts are never another's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.core.models import SAMPLE_OUTCOMES, ProbeResult
from workbench.history.dialects import floor, insert
from workbench.history.schema import (
    ROLLUP_TABLES,
    daily_latency_table,
    daily_outcomes_table,
    results_table,
    series_table,
)


def latency_bin(latency_ms: float) -> float:
    """The lower bound of its bin: 1 ms wide below 100 ms, 10 ms below 1 s, 100 ms below 10 s, then 1 s."""
    for limit, width in ((100.0, 1.0), (1_000.0, 10.0), (10_000.0, 100.0)):
        if latency_ms < limit:
            return float(math.floor(latency_ms / width) * width)
    return float(math.floor(latency_ms / 1_000.0) * 1_000.0)


def latency_bin_sql(latency: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """`latency_bin` in SQL, floored portably."""
    return sa.case(
        (latency < 100, floor(latency, dialect)),
        (latency < 1_000, floor(latency / 10, dialect) * 10),
        (latency < 10_000, floor(latency / 100, dialect) * 100),
        else_=floor(latency / 1_000, dialect) * 1_000,
    )


_OUTCOME_KEY = ("project", "day", "env", "outcome", "symptom")
_LATENCY_KEY = ("project", "day", "env", "bin")


def record(connection: Connection, result: ProbeResult, project: str) -> None:
    """Count one result of `project` into the rollups (nothing for a skip, an error, a pending
    confirmation)."""
    outcome = str(result.outcome)
    if outcome not in SAMPLE_OUTCOMES:
        return
    day, dialect = result.started_at[:10], connection.dialect.name
    connection.execute(
        _upsert(dialect, daily_outcomes_table, _OUTCOME_KEY),
        {
            "project": project,
            "day": day,
            "env": result.env,
            "outcome": outcome,
            "symptom": str(result.symptom),
            "count": 1,
        },
    )
    if result.latency_ms is not None:
        connection.execute(
            _upsert(dialect, daily_latency_table, _LATENCY_KEY),
            {
                "project": project,
                "day": day,
                "env": result.env,
                "bin": latency_bin(result.latency_ms),
                "count": 1,
            },
        )
    connection.execute(
        _ignore(dialect, series_table), {"project": project, "env": result.env, "probe": result.probe}
    )


def record_many(connection: Connection, results: Sequence[ProbeResult], project: str) -> None:
    """`record` for a batch: each rollup key counted once, one statement per table, its rows in key
    order, so runs writing the same keys at once lock them in one order (seen once: PostgreSQL broke
    a deadlock between four concurrent audits of one project whose batches listed them differently)."""
    outcomes: Counter[tuple[str, str, str, str]] = Counter()  # (day, env, outcome, symptom)
    latencies: Counter[tuple[str, str, float]] = Counter()
    series: dict[tuple[str, str], None] = {}
    for result in results:
        outcome = str(result.outcome)
        if outcome not in SAMPLE_OUTCOMES:
            continue
        day = result.started_at[:10]
        outcomes[(day, result.env, outcome, str(result.symptom))] += 1
        if result.latency_ms is not None:
            latencies[(day, result.env, latency_bin(result.latency_ms))] += 1
        series[(result.env, result.probe)] = None
    if not series:
        return
    dialect = connection.dialect.name
    connection.execute(
        _upsert(dialect, daily_outcomes_table, _OUTCOME_KEY),
        [
            {
                "project": project,
                "day": day,
                "env": env,
                "outcome": outcome,
                "symptom": symptom,
                "count": count,
            }
            for (day, env, outcome, symptom), count in sorted(outcomes.items())
        ],
    )
    if latencies:
        connection.execute(
            _upsert(dialect, daily_latency_table, _LATENCY_KEY),
            [
                {"project": project, "day": day, "env": env, "bin": bin_, "count": count}
                for (day, env, bin_), count in sorted(latencies.items())
            ],
        )
    connection.execute(
        _ignore(dialect, series_table),
        [{"project": project, "env": env, "probe": probe} for env, probe in sorted(series)],
    )


def rebuild(connection: Connection, *, projects: Collection[str] = (), envs: Collection[str] = ()) -> None:
    """Recompute the rollups from the results: all of them, or only those of `projects` (and of
    `envs` in them), as after evidence moved from one project to another."""
    results = results_table
    scope: list[sa.ColumnElement[bool]] = [results.c.outcome.in_(SAMPLE_OUTCOMES)]
    if projects:
        scope.append(results.c.project.in_(list(projects)))
    if envs:
        scope.append(results.c.env.in_(list(envs)))
    day = sa.func.substr(results.c.started_at, 1, 10)
    for table in ROLLUP_TABLES:
        cleared = table.delete()
        if projects:
            cleared = cleared.where(table.c.project.in_(list(projects)))
        if envs:
            cleared = cleared.where(table.c.env.in_(list(envs)))
        connection.execute(cleared)
    outcome_keys: tuple[sa.ColumnElement[Any], ...] = (
        results.c.project,
        day,
        results.c.env,
        results.c.outcome,
        results.c.symptom,
    )
    counted = sa.select(*outcome_keys, sa.func.count()).where(*scope).group_by(*outcome_keys)
    connection.execute(daily_outcomes_table.insert().from_select([*_OUTCOME_KEY, "count"], counted))
    latency_keys = (
        results.c.project,
        day,
        results.c.env,
        latency_bin_sql(results.c.latency_ms, connection.dialect.name),
    )
    binned = (
        sa.select(*latency_keys, sa.func.count())
        .where(*scope, results.c.latency_ms.is_not(None))
        .group_by(*latency_keys)
    )
    connection.execute(daily_latency_table.insert().from_select([*_LATENCY_KEY, "count"], binned))
    distinct = sa.select(results.c.project, results.c.env, results.c.probe).where(*scope).distinct()
    connection.execute(series_table.insert().from_select(["project", "env", "probe"], distinct))


def move(connection: Connection, source: str, target: str, envs: Collection[str] = ()) -> None:
    """Add project `source`'s rollup rows (of `envs`, all when empty) to project `target`'s and delete
    them, as when `source`'s results of those environments became `target`'s. Counts add up, so no
    result is read: a few thousand rows move, however long the history."""
    dialect = connection.dialect.name
    for table, keys in (
        (daily_outcomes_table, _OUTCOME_KEY),
        (daily_latency_table, _LATENCY_KEY),
        (series_table, ()),
    ):
        scope = [table.c.project == source, *([table.c.env.in_(list(envs))] if envs else [])]
        rows = [
            {**row._mapping, "project": target} for row in connection.execute(sa.select(table).where(*scope))
        ]
        if rows:
            statement = _upsert(dialect, table, keys) if keys else _ignore(dialect, table)
            connection.execute(statement, rows)
        connection.execute(table.delete().where(*scope))


_STATEMENTS: dict[tuple[str, str], Any] = {}


def _upsert(dialect: str, table: sa.Table, keys: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET count = count + excluded.count (SQLite and PostgreSQL)."""
    cached = _STATEMENTS.get((dialect, table.name))
    if cached is None:
        statement = insert(dialect, table)
        cached = statement.on_conflict_do_update(
            index_elements=list(keys), set_={"count": table.c.count + statement.excluded.count}
        )
        _STATEMENTS[(dialect, table.name)] = cached
    return cached


def _ignore(dialect: str, table: sa.Table) -> Any:
    key = (dialect, f"{table.name}:ignore")
    if key not in _STATEMENTS:
        _STATEMENTS[key] = insert(dialect, table).on_conflict_do_nothing()
    return _STATEMENTS[key]
