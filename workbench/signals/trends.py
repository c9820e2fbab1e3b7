"""Trigger rules evaluated over the history or over samples in memory; trends over time as plain rows.

The history may hold millions of results, so everything read from it is an aggregate the store
computes in SQL (`HistoryStore.series_runs`, `window_counts`, `trend_counts`); what is left here is
the judgement: which rules fire, which bucket a trend uses, nearest-rank percentiles from a latency
histogram. `evaluate_samples` applies the same rules to samples already in memory (a request log)
through the same judges in `triggers`. The charts' data frames are drawn in `render.trends_view`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workbench.core import clock
from workbench.core.errors import UsageError
from workbench.core.models import Outcome, Symptom
from workbench.history.aggregates import BUCKETS, SeriesRun, WindowCounts
from workbench.history.protocol import Store as HistoryStore
from workbench.signals.triggers import Firing, Rule, judge_consecutive, judge_rate

ALL_PROBES = "all probes"  # the series a rate rule counts over in the history
AUTO_DAY_AFTER = timedelta(days=3)  # auto bucket: days when the history spans more than this...
AUTO_MONTH_AFTER = timedelta(days=92)  # ...and months beyond a quarter, so a year charts in 12 bars


def evaluate(
    store: HistoryStore, rules: Sequence[Rule], *, envs: Sequence[str] = (), now: datetime | None = None
) -> list[Firing]:
    """One `Firing` per (rule, environment), fired or not, in rule order then environment order.

    Environments: `envs`, else every environment in the history. Only samples up to `now`
    (default: the current time) count, and rate windows end there: a history can be judged as
    of a past moment.
    """
    moment = clock.utc(now) if now is not None else clock.now()
    until = clock.iso(moment)
    names = list(dict.fromkeys(envs)) or store.environments()
    longest = max((rule.consecutive for rule in rules if rule.consecutive is not None), default=0)
    runs = store.series_runs(names, until=until, depth=longest + 1) if longest else {}
    windows = {
        rule.window_minutes: store.window_counts(
            names, after=clock.iso(moment - timedelta(minutes=rule.window_minutes)), until=until
        )
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
    moment = clock.utc(now) if now is not None else max((s.at for s in samples), default=clock.now())
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
    return SeriesRun(series, str(head), length, clock.iso(ordered[-1].at))


# -- trends for charts ------------------------------------------------------------------------


def choose_bucket(store: HistoryStore, *, envs: Sequence[str] = (), since: str | None = None) -> str:
    """The auto bucket: "hour" up to three days of samples, "day" up to a quarter, else "month".

    The daily rollup answers for long histories at once; only a history of a few days is measured
    to the second, from the results themselves.
    """
    days = store.sample_days(envs, since=since)
    if days is None:
        return "hour"
    whole_days = datetime.fromisoformat(days[1]) - datetime.fromisoformat(days[0])
    if whole_days > AUTO_MONTH_AFTER + timedelta(days=1):
        return "month"
    if whole_days > AUTO_DAY_AFTER + timedelta(days=1):
        return "day"
    span = store.sample_span(envs, since=since)
    if span is None:
        return "hour"
    length = clock.parse_iso(span[1]) - clock.parse_iso(span[0])
    if length > AUTO_MONTH_AFTER:
        return "month"
    return "day" if length > AUTO_DAY_AFTER else "hour"


Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class TrendRows:
    """Everything the trends report charts, as sorted rows from one read of the history."""

    bucket: str
    symptoms: Rows  # (bucket, env, symptom, count)
    rates: Rows  # (bucket, env, samples, failures, rate)
    latency: Rows  # (bucket, env, one value per percentile column)
    percentile_columns: tuple[str, ...]  # "p50_ms", "p95_ms", ...


def trend_rows(
    store: HistoryStore,
    *,
    envs: Sequence[str] = (),
    bucket: str | None = None,
    since: str | None = None,
    percentiles: Sequence[float] = (0.5, 0.95),
) -> TrendRows:
    """Symptom counts, failure rates and latency percentiles per (bucket, env), from one aggregate read.

    A year of scheduled runs is a million rows: the store groups them by bucket, environment,
    outcome, symptom and latency bin (a few thousand rows at most), and the three views are summed
    from that. Latency percentiles are nearest-rank on a histogram: exact to 1 ms below 100 ms,
    10 ms below 1 s, 100 ms below 10 s, 1 s above (each value reported as its bin's lower bound);
    the rank test runs on integers (p in ten-thousandths), so 0.07 * 100 is 7, not 7.000000000000001.
    """
    for p in percentiles:
        if not 0 < p <= 1:
            raise UsageError(f"percentiles are shares in (0, 1], e.g. 0.95; got {p!r}")
    chosen = bucket or choose_bucket(store, envs=envs, since=since)
    if chosen not in BUCKETS:
        raise UsageError(f"unknown bucket {chosen!r} (known: {', '.join(BUCKETS)})")
    counts = store.trend_counts(chosen, envs, since=since)
    symptoms: dict[tuple[str, str, str], int] = defaultdict(int)
    rates: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    histograms: dict[tuple[str, str], dict[float, int]] = defaultdict(lambda: defaultdict(int))
    for bucket_key, env, outcome, symptom, count in counts.outcomes:
        symptoms[(bucket_key, env, symptom)] += count
        rates[(bucket_key, env)][0] += count
        rates[(bucket_key, env)][1] += count if outcome == str(Outcome.FAIL) else 0
    for bucket_key, env, value, count in counts.latency:
        histograms[(bucket_key, env)][float(value)] += count
    return TrendRows(
        chosen,
        sorted((*k, n) for k, n in symptoms.items()),
        [(*k, n, failed, failed / n) for k, (n, failed) in sorted(rates.items())],
        [
            (*k, *(_nearest_rank(sorted(bins.items()), p) for p in percentiles))
            for k, bins in sorted(histograms.items())
        ],
        tuple(percentile_column(p) for p in percentiles),
    )


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
