"""What trends and trigger rules read from the history, as aggregate queries: never a scan into Python.

The history may hold millions of results, so every count, run length and latency histogram here is
computed in SQL (SQLAlchemy Core, portable to SQLite and PostgreSQL: window functions and `substr`
only) and returns a few thousand rows at most. A *sample* is a result that passed or failed; it
*shows* class S when it failed with symptom S. Times are compared as text, which is exact for the
store's one ISO 8601 form (`workbench.core.clock`). Every query reads one project's rows
(`core.projectname`): a trigger never fires on another team's environment of the same name.
`HistoryStore` exposes each of these as a method, bound to its project; the rules and trends built
on them live in `workbench.signals`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.core.models import SAMPLE_OUTCOMES, Outcome, Symptom
from workbench.history.rollup import latency_bin_sql
from workbench.history.schema import daily_latency_table, daily_outcomes_table, results_table, series_table

BUCKETS = {"hour": 13, "day": 10, "month": 7}  # bucket -> length of the started_at prefix that names it

_r = results_table
Rows = list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class SeriesRun:
    """The current run on one series: the class its newest sample shows and how many in a row show it."""

    series: str
    symptom: str  # "none" when the newest sample passed
    length: int
    latest: str  # ISO 8601 time of the newest sample
    exact: bool = True  # False: the run is at least `length` long (only that many samples were read)

    @property
    def count(self) -> str:
        return str(self.length) if self.exact else f"at least {self.length}"


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Samples in one rate window, and how many of them show each class."""

    samples: int
    showing: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class TrendCounts:
    """Samples per (bucket, env, outcome, symptom) and per (bucket, env, latency bin): what trends chart."""

    bucket: str
    outcomes: Rows  # (bucket key, env, outcome, symptom, count)
    latency: Rows  # (bucket key, env, bin lower bound in ms, count)


def environments(connection: Connection, project: str) -> list[str]:
    """Every environment with samples, sorted (from the series rollup: no scan of the results)."""
    query = (
        sa.select(series_table.c.env)
        .where(series_table.c.project == project)
        .distinct()
        .order_by(series_table.c.env)
    )
    return list(connection.execute(query).scalars())


def series_runs(
    connection: Connection, project: str, envs: Sequence[str], until: str, depth: int
) -> dict[str, list[SeriesRun]]:
    """Per series (env, probe): the class its newest sample up to `until` shows, and how many in a row.

    Only the newest sample's class can have a current run, so one pass serves every consecutive
    rule. Only the newest `depth` samples of each series are read (an index walk per series, not a
    scan of the history); a run that fills them all is reported as "at least `depth`".
    """
    series = (
        sa.select(series_table.c.env, series_table.c.probe)
        .where(series_table.c.project == project, series_table.c.env.in_(list(envs)))
        .cte("probe_series")
    )
    newest = results_table.alias("newest")
    newest_ids = (
        sa.select(newest.c.id)
        .where(
            newest.c.project == project,
            newest.c.env == series.c.env,
            newest.c.probe == series.c.probe,
            newest.c.outcome.in_(SAMPLE_OUTCOMES),
            newest.c.started_at <= until,
        )
        .order_by(newest.c.started_at.desc(), newest.c.id.desc())
        .limit(depth)
        .correlate(series)
    )
    shows = sa.case((_r.c.outcome == str(Outcome.FAIL), _r.c.symptom), else_=str(Symptom.NONE))
    window: dict[str, Any] = {
        "partition_by": (_r.c.env, _r.c.probe),
        "order_by": (_r.c.started_at.desc(), _r.c.id.desc()),
    }
    ranked = (
        sa.select(
            _r.c.env,
            _r.c.probe,
            _r.c.started_at,
            shows.label("shows"),
            sa.func.row_number().over(**window).label("rn"),
            sa.func.first_value(shows).over(**window).label("head"),
        )
        .select_from(series.join(_r, _r.c.id.in_(newest_ids)))
        .subquery("ranked")
    )
    first_break = sa.func.min(sa.case((ranked.c.shows != ranked.c.head, ranked.c.rn)))
    query = sa.select(
        ranked.c.env,
        ranked.c.probe,
        sa.func.max(ranked.c.head),
        sa.func.coalesce(first_break - 1, sa.func.count()),
        sa.func.max(sa.case((ranked.c.rn == 1, ranked.c.started_at))),
    ).group_by(ranked.c.env, ranked.c.probe)
    runs: dict[str, list[SeriesRun]] = defaultdict(list)
    for env, probe, head, length, latest in connection.execute(query):
        runs[env].append(SeriesRun(probe, head, int(length), latest, exact=int(length) < depth))
    return dict(runs)


