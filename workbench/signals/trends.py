"""Trigger rules and trends over the history, computed in SQL; the same rules over in-memory samples.

The history may hold millions of results, so every count, run length and percentile here is an
aggregate query (SQLAlchemy Core, portable to SQLite and PostgreSQL: window functions and `substr`
only); pandas sees only the small aggregated result. A *sample* is a result that passed or failed;
it *shows* class S when it failed with symptom S. Times are compared as text, which is exact for
the store's fixed ISO 8601 form (`2026-11-27T04:35:03.123Z`). `evaluate_samples` applies the same
rules to samples already in memory (a request log) through the same judges in `_triggers`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from workbench.core.errors import StoreError, UsageError
from workbench.core.models import Outcome, Symptom
from workbench.history.rollup import latency_bin_sql
from workbench.history.schema import daily_latency_table, daily_outcomes_table, results_table, series_table
from workbench.history.store import HistoryStore
from workbench.signals.triggers import Firing, Rule, SeriesRun, WindowCounts, judge_consecutive, judge_rate

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_OUTCOMES = (str(Outcome.PASS), str(Outcome.FAIL))
ALL_PROBES = "all probes"  # the series a rate rule counts over in the history
BUCKETS = {"hour": 13, "day": 10, "month": 7}  # bucket -> length of the started_at prefix that names it
AUTO_DAY_AFTER = timedelta(days=3)  # auto bucket: days when the history spans more than this...
AUTO_MONTH_AFTER = timedelta(days=92)  # ...and months beyond a quarter, so a year charts in 12 bars

_r = results_table


def evaluate(
    store: HistoryStore, rules: Sequence[Rule], *, envs: Sequence[str] = (), now: datetime | None = None
) -> list[Firing]:
    """One `Firing` per (rule, environment), fired or not, in rule order then environment order.

    Environments: `envs`, else every environment in the history. Only samples up to `now`
    (default: the current time) count, and rate windows end there: a history can be judged as
    of a past moment.
    """
    moment = _utc(now) if now is not None else datetime.now(UTC)
    with _connect(store) as connection:
        names = list(dict.fromkeys(envs)) or _environments(connection)
        longest = max((rule.consecutive for rule in rules if rule.consecutive is not None), default=0)
        runs = _series_runs(connection, names, moment, longest + 1) if longest else {}
        windows = {
            rule.window_minutes: _window_counts(connection, names, moment, rule.window_minutes)
            for rule in rules
            if rule.window_minutes is not None
        }
    firings = []
    for rule in rules:
        for env in names:
            if rule.consecutive is not None:
                firings.append(judge_consecutive(rule, env, runs.get(env, [])))
            else:
                assert rule.window_minutes is not None
                counts = windows[rule.window_minutes].get(env, WindowCounts(0, {}))
                firings.append(judge_rate(rule, env, counts, series=ALL_PROBES))
    return firings


def _series_runs(
    connection: Connection, envs: Sequence[str], now: datetime, depth: int
) -> dict[str, list[SeriesRun]]:
    """Per series (env, probe): the class its newest sample shows and how many in a row show it.

    Only the newest sample's class can have a current run, so one pass serves every consecutive
    rule. Only the newest `depth` samples of each series are read (an index walk per series, not a
    scan of the history); a run that fills them all is reported as "at least `depth`".
    """
    until = iso(now)
    series = (  # every (env, probe) with samples, from the rollup: no scan of the history
        sa.select(series_table.c.env, series_table.c.probe)
        .where(series_table.c.env.in_(list(envs)))
        .cte("probe_series")
    )
    newest = results_table.alias("newest")
    newest_ids = (
        sa.select(newest.c.id)
        .where(
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
    return runs


def _window_counts(
    connection: Connection, envs: Sequence[str], now: datetime, minutes: float
) -> dict[str, WindowCounts]:
    """Per environment: samples with started_at in (now - minutes, now], and failures per class."""
    query = (
        sa.select(_r.c.env, _r.c.outcome, _r.c.symptom, sa.func.count())
        .where(
            _r.c.outcome.in_(SAMPLE_OUTCOMES),
            _r.c.env.in_(list(envs)),
            _r.c.started_at > iso(now - timedelta(minutes=minutes)),
            _r.c.started_at <= iso(now),
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


def _environments(connection: Connection) -> list[str]:
    query = sa.select(series_table.c.env).distinct().order_by(series_table.c.env)
    return list(connection.execute(query).scalars())


# -- the same rules over samples in memory ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One observation outside the store: when, on which series, and the class it shows (NONE: a pass)."""

    series: str
    at: datetime  # timezone-aware
    shows: Symptom


