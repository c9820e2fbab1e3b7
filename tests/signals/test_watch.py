"""Watching an application's request log: real log files in tests/data/logs, judged by the same rules."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.paths import DATA
from workbench import ConfigError, Symptom, action_for
from workbench.signals.triggers import Rule, default_rules
from workbench.signals.watch import LogColumns, watch
from workbench.wire.classify import classify_exception, classify_logged

LOGS = DATA / "logs"
PARSER_5 = Rule("parser-consecutive", Symptom.PARSER, consecutive=5)
TRANSPORT_20 = Rule("transport-rate", Symptom.TRANSPORT, rate=0.2, window_minutes=60, min_samples=20)
GATEWAY_COLUMNS = LogColumns(
    timestamp="when", status="http_code", error="response_body", exception="exc_type", latency_ms="duration"
)


def test_json_lines_log_is_classified_line_by_line() -> None:
    report = watch(LOGS / "app-requests.jsonl", rules=default_rules())
    assert report.samples == 9
    assert dict(report.counts) == {"none": 2, "transport": 4, "auth": 1, "rate_limit": 1, "parser": 1}
    assert report.malformed == [
        (8, "not JSON (Expecting value at char 0)"),
        (9, "missing timestamp ('timestamp')"),
        (10, "status 'abc' is not an HTTP status"),
        (11, "latency_ms 'fast' is not a latency in milliseconds"),
        (14, "not a JSON object (list)"),
    ]
    assert report.first == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert report.now == report.last == datetime(2026, 11, 27, 10, 0, 55, tzinfo=UTC)
    assert report.examples["parser"].startswith("line 7: HTTP 200, then KeyError in the application's parser")
    assert report.examples["rate_limit"].startswith("line 3: HTTP 429")
    assert (
        "502 Bad Gateway" in report.examples["transport"] or "JSONDecodeError" in report.examples["transport"]
    )
    assert not report.fired  # nine requests are too few for any default rule
    assert len(report.firings) == len(default_rules())


def test_csv_log_with_custom_columns() -> None:
    report = watch(LOGS / "gateway.csv", rules=default_rules(), columns=GATEWAY_COLUMNS)
    assert report.samples == 8
    assert dict(report.counts) == {
        "none": 1,
        "transport": 3,
        "auth": 1,
        "rate_limit": 1,
        "server": 1,
        "parser": 1,
    }
    assert report.malformed == [
        (9, "3 fields, the header has 5"),
        (10, "6 fields, the header has 5"),
        (11, "missing timestamp ('when')"),
        (12, "http_code '2OO' is not an HTTP status"),
        (13, "duration '-5' is not a latency in milliseconds"),
    ]
    # epoch seconds and an ISO time with an offset land on the same clock
    assert report.first == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert report.last == datetime(2026, 11, 27, 10, 0, 12, tzinfo=UTC)
    assert report.examples["server"].startswith("line 14: HTTP 500")


def test_columns_parse_from_field_equals_name_and_the_rest_keep_their_defaults() -> None:
    assert LogColumns.parse([]) == LogColumns()
    parsed = LogColumns.parse(
        [
            "timestamp=when",
            "status=http_code",
            "error=response_body",
            "exception=exc_type",
            "latency_ms=duration",
        ]
    )
    assert parsed == GATEWAY_COLUMNS
    assert LogColumns.parse(["status=code", "status=http_code"]) == LogColumns(
        status="http_code"
    )  # last wins
    assert LogColumns.parse(["error=a=b"]).error == "a=b"  # only the first '=' separates


@pytest.mark.parametrize("assignment", ["status", "colour=red", "status=", "=status"])
def test_columns_refuse_an_unknown_field_or_an_empty_name(assignment: str) -> None:
    fields = "timestamp, status, error, exception, latency_ms"
    with pytest.raises(ConfigError, match=rf"^--column: expected FIELD=NAME with FIELD one of {fields}, got"):
        LogColumns.parse(["timestamp=when", assignment])


def test_csv_with_default_columns_is_refused_when_the_header_does_not_match() -> None:
    with pytest.raises(ConfigError, match=r"gateway\.csv: no header naming the timestamp column 'timestamp'"):
        watch(LOGS / "gateway.csv", rules=default_rules())


def test_consecutive_parser_failures_fire() -> None:
    report = watch(LOGS / "parser-run.jsonl", rules=[PARSER_5, TRANSPORT_20])
    assert report.counts == {"none": 2, "parser": 6}
    parser, transport = report.firings
    assert parser.fired
    assert parser.env == parser.series == "parser-run.jsonl"
    assert parser.evidence == (
        "5 consecutive parser failures on parser-run.jsonl (latest 2026-11-27T10:00:07.000Z)"
    )
    assert parser.action == action_for(Symptom.PARSER)
    assert not transport.fired
    assert report.fired
    assert report.fired_firings == [parser]


def test_a_success_breaks_the_parser_run(tmp_path: Path) -> None:
    lines = (LOGS / "parser-run.jsonl").read_text(encoding="utf-8").splitlines()
    shorter = tmp_path / "parser-run.jsonl"
    shorter.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # the 200 at line 3 ends the run at 4
    report = watch(shorter, rules=[PARSER_5])
    assert not report.fired
    assert report.firings[0].evidence.startswith("longest current run of parser failures 4 of 5")


def test_lines_out_of_time_order_are_judged_in_time_order(tmp_path: Path) -> None:
    lines = (LOGS / "parser-run.jsonl").read_text(encoding="utf-8").splitlines()
    reversed_log = tmp_path / "parser-run.jsonl"
    reversed_log.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    report = watch(reversed_log, rules=[PARSER_5])
    assert report.fired
    assert report.firings[0].evidence.endswith("(latest 2026-11-27T10:00:07.000Z)")


def test_transport_rate_fires_within_the_window() -> None:
    report = watch(LOGS / "transport-burst.jsonl", rules=[PARSER_5, TRANSPORT_20])
    assert report.samples == 60
    assert report.counts["transport"] == 10
    assert report.counts["rate_limit"] == 1
    transport = report.firings[1]
    assert transport.fired
    # thirty older successes three hours earlier are outside the window: counted, they would dilute to 17%
    assert transport.evidence == "33.3% transport (10 of 30 samples) in the last 60 min"
    assert transport.action == action_for(Symptom.TRANSPORT)


def test_now_moves_the_window() -> None:
    later = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    report = watch(LOGS / "transport-burst.jsonl", rules=[TRANSPORT_20], now=later)
    assert not report.fired
    assert report.firings[0].evidence == "0 samples < min 20 in the last 60 min"
    five_minutes_in = watch(
        LOGS / "transport-burst.jsonl", rules=[TRANSPORT_20], now=later - timedelta(minutes=115)
    )
    assert five_minutes_in.firings[0].evidence == "16 samples < min 20 in the last 60 min"


def test_format_is_detected_from_content(tmp_path: Path) -> None:
    copy = tmp_path / "requests.log"
    shutil.copy(LOGS / "app-requests.jsonl", copy)
    assert watch(copy, rules=[PARSER_5]).samples == 9
    as_csv = tmp_path / "gateway.txt"
    shutil.copy(LOGS / "gateway.csv", as_csv)
    assert watch(as_csv, rules=[PARSER_5], columns=GATEWAY_COLUMNS).samples == 8
    assert watch(as_csv, rules=[PARSER_5], columns=GATEWAY_COLUMNS, fmt="csv").samples == 8


def test_default_rules_when_none_are_given(workdir: Path) -> None:
    report = watch(LOGS / "parser-run.jsonl")
    assert [f.rule.name for f in report.firings] == [rule.name for rule in default_rules()]
    assert [f.rule.name for f in report.fired_firings] == ["parser-consecutive"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("missing.jsonl", "log file not found", id="missing-file"),
        pytest.param("empty.csv", "empty CSV: expected a header row", id="empty-csv"),
        pytest.param("headerless.csv", "no header naming the timestamp column", id="headerless-csv"),
    ],
)
def test_unreadable_logs_are_config_errors_naming_the_file(name: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        watch(LOGS / name, rules=[PARSER_5])
    assert str(caught.value).startswith(f"{LOGS / name}: {message}")


def test_an_empty_json_lines_log_has_no_samples(tmp_path: Path) -> None:
    empty = tmp_path / "quiet.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    report = watch(empty, rules=[PARSER_5, TRANSPORT_20])
    assert (report.samples, report.now, report.fired) == (0, None, False)
    assert [f.evidence for f in report.firings] == ["no samples", "0 samples < min 20 in the last 60 min"]


@pytest.mark.parametrize(
    ("exception", "symptom"),
    [
        ("httpx.ConnectTimeout", Symptom.TRANSPORT),
        ("ReadTimeout", Symptom.TRANSPORT),
        ("httpx.ConnectError", Symptom.TRANSPORT),
        ("RemoteProtocolError", Symptom.TRANSPORT),
        ("openai.APIConnectionError", Symptom.TRANSPORT),
        ("json.decoder.JSONDecodeError", Symptom.TRANSPORT),
        ("KeyError", Symptom.PARSER),
        ("TypeError", Symptom.PARSER),
        ("IndexError", Symptom.PARSER),
        ("pydantic_core.ValidationError", Symptom.PARSER),
        ("workbench.ParserError", Symptom.PARSER),
        ("ResponseParseError", Symptom.PARSER),
        ("openai.AuthenticationError", Symptom.AUTH),
        ("openai.RateLimitError", Symptom.RATE_LIMIT),
    ],
)
def test_exception_names_map_to_symptom_classes(exception: str, symptom: Symptom) -> None:
    assert classify_exception(exception).symptom is symptom


def test_a_json_decode_error_is_a_non_json_response() -> None:
    result = classify_exception("json.decoder.JSONDecodeError", "Expecting value")
    assert (result.symptom, result.detail) == (
        Symptom.TRANSPORT,
        "JSONDecodeError: the response was not JSON: Expecting value",
    )


def test_an_unknown_exception_is_transport_and_named() -> None:
    result = classify_exception("FrobnicationFailure", "gears")
    assert (result.symptom, result.detail) == (
        Symptom.TRANSPORT,
        "unknown exception FrobnicationFailure (counted as transport): gears",
    )


def test_status_decides_when_the_request_failed_on_the_wire() -> None:
    # An SDK wraps a 401 in an exception; the status and body classify it, not the wrapper's name.
    result = classify_logged(401, '{"error": {"message": "bad key"}}', "openai.AuthenticationError")
    assert result.symptom is Symptom.AUTH
    assert result.detail.startswith("openai.AuthenticationError: HTTP 401")
    passed = classify_logged(204, "", None)
    assert (passed.symptom, passed.detail) == (Symptom.NONE, "HTTP 204")
    assert classify_logged(200, "<html>portal</html>", None).symptom is Symptom.TRANSPORT