def window_counts(
    connection: Connection, project: str, envs: Sequence[str], after: str, until: str
) -> dict[str, WindowCounts]:
    """Per environment: samples with started_at in (after, until], and failures per class."""
    query = (
        sa.select(_r.c.env, _r.c.outcome, _r.c.symptom, sa.func.count())
        .where(
            _r.c.project == project,
            _r.c.outcome.in_(SAMPLE_OUTCOMES),
            _r.c.env.in_(list(envs)),
            _r.c.started_at > after,
            _r.c.started_at <= until,
        )
        .group_by(_r.c.env, _r.c.outcome, _r.c.symptom)
    )
    samples: dict[str, int] = defaultdict(int)
    showing: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for env, outcome, symptom, count in connection.execute(query):
        samples[env] += count
        if outcome == Outcome.FAIL:
            showing[env][symptom] += count
    return {env: WindowCounts(samples[env], dict(showing[env])) for env in samples}


def sample_days(
    connection: Connection, project: str, envs: Sequence[str], since: str | None
) -> tuple[str, str] | None:
    """The first and last day (YYYY-MM-DD) with samples, from the daily rollup; None for no samples."""
    days = daily_outcomes_table
    query = sa.select(sa.func.min(days.c.day), sa.func.max(days.c.day)).where(days.c.project == project)
    if envs:
        query = query.where(days.c.env.in_(list(envs)))
    if since is not None:
        query = query.where(days.c.day >= since[:10])
    first, last = connection.execute(query).one()
    return None if first is None or last is None else (first, last)


def sample_span(
    connection: Connection, project: str, envs: Sequence[str], since: str | None
) -> tuple[str, str] | None:
    """The first and last sample's started_at, read from the results; None for no samples."""
    query = sa.select(sa.func.min(_r.c.started_at), sa.func.max(_r.c.started_at)).where(
        *_sample_filter(project, envs, since)
    )
    first, last = connection.execute(query).one()
    return None if first is None or last is None else (first, last)


def trend_counts(
    connection: Connection, project: str, bucket: str, envs: Sequence[str], since: str | None
) -> TrendCounts:
    """Samples grouped by `bucket` ("hour": from the results; "day", "month": from the daily rollups).

    An hourly trend covers a few days of results, grouped straight from the table; days and
    months sum the rollups every append keeps (a `since` inside a day counts that whole day).
    """
    length = BUCKETS[bucket]
    if bucket == "hour":
        key = sa.func.substr(_r.c.started_at, 1, length)
        outcome_keys = (key, _r.c.env, _r.c.outcome, _r.c.symptom)
        outcomes = (
            sa.select(*outcome_keys, sa.func.count())
            .where(*_sample_filter(project, envs, since))
            .group_by(*outcome_keys)
        )
        latency_keys = (key, _r.c.env, latency_bin_sql(_r.c.latency_ms, connection.dialect.name))
        latency = (
            sa.select(*latency_keys, sa.func.count())
            .where(*_sample_filter(project, envs, since), _r.c.latency_ms.is_not(None))
            .group_by(*latency_keys)
        )
        return TrendCounts(
            bucket,
            [tuple(row) for row in connection.execute(outcomes)],
            [tuple(row) for row in connection.execute(latency)],
        )
    rows: list[Rows] = []
    for table, columns in ((daily_outcomes_table, ("outcome", "symptom")), (daily_latency_table, ("bin",))):
        day_key = sa.func.substr(table.c.day, 1, length)
        keys = (day_key, table.c.env, *(table.c[name] for name in columns))
        query = sa.select(*keys, sa.func.sum(table.c.count)).where(table.c.project == project).group_by(*keys)
        if envs:
            query = query.where(table.c.env.in_(list(envs)))
        if since is not None:
            query = query.where(table.c.day >= since[:10])
        rows.append([(*row[:-1], int(row[-1])) for row in connection.execute(query)])
    return TrendCounts(bucket, rows[0], rows[1])


def _sample_filter(project: str, envs: Sequence[str], since: str | None) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = [_r.c.project == project, _r.c.outcome.in_(SAMPLE_OUTCOMES)]
    if envs:
        clauses.append(_r.c.env.in_(list(envs)))
    if since is not None:
        clauses.append(_r.c.started_at >= since)
    return clauses