def evaluate_samples(
    samples: Sequence[Sample], rules: Sequence[Rule], *, env: str, now: datetime | None = None
) -> list[Firing]:
    """`evaluate` for samples in memory: one `Firing` per rule, as of `now` (default: the newest sample).

    Samples with equal times keep their given order (the later one is the newer).
    """
    moment = _utc(now) if now is not None else max((s.at for s in samples), default=datetime.now(UTC))
    by_series: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample.at <= moment:
            by_series[sample.series].append(sample)
    runs = [_memory_run(series, members) for series, members in by_series.items()]
    every_series = {sample.series for sample in samples}
    label = next(iter(every_series)) if len(every_series) == 1 else "all series"
    firings = []
    for rule in rules:
        if rule.consecutive is not None:
            firings.append(judge_consecutive(rule, env, runs))
            continue
        assert rule.window_minutes is not None
        start = moment - timedelta(minutes=rule.window_minutes)
        inside = [s for s in samples if start < s.at <= moment]
        showing: dict[str, int] = defaultdict(int)
        for sample in inside:
            showing[str(sample.shows)] += 1
        firings.append(judge_rate(rule, env, WindowCounts(len(inside), dict(showing)), series=label))
    return firings


def _memory_run(series: str, members: Sequence[Sample]) -> SeriesRun:
    ordered = sorted(members, key=lambda s: s.at)  # stable: ties keep their order
    head = ordered[-1].shows
    length = 0
    for sample in reversed(ordered):
        if sample.shows != head:
            break
        length += 1
    return SeriesRun(series, str(head), length, iso(ordered[-1].at))


# -- trends for charts ------------------------------------------------------------------------


def choose_bucket(store: HistoryStore, *, envs: Sequence[str] = (), since: str | None = None) -> str:
    """The auto bucket: "hour" up to three days of samples, "day" up to a quarter, else "month".

    The daily rollup answers for long histories at once; only a history of a few days is measured
    to the second, from the results themselves.
    """
    days = daily_outcomes_table
    span_query = sa.select(sa.func.min(days.c.day), sa.func.max(days.c.day))
    if envs:
        span_query = span_query.where(days.c.env.in_(list(envs)))
    if since is not None:
        span_query = span_query.where(days.c.day >= since[:10])
    with _connect(store) as connection:
        first_day, last_day = connection.execute(span_query).one()
        if first_day is None or last_day is None:
            return "hour"
        whole_days = datetime.fromisoformat(last_day) - datetime.fromisoformat(first_day)
        if whole_days > AUTO_MONTH_AFTER + timedelta(days=1):
            return "month"
        if whole_days > AUTO_DAY_AFTER + timedelta(days=1):
            return "day"
        query = sa.select(sa.func.min(_r.c.started_at), sa.func.max(_r.c.started_at)).where(
            *_sample_filter(envs, since)
        )
        first, last = connection.execute(query).one()
    span = _parse_iso(last) - _parse_iso(first)
    if span > AUTO_MONTH_AFTER:
        return "month"
    return "day" if span > AUTO_DAY_AFTER else "hour"


@dataclass(frozen=True)
class TrendFrames:
    """Everything the trends report charts, from one scan of the history."""

    bucket: str
    symptoms: pd.DataFrame  # bucket, env, symptom, count
    rates: pd.DataFrame  # bucket, env, samples, failures, rate
    latency: pd.DataFrame  # bucket, env, p50_ms, p95_ms, ...


