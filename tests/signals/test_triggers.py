"""Trigger rules: strict loading, and every rule kind judged in SQL over real stores with chosen times."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest

from tests.paths import REPO
from workbench import Area, ConfigError, HistoryStore, Outcome, ProbeResult, Symptom, action_for
from workbench.core.clock import iso
from workbench.history.schema import (
    daily_latency_table,
    daily_outcomes_table,
    results_table,
    runs_table,
    series_table,
)
from workbench.render.trends_view import (
    failure_rate_over_time,
    latency_percentiles_over_time,
    symptom_counts_over_time,
)
from workbench.signals.trends import choose_bucket, evaluate, evaluate_samples
from workbench.signals.triggers import DEFAULT_RULES_TOML, Rule, default_rules, load_rules

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PARSER_5 = Rule("parser-consecutive", Symptom.PARSER, consecutive=5)
TRANSPORT_20 = Rule("transport-rate", Symptom.TRANSPORT, rate=0.2, window_minutes=60, min_samples=20)

# -- loading rules ----------------------------------------------------------------------------


def test_defaults_apply_when_no_triggers_file(workdir: Path) -> None:
    rules = load_rules()
    assert rules == default_rules()
    assert [rule.name for rule in rules] == [
        "parser-consecutive",
        "transport-rate",
        "auth-consecutive",
        "validation-rate",
        "rate_limit-rate",
        "server-rate",
        "quality-consecutive",
    ]
    assert rules[0] == PARSER_5
    assert rules[1] == TRANSPORT_20
    assert {rule.symptom for rule in rules} == set(Symptom) - {Symptom.NONE}


def test_shipped_file_is_the_built_in_default() -> None:
    shipped = (REPO / "data" / "triggers.toml").read_text(encoding="utf-8")
    assert shipped == DEFAULT_RULES_TOML, (
        "data/triggers.toml drifted from workbench.signals.triggers.DEFAULT_RULES_TOML: "
        "edit the constant, then "
        "python -c 'from workbench.signals.triggers import DEFAULT_RULES_TOML as t; "
        'open("data/triggers.toml", "w").write(t)\''
    )
    assert load_rules(REPO / "data" / "triggers.toml") == default_rules()
    assert "examples" in shipped.lower() and "tune" in shipped


def test_data_triggers_file_in_the_working_directory_wins(workdir: Path) -> None:
    (workdir / "data").mkdir()
    (workdir / "data" / "triggers.toml").write_text(
        '[[rule]]\nname = "parser-fast"\nsymptom = "parser"\nconsecutive = 2\n', encoding="utf-8"
    )
    assert load_rules() == [Rule("parser-fast", Symptom.PARSER, consecutive=2)]


def test_rule_describes_itself() -> None:
    assert PARSER_5.describe() == "parser-consecutive: 5 consecutive parser failures on one series"
    assert TRANSPORT_20.describe() == (
        "transport-rate: more than 20% transport in the last 60 min (at least 20 samples)"
    )


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_rules(tmp_path / "nope.toml")


MALFORMED = [
    pytest.param('[[rule]]\nsymptom = "parser"\nconsecutive = \n', "line 3", id="toml-syntax"),
    pytest.param(
        '[[rule]]\nsymptom = "parser"\nconsecutive = 5\nthreshold = 3\n',
        "rule[0].threshold",
        id="unknown-key",
    ),
    pytest.param(
        '[[rule]]\nsymptom = "parser"\nconsecutive = 5\n[[rule]]\nsymptom = "latency"\nconsecutive = 2\n',
        "rule[1].symptom",
        id="unknown-symptom",
    ),
    pytest.param('[[rule]]\nsymptom = "none"\nconsecutive = 5\n', "rule[0].symptom", id="symptom-none"),
    pytest.param("[[rule]]\nconsecutive = 5\n", "rule[0].symptom", id="symptom-missing"),
    pytest.param(
        '[[rule]]\nsymptom = "parser"\nconsecutive = 5\nrate = 0.2\nwindow_minutes = 5\nmin_samples = 3\n',
        "rule[0].consecutive",
        id="both-kinds",
    ),
    pytest.param('[[rule]]\nsymptom = "parser"\n', "rule[0].rate", id="neither-kind"),
    pytest.param(
        '[[rule]]\nsymptom = "parser"\nconsecutive = 0\n', "rule[0].consecutive", id="zero-consecutive"
    ),
    pytest.param(
        '[[rule]]\nsymptom = "parser"\nconsecutive = "5"\n', "rule[0].consecutive", id="text-number"
    ),
    pytest.param('[[rule]]\nsymptom = "parser"\nconsecutive = 2.5\n', "rule[0].consecutive", id="fractional"),
    pytest.param(
        '[[rule]]\nsymptom = "transport"\nrate = 1.5\nwindow_minutes = 60\nmin_samples = 20\n',
        "rule[0].rate",
        id="rate-above-one",
    ),
    pytest.param(
        '[[rule]]\nsymptom = "transport"\nrate = 0\nwindow_minutes = 60\nmin_samples = 20\n',
        "rule[0].rate",
        id="rate-zero",
    ),
    pytest.param(
        '[[rule]]\nsymptom = "transport"\nrate = 0.2\nmin_samples = 20\n',
        "rule[0].window_minutes",
        id="no-window",
    ),
    pytest.param(
        '[[rule]]\nsymptom = "transport"\nrate = 0.2\nwindow_minutes = -5\nmin_samples = 20\n',
        "rule[0].window_minutes",
        id="negative-window",
    ),
    pytest.param(
        '[[rule]]\nsymptom = "transport"\nrate = 0.2\nwindow_minutes = 60\n',
        "rule[0].min_samples",
        id="no-min",
    ),
    pytest.param(
        '[[rule]]\nsymptom = "transport"\nrate = 0.2\nwindow_minutes = 60\nmin_samples = 0\n',
        "rule[0].min_samples",
        id="zero-min",
    ),
    pytest.param(
        '[[rule]]\nsymptom = "parser"\nconsecutive = 5\nwindow_minutes = 60\n',
        "rule[0].window_minutes",
        id="window-on-consecutive",
    ),
    pytest.param(
        '[[rule]]\nsymptom = "parser"\nconsecutive = 5\n[[rule]]\nsymptom = "parser"\nconsecutive = 3\n',
        "rule[1].name",
        id="duplicate-default-name",
    ),
    pytest.param(
        '[[rule]]\nname = "x"\nsymptom = "auth"\nconsecutive = 5\n[[rule]]\nname = "x"\nsymptom = "parser"\n'
        "consecutive = 3\n",
        "rule[1].name",
        id="duplicate-name",
    ),
    pytest.param('[[rules]]\nsymptom = "parser"\nconsecutive = 5\n', "rules", id="misspelt-table"),
    pytest.param("# nothing\n", "no rules defined", id="empty"),
]


@pytest.mark.parametrize(("text", "where"), MALFORMED)
def test_malformed_rules_name_the_file_and_the_key(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "triggers.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert where in message, message
    assert "\n" not in message


# -- synthetic histories ----------------------------------------------------------------------


def _store_urls() -> list[object]:
    postgres = os.environ.get("WORKBENCH_TEST_POSTGRES_URL")
    return [
        "sqlite",
        pytest.param(
            postgres or "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not postgres, reason="set WORKBENCH_TEST_POSTGRES_URL"),
            ],
            id="postgres",
        ),
    ]


@pytest.fixture(params=_store_urls())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryStore]:
    url = f"sqlite:///{tmp_path / 'history.sqlite'}" if request.param == "sqlite" else request.param
    with HistoryStore(url, project_name="triggers") as history:
        with history.engine.begin() as connection:  # a shared PostgreSQL database starts empty
            for table in (results_table, runs_table, series_table, daily_outcomes_table, daily_latency_table):
                connection.execute(table.delete())
        yield history


def add(
    store: HistoryStore,
    outcome: str,
    symptom: str = "none",
    *,
    minutes_ago: float,
    env: str = "staging",
    probe: str = "endpoint.minimal",
    latency_ms: float | None = 100.0,
    started_at: str | None = None,
) -> None:
    store.append(
        ProbeResult(
            run_id="r1",
            env=env,
            probe=probe,
            area=Area.ENDPOINT,
            outcome=Outcome(outcome),
            symptom=Symptom(symptom),
            retryable=False,
            http_status=200,
            latency_ms=latency_ms,
            detail="",
            action="",
            started_at=started_at or iso(NOW - timedelta(minutes=minutes_ago)),
        )
    )


def one(store: HistoryStore, rule: Rule) -> tuple[bool, str, str]:
    firings = evaluate(store, [rule], now=NOW)
    assert len(firings) == 1, firings
    return firings[0].fired, firings[0].evidence, firings[0].series


def test_consecutive_fires_exactly_at_n(store: HistoryStore) -> None:
    add(store, "pass", minutes_ago=10)
    for minute in (9, 8, 7, 6):
        add(store, "fail", "parser", minutes_ago=minute)
    assert one(store, PARSER_5) == (
        False,
        "longest current run of parser failures 4 of 5 (on endpoint.minimal)",
        "endpoint.minimal",
    )
    add(store, "fail", "parser", minutes_ago=5)
    assert one(store, PARSER_5) == (
        True,
        "5 consecutive parser failures on endpoint.minimal (latest 2026-11-27T11:55:00.000Z)",
        "endpoint.minimal",
    )


def test_a_pass_or_another_class_breaks_the_run(store: HistoryStore) -> None:
    for minute in (20, 19, 18):
        add(store, "fail", "parser", minutes_ago=minute)
    add(store, "pass", minutes_ago=17)
    for minute in (16, 15, 14):
        add(store, "fail", "parser", minutes_ago=minute)
    add(store, "fail", "transport", minutes_ago=13)
    add(store, "fail", "parser", minutes_ago=12)
    add(store, "fail", "parser", minutes_ago=11)
    fired, evidence, _ = one(store, PARSER_5)
    assert not fired
    assert evidence == "longest current run of parser failures 2 of 5 (on endpoint.minimal)"


def test_results_that_are_not_samples_do_not_break_the_run(store: HistoryStore) -> None:
    for minute in (20, 19, 18):
        add(store, "fail", "parser", minutes_ago=minute)
    add(store, "skip", minutes_ago=17)
    add(store, "needs_operator", minutes_ago=16)
    add(store, "error", "transport", minutes_ago=15)
    add(store, "fail", "parser", minutes_ago=14)
    add(store, "fail", "parser", minutes_ago=13)
    assert one(store, PARSER_5)[0]


def test_a_run_counts_on_one_series_only(store: HistoryStore) -> None:
    for minute in range(6):  # six parser failures in the environment, alternating between two probes
        add(store, "fail", "parser", minutes_ago=minute, probe=f"probe.{minute % 2}")
    fired, evidence, _ = one(store, PARSER_5)
    assert not fired
    assert evidence.startswith("longest current run of parser failures 3 of 5")


def test_the_newest_result_decides_among_equal_times(store: HistoryStore) -> None:
    for _ in range(4):
        add(store, "fail", "parser", minutes_ago=1)
    add(store, "pass", minutes_ago=1)  # same started_at, appended last: the newest
    assert one(store, PARSER_5)[1] == "longest current run of parser failures 0 of 5"
    add(store, "fail", "parser", minutes_ago=1)
    assert one(store, PARSER_5)[1].startswith("longest current run of parser failures 1 of 5")


def test_a_long_run_is_reported_as_at_least(store: HistoryStore) -> None:
    for minute in range(12):
        add(store, "fail", "parser", minutes_ago=minute)
    fired, evidence, _ = one(store, PARSER_5)
    assert fired
    assert evidence.startswith("at least 6 consecutive parser failures on endpoint.minimal")


def test_consecutive_names_the_firing_series_and_the_others(store: HistoryStore) -> None:
    for minute in range(5):
        add(store, "fail", "auth", minutes_ago=minute, probe="auth.valid_key")
        add(store, "fail", "auth", minutes_ago=minute + 0.5, probe="endpoint.minimal")
    firing = evaluate(store, [Rule("auth-consecutive", Symptom.AUTH, consecutive=3)], now=NOW)[0]
    assert firing.fired
    assert firing.series == "auth.valid_key"
    assert firing.evidence.endswith("; 1 more series")
    assert firing.action == action_for(Symptom.AUTH)
    assert firing.to_dict() == {
        "rule": "auth-consecutive",
        "symptom": "auth",
        "env": "staging",
        "series": "auth.valid_key",
        "fired": True,
        "evidence": firing.evidence,
        "action": action_for(Symptom.AUTH),
    }


def _rate_history(store: HistoryStore, transport: int, samples: int, *, minutes_ago: float = 5) -> None:
    for index in range(samples):
        if index < transport:
            add(store, "fail", "transport", minutes_ago=minutes_ago, probe=f"p{index % 3}")
        else:
            add(store, "pass", minutes_ago=minutes_ago, probe=f"p{index % 3}")


def test_rate_does_not_fire_at_the_threshold(store: HistoryStore) -> None:
    _rate_history(store, transport=4, samples=20)
    assert one(store, TRANSPORT_20) == (
        False,
        "20% transport (4 of 20 samples) in the last 60 min, not above 20%",
        "all probes",
    )


def test_rate_fires_above_the_threshold(store: HistoryStore) -> None:
    _rate_history(store, transport=5, samples=20)
    assert one(store, TRANSPORT_20) == (
        True,
        "25% transport (5 of 20 samples) in the last 60 min",
        "all probes",
    )


def test_rate_needs_min_samples(store: HistoryStore) -> None:
    _rate_history(store, transport=19, samples=19)
    assert one(store, TRANSPORT_20)[:2] == (False, "19 samples < min 20 in the last 60 min")


def test_rate_counts_only_the_window(store: HistoryStore) -> None:
    _rate_history(store, transport=20, samples=20, minutes_ago=61)  # too old
    _rate_history(store, transport=0, samples=20, minutes_ago=59)
    add(store, "fail", "transport", minutes_ago=-1)  # after `now`: not yet
    assert one(store, TRANSPORT_20)[:2] == (
        False,
        "0% transport (0 of 20 samples) in the last 60 min, not above 20%",
    )
    an_hour_earlier = evaluate(store, [TRANSPORT_20], now=NOW - timedelta(minutes=30))[0]
    assert an_hour_earlier.fired
    assert an_hour_earlier.evidence.startswith("50% transport (20 of 40 samples)")


def test_skip_and_needs_operator_are_not_samples(store: HistoryStore) -> None:
    _rate_history(store, transport=5, samples=20)
    for _ in range(30):
        add(store, "skip", minutes_ago=5)
        add(store, "needs_operator", minutes_ago=5)
        add(store, "error", "transport", minutes_ago=5)
    assert one(store, TRANSPORT_20)[:2] == (True, "25% transport (5 of 20 samples) in the last 60 min")


def test_one_firing_per_rule_and_environment_with_env_filter(store: HistoryStore) -> None:
    _rate_history(store, transport=10, samples=20)
    add(store, "pass", minutes_ago=5, env="production")
    everything = evaluate(store, [PARSER_5, TRANSPORT_20], now=NOW)
    assert [(f.rule.name, f.env, f.fired) for f in everything] == [
        ("parser-consecutive", "production", False),
        ("parser-consecutive", "staging", False),
        ("transport-rate", "production", False),
        ("transport-rate", "staging", True),
    ]
    only = evaluate(store, [PARSER_5, TRANSPORT_20], envs=["production", "nowhere"], now=NOW)
    assert [(f.env, f.evidence) for f in only] == [
        ("production", "longest current run of parser failures 0 of 5"),
        ("nowhere", "no samples"),
        ("production", "1 samples < min 20 in the last 60 min"),
        ("nowhere", "0 samples < min 20 in the last 60 min"),
    ]
    assert all(f.action == action_for(f.rule.symptom) for f in everything)


def test_sql_and_in_memory_evaluation_agree(store: HistoryStore) -> None:
    from workbench.signals.trends import Sample

    samples = []
    for index in range(30):
        symptom = "parser" if index >= 26 else ("transport" if index % 4 == 0 else "none")
        outcome = "pass" if symptom == "none" else "fail"
        add(store, outcome, symptom, minutes_ago=30 - index)
        samples.append(Sample("endpoint.minimal", NOW - timedelta(minutes=30 - index), Symptom(symptom)))
    rules = [PARSER_5, Rule("parser-3", Symptom.PARSER, consecutive=3), TRANSPORT_20]
    in_sql = [(f.fired, f.evidence) for f in evaluate(store, rules, now=NOW)]
    in_memory = [(f.fired, f.evidence) for f in evaluate_samples(samples, rules, env="staging", now=NOW)]
    assert in_sql == in_memory
    assert [fired for fired, _ in in_sql] == [False, True, True]
    earlier = NOW - timedelta(minutes=3, seconds=30)  # before the last three parser failures
    in_sql = [(f.fired, f.evidence) for f in evaluate(store, rules, now=earlier)]
    in_memory = [(f.fired, f.evidence) for f in evaluate_samples(samples, rules, env="staging", now=earlier)]
    assert in_sql == in_memory
    assert in_sql[1] == (False, "longest current run of parser failures 1 of 3 (on endpoint.minimal)")


def test_rules_built_in_code_are_checked_too() -> None:
    with pytest.raises(ValueError, match="consecutive"):
        Rule("both", Symptom.PARSER, consecutive=5, rate=0.5, window_minutes=5, min_samples=5)
    with pytest.raises(ValueError, match="rate in"):
        Rule("neither", Symptom.PARSER)
    with pytest.raises(ValueError, match="positive"):
        Rule("empty-window", Symptom.PARSER, rate=0.5, window_minutes=0, min_samples=5)
    assert (PARSER_5.kind, TRANSPORT_20.kind) == ("consecutive", "rate")


# -- trends -----------------------------------------------------------------------------------


def _hand_checked(store: HistoryStore) -> None:
    def at(hour: int, minute: int) -> str:
        return f"2026-11-27T{hour:02d}:{minute:02d}:00.000Z"

    for minute, latency, outcome, symptom in [
        (1, 30.0, "fail", "transport"),
        (2, 10.0, "pass", "none"),
        (3, 40.0, "pass", "none"),
        (4, 20.0, "pass", "none"),
    ]:
        add(store, outcome, symptom, minutes_ago=0, env="a", latency_ms=latency, started_at=at(10, minute))
    add(store, "skip", minutes_ago=0, env="a", latency_ms=999.0, started_at=at(10, 5))
    add(store, "fail", "parser", minutes_ago=0, env="a", latency_ms=200.0, started_at=at(11, 0))
    add(store, "pass", minutes_ago=0, env="a", latency_ms=100.0, started_at=at(11, 1))
    add(store, "pass", minutes_ago=0, env="a", latency_ms=None, started_at=at(11, 2))
    add(store, "fail", "auth", minutes_ago=0, env="b", latency_ms=5.0, started_at=at(10, 30))


def test_symptom_counts_per_hour(store: HistoryStore) -> None:
    _hand_checked(store)
    frame = symptom_counts_over_time(store)
    expected = pd.DataFrame(
        {
            "bucket": ["2026-11-27T10", "2026-11-27T10", "2026-11-27T10", "2026-11-27T11", "2026-11-27T11"],
            "env": ["a", "a", "b", "a", "a"],
            "symptom": ["none", "transport", "auth", "none", "parser"],
            "count": [3, 1, 1, 2, 1],
        }
    )
    pdt.assert_frame_equal(frame, expected)
    assert frame.attrs["bucket"] == "hour"
    only_b = symptom_counts_over_time(store, envs=["b"], bucket="day")
    assert only_b.to_dict("records") == [{"bucket": "2026-11-27", "env": "b", "symptom": "auth", "count": 1}]
    since = symptom_counts_over_time(store, since="2026-11-27T11")
    assert since["count"].sum() == 3


def test_failure_rate_per_hour(store: HistoryStore) -> None:
    _hand_checked(store)
    expected = pd.DataFrame(
        {
            "bucket": ["2026-11-27T10", "2026-11-27T10", "2026-11-27T11"],
            "env": ["a", "b", "a"],
            "samples": [4, 1, 3],
            "failures": [1, 1, 1],
            "rate": [0.25, 1.0, 1 / 3],
        }
    )
    pdt.assert_frame_equal(failure_rate_over_time(store), expected)


def test_latency_percentiles_are_nearest_rank(store: HistoryStore) -> None:
    _hand_checked(store)
    expected = pd.DataFrame(
        {
            "bucket": ["2026-11-27T10", "2026-11-27T10", "2026-11-27T11"],
            "env": ["a", "b", "a"],
            "p50_ms": [20.0, 5.0, 100.0],  # a@10: 10 20 30 40 -> rank 2; a@11: 100 200 -> rank 1
            "p95_ms": [40.0, 5.0, 200.0],  # rank ceil(3.8) = 4; rank ceil(1.9) = 2
        }
    )
    pdt.assert_frame_equal(latency_percentiles_over_time(store), expected)


def test_percentile_ranks_are_exact(store: HistoryStore) -> None:
    for value in range(100, 0, -1):
        add(store, "pass", minutes_ago=0, latency_ms=float(value), started_at="2026-11-27T10:00:00.000Z")
    frame = latency_percentiles_over_time(store, percentiles=(0.07, 0.5, 0.95, 1.0))
    assert list(frame.columns) == ["bucket", "env", "p7_ms", "p50_ms", "p95_ms", "p100_ms"]
    assert frame.iloc[0, 2:].tolist() == [7.0, 50.0, 95.0, 100.0]  # 0.07 * 100 is 7.000000000000001 in floats


def test_bucket_is_day_when_the_history_spans_more_than_three_days(store: HistoryStore) -> None:
    add(store, "pass", minutes_ago=0, started_at="2026-11-20T10:00:00.000Z")
    add(store, "pass", minutes_ago=0, started_at="2026-11-23T10:00:00.000Z")
    assert choose_bucket(store) == "hour"
    add(store, "skip", minutes_ago=0, started_at="2026-11-27T10:00:00.000Z")  # not a sample
    assert choose_bucket(store) == "hour"
    add(store, "fail", "server", minutes_ago=0, started_at="2026-11-23T10:00:01.000Z")
    assert choose_bucket(store) == "day"
    frame = failure_rate_over_time(store)
    assert frame.attrs["bucket"] == "day"
    assert frame["bucket"].tolist() == ["2026-11-20", "2026-11-23"]
    assert choose_bucket(store, since="2026-11-21") == "hour"


def test_trends_of_an_empty_history_are_empty_frames(store: HistoryStore) -> None:
    frame = latency_percentiles_over_time(store)
    assert frame.empty
    assert list(frame.columns) == ["bucket", "env", "p50_ms", "p95_ms"]
    assert evaluate(store, default_rules(), now=NOW) == []


def test_percentiles_come_from_a_histogram_a_tenth_of_a_decade_fine(store: HistoryStore) -> None:
    """Each value is its bin's lower bound: 1 ms bins below 100, 10 ms below 1 s, 100 ms below 10 s."""
    for latency in (7.9, 123.4, 1234.5, 12345.6):
        add(store, "pass", minutes_ago=0, latency_ms=latency, started_at="2026-11-27T10:00:00.000Z")
    frame = latency_percentiles_over_time(store, percentiles=(0.25, 0.5, 0.75, 1.0))
    assert frame.iloc[0, 2:].tolist() == [7.0, 120.0, 1200.0, 12000.0]


def test_a_year_of_history_is_bucketed_by_month(store: HistoryStore) -> None:
    add(store, "pass", minutes_ago=0, started_at="2026-01-15T10:00:00.000Z")
    add(store, "pass", minutes_ago=0, started_at="2026-06-15T10:00:00.000Z")
    add(store, "fail", "server", minutes_ago=0, started_at="2026-11-27T10:00:00.000Z")
    assert choose_bucket(store) == "month"
    assert failure_rate_over_time(store)["bucket"].tolist() == ["2026-01", "2026-06", "2026-11"]


def test_rules_built_in_code_hold_the_same_bounds() -> None:
    from workbench.signals.triggers import MAX_COUNT, MAX_WINDOW_MINUTES

    with pytest.raises(ValueError, match="at most"):
        Rule("r", Symptom.AUTH, consecutive=MAX_COUNT + 1)
    with pytest.raises(ValueError, match="at most"):
        Rule("r", Symptom.SERVER, rate=0.1, window_minutes=MAX_WINDOW_MINUTES + 1, min_samples=1)
    assert Rule("r", Symptom.SERVER, rate=0.1, window_minutes=MAX_WINDOW_MINUTES, min_samples=MAX_COUNT)
