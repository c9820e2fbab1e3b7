"""Bodies past the JSON limits (nesting depth, number length): a `parser` finding, never a crash.

Observed before the fix: `workbench classify` of `[` x 100,000 printed a RecursionError traceback, of a
completion with a 5,000-digit usage count a ValueError (int max str digits); `classify /dev/zero` ran
until killed; `watch` of a log line nested that deep printed the RecursionError traceback; every probe
against such a server ended "could not run" (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.commands import cli
from workbench.core.config import Settings
from workbench.core.models import Symptom
from workbench.wire import boundedjson
from workbench.wire.classify import BodyKind, classify, classify_file
from workbench.wire.client import DEFAULT_MAX_BODY_BYTES

DEEP = b"[" * 100_000 + b"]" * 100_000
COMPLETION = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}
LONG_NUMBER = (
    json.dumps({**COMPLETION, "usage": {"total_tokens": 0}})
    .replace('"total_tokens": 0', '"total_tokens": ' + "9" * 5000)
    .encode()
)
DEEP_IN_A_COMPLETION = json.dumps(COMPLETION).replace('"ok"', "[" * 500 + "]" * 500).encode()


def test_depth_and_number_limits_name_what_was_passed() -> None:
    with pytest.raises(boundedjson.JSONBoundsError, match="nested deeper than 128 levels"):
        boundedjson.loads(DEEP)
    with pytest.raises(boundedjson.JSONBoundsError, match="number of 5,000 characters"):
        boundedjson.loads(LONG_NUMBER)
    with pytest.raises(boundedjson.JSONBoundsError, match="number of 101 characters"):
        boundedjson.loads("1." + "5" * 99)


def test_the_checks_are_skipped_only_where_no_literal_can_pass_a_limit() -> None:
    """Issue 20 (bench): a number hook and a long-string search per body cost 1.2 s for 350,000 keys,
    so both are used only where a literal past a limit could be; these still are."""
    key_full_of_quotes = '{"' + 'a\\"' * 130 + '": 1}'  # a 260-character key, never 257 quote-free characters
    with pytest.raises(boundedjson.JSONBoundsError, match="key of 260 characters"):
        boundedjson.loads(key_full_of_quotes)
    with pytest.raises(boundedjson.JSONBoundsError, match="number of 120 characters"):
        boundedjson.loads('{"n": -1.' + "5" * 117 + "}")
    with pytest.raises(boundedjson.JSONBoundsError, match="number of 150 characters"):
        boundedjson.loads("[" + "1" * 150 + "]")
    many = "{" + ",".join(f'"f{n}": {n}' for n in range(50_000)) + "}"
    assert boundedjson.loads(many) == json.loads(many)


def test_within_the_limits_is_plain_json() -> None:
    at_limit = "[" * boundedjson.MAX_DEPTH + "]" * boundedjson.MAX_DEPTH
    assert boundedjson.loads(at_limit) == json.loads(at_limit)
    brackets_in_strings = json.dumps({"text": "[[[{{{" * 1000, "escaped": '\\"[[[' * 100})
    assert boundedjson.loads(brackets_in_strings) == json.loads(brackets_in_strings)
    assert boundedjson.loads("[1.5e3, -2, 12345678901234567890]") == [1500.0, -2, 12345678901234567890]
    with pytest.raises(json.JSONDecodeError):
        boundedjson.loads("{not json")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (DEEP, "nested deeper than 128 levels"),
        (DEEP_IN_A_COMPLETION, "nested deeper than 128 levels"),
        (LONG_NUMBER, "number of 5,000 characters"),
    ],
    ids=["deep", "deep-inside-a-completion", "long-number"],
)
@pytest.mark.parametrize("status", [200, 401, 500])
def test_a_body_past_the_limits_is_a_parser_finding(body: bytes, words: str, status: int) -> None:
    result = classify(status, body, content_type="application/json")
    assert (result.symptom, result.kind, result.retryable) == (Symptom.PARSER, BodyKind.OVER_LIMITS, False)
    assert words in result.detail and result.detail.startswith(f"HTTP {status} body: ")


def test_a_stream_chunk_past_the_limits_is_a_parser_finding() -> None:
    chunk = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
    body = chunk + b"data: " + DEEP + b"\n\n" + chunk + b"data: [DONE]\n\n"
    result = classify(200, body, content_type="text/event-stream")
    assert (result.symptom, result.kind) == (Symptom.PARSER, BodyKind.STREAM)
    assert "a stream chunk: JSON nested deeper than 128 levels" in result.detail


def test_the_default_body_cap_is_the_configurations_default() -> None:
    assert Settings().max_body_bytes == DEFAULT_MAX_BODY_BYTES


def test_classify_file_reads_under_the_byte_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * DEFAULT_MAX_BODY_BYTES + b"{}")
    result = classify_file(big)
    assert (result.symptom, result.kind) == (Symptom.TRANSPORT, BodyKind.NONE)
    assert f"{DEFAULT_MAX_BODY_BYTES:,}-byte cap" in result.detail


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [("deep.json", DEEP, "nested deeper"), ("number.json", LONG_NUMBER, "number of 5,000 characters")],
)
def test_workbench_classify_prints_the_finding_not_a_traceback(
    tmp_path: Path, name: str, body: bytes, words: str
) -> None:
    (tmp_path / name).write_bytes(body)
    done = cli("classify", name, cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    printed = json.loads(done.stdout)
    assert printed["symptom"] == "parser" and words in printed["detail"]


def test_workbench_classify_of_dev_zero_ends_at_the_cap(tmp_path: Path) -> None:
    done = cli("classify", "/dev/zero", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "byte cap" in json.loads(done.stdout)["detail"]


def test_workbench_watch_skips_a_line_past_the_limits_as_malformed(tmp_path: Path) -> None:
    good = '{"timestamp": "2026-01-01T00:00:00Z", "status": 200}\n'
    deep = '{"timestamp": "2026-01-01T00:00:01Z", "status": 200, "extra": ' + DEEP.decode() + "}\n"
    number = '{"timestamp": "2026-01-01T00:00:02Z", "status": 2' + "0" * 5000 + "}\n"
    (tmp_path / "app.jsonl").write_text(good + deep + number + good)
    done = cli("watch", "app.jsonl", cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert "2 request(s) read" in done.stdout
    assert "line 2: not read: JSON nested deeper than 128 levels" in done.stderr
    assert "line 3: not read: a JSON number of 5,001 characters" in done.stderr


def test_workbench_watch_of_dev_zero_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = cli("watch", "/dev/zero", "--format", "jsonl", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.error_lines == [
        f"error: /dev/zero: line 1 is longer than the {DEFAULT_MAX_BODY_BYTES:,}-byte cap: not a request log"
    ]