def trend_frames(
    store: HistoryStore,
    *,
    envs: Sequence[str] = (),
    bucket: str | None = None,
    since: str | None = None,
    percentiles: Sequence[float] = (0.5, 0.95),
) -> TrendFrames:
    """Symptom counts, failure rates and latency percentiles per (bucket, env), in one SQL scan.

    A year of scheduled runs is a million rows: SQL groups them by bucket, environment, outcome,
    symptom and latency bin (a few thousand rows at most), and the three views are summed from that.
    Latency percentiles are nearest-rank on a histogram: exact to 1 ms below 100 ms, 10 ms below 1 s,
    100 ms below 10 s, 1 s above (each value reported as its bin's lower bound); the rank test runs
    on integers (p in ten-thousandths), so 0.07 * 100 is 7, not 7.000000000000001.
    """
    for p in percentiles:
        if not 0 < p <= 1:
            raise UsageError(f"percentiles are shares in (0, 1], e.g. 0.95; got {p!r}")
    chosen, key = _bucket(store, envs, since, bucket)
    with _connect(store) as connection:
        if chosen == "hour":  # at most a few days of results: grouped straight from the table
            outcome_rows, latency_rows = _from_results(connection, key, envs, since)
        else:  # days and months: from the daily rollups every append keeps
            outcome_rows, latency_rows = _from_rollups(connection, BUCKETS[chosen], envs, since)
    symptoms: dict[tuple[str, str, str], int] = defaultdict(int)
    rates: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    histograms: dict[tuple[str, str], dict[float, int]] = defaultdict(lambda: defaultdict(int))
    for bucket_key, env, outcome, symptom, count in outcome_rows:
        symptoms[(bucket_key, env, symptom)] += count
        rates[(bucket_key, env)][0] += count
        rates[(bucket_key, env)][1] += count if outcome == str(Outcome.FAIL) else 0
    for bucket_key, env, value, count in latency_rows:
        histograms[(bucket_key, env)][float(value)] += count
    names = [percentile_column(p) for p in percentiles]
    rate_rows = [(*k, n, failed, failed / n) for k, (n, failed) in sorted(rates.items())]
    latency_rows = [
        (*k, *(_nearest_rank(sorted(bins.items()), p) for p in percentiles))
        for k, bins in sorted(histograms.items())
    ]
    return TrendFrames(
        chosen,
        _frame(
            sorted((*k, n) for k, n in symptoms.items()),
            ["bucket", "env", "symptom", "count"],
            {"count": "int64"},
            chosen,
        ),
        _frame(
            rate_rows,
            ["bucket", "env", "samples", "failures", "rate"],
            {"samples": "int64", "failures": "int64", "rate": "float64"},
            chosen,
        ),
        _frame(latency_rows, ["bucket", "env", *names], dict.fromkeys(names, "float64"), chosen),
    )


Rows = list[tuple[Any, ...]]


def _from_results(
    connection: Connection, key: sa.ColumnElement[str], envs: Sequence[str], since: str | None
) -> tuple[Rows, Rows]:
    outcome_keys = (key, _r.c.env, _r.c.outcome, _r.c.symptom)
    outcomes = (
        sa.select(*outcome_keys, sa.func.count()).where(*_sample_filter(envs, since)).group_by(*outcome_keys)
    )
    latency_keys = (key, _r.c.env, latency_bin_sql(_r.c.latency_ms, connection.dialect.name))
    latency = (
        sa.select(*latency_keys, sa.func.count())
        .where(*_sample_filter(envs, since), _r.c.latency_ms.is_not(None))
        .group_by(*latency_keys)
    )
    return [tuple(row) for row in connection.execute(outcomes)], [
        tuple(row) for row in connection.execute(latency)
    ]


def _from_rollups(
    connection: Connection, length: int, envs: Sequence[str], since: str | None
) -> tuple[Rows, Rows]:
    """Daily rollups summed into buckets (a `since` inside a day counts that whole day)."""
    rows: list[Rows] = []
    for table, columns in ((daily_outcomes_table, ("outcome", "symptom")), (daily_latency_table, ("bin",))):
        key = sa.func.substr(table.c.day, 1, length)
        keys = (key, table.c.env, *(table.c[name] for name in columns))
        query = sa.select(*keys, sa.func.sum(table.c.count)).group_by(*keys)
        if envs:
            query = query.where(table.c.env.in_(list(envs)))
        if since is not None:
            query = query.where(table.c.day >= since[:10])
        rows.append([(*row[:-1], int(row[-1])) for row in connection.execute(query)])
    return rows[0], rows[1]


def symptom_counts_over_time(
    store: HistoryStore, *, envs: Sequence[str] = (), bucket: str | None = None, since: str | None = None
) -> pd.DataFrame:
    """Samples per (bucket, env, symptom), passes under "none"; `frame.attrs["bucket"]` names the bucket."""
    return trend_frames(store, envs=envs, bucket=bucket, since=since).symptoms


def failure_rate_over_time(
    store: HistoryStore, *, envs: Sequence[str] = (), bucket: str | None = None, since: str | None = None
) -> pd.DataFrame:
    """Samples, failures and their share per (bucket, env)."""
    return trend_frames(store, envs=envs, bucket=bucket, since=since).rates


def latency_percentiles_over_time(
    store: HistoryStore,
    *,
    envs: Sequence[str] = (),
    bucket: str | None = None,
    since: str | None = None,
    percentiles: Sequence[float] = (0.5, 0.95),
) -> pd.DataFrame:
    """Nearest-rank latency percentiles per (bucket, env): p50_ms, p95_ms, ... (see `trend_frames`)."""
    return trend_frames(store, envs=envs, bucket=bucket, since=since, percentiles=percentiles).latency


def _nearest_rank(bins: Sequence[tuple[float, int]], share: float) -> float:
    total = sum(count for _, count in bins)
    wanted = round(share * 10_000)
    seen = 0
    for value, count in bins:
        seen += count
        if seen * 10_000 >= wanted * total:
            return value
    return bins[-1][0]


def percentile_column(p: float) -> str:
    """0.5 -> "p50_ms", 0.95 -> "p95_ms", 0.999 -> "p99.9_ms"."""
    return f"p{round(p * 100, 4):g}_ms"


def _bucket(
    store: HistoryStore, envs: Sequence[str], since: str | None, bucket: str | None
) -> tuple[str, sa.ColumnElement[str]]:
    chosen = bucket or choose_bucket(store, envs=envs, since=since)
    if chosen not in BUCKETS:
        raise UsageError(f"unknown bucket {chosen!r} (known: {', '.join(BUCKETS)})")
    return chosen, sa.func.substr(_r.c.started_at, 1, BUCKETS[chosen])


def _sample_filter(envs: Sequence[str], since: str | None) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = [_r.c.outcome.in_(SAMPLE_OUTCOMES)]
    if envs:
        clauses.append(_r.c.env.in_(list(envs)))
    if since is not None:
        clauses.append(_r.c.started_at >= since)
    return clauses


def _fetch(store: HistoryStore, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    with _connect(store) as connection:
        return [tuple(row) for row in connection.execute(query)]


def _frame(
    rows: list[tuple[Any, ...]], columns: list[str], types: dict[str, str], bucket: str
) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns).astype(types)
    frame.attrs["bucket"] = bucket
    return frame


@contextmanager
def _connect(store: HistoryStore) -> Iterator[Connection]:
    try:
        with store.engine.connect() as connection:
            yield connection
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
        raise StoreError(f"cannot read the history store {store.display_url}: {reason}") from None


def iso(moment: datetime) -> str:
    """The store's time form: UTC, milliseconds, `Z`."""
    return _utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _utc(moment: datetime) -> datetime:
    """A naive time is taken as UTC (the store's zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_iso(text: str) -> datetime:
    return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
