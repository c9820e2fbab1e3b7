"""Every kind of bad input: one line naming the file and the key or line, exit 2, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands import cli, workbench

GOOD_ENV = '[environments.ref]\nbase_url = "embedded"\n'

# (id, files to write, command, words the one line must contain)
CASES: list[tuple[str, dict[str, str], tuple[str, ...], tuple[str, ...]]] = [
    (
        "config-malformed-toml",
        {"env.toml": "[environments.ref\n"},
        ("probe", "--config", "env.toml"),
        ("env.toml", "malformed TOML at line 1"),
    ),
    (
        "config-unknown-key",
        {"env.toml": GOOD_ENV + "retries = 3\n"},
        ("probe", "--config", "env.toml"),
        ("env.toml", "environments.ref.retries", "unknown key"),
    ),
    (
        "config-wrong-type",
        {"env.toml": GOOD_ENV + 'timeout_s = "fast"\n'},
        ("audit", "--config", "env.toml"),
        ("env.toml", "environments.ref.timeout_s"),
    ),
    # Observed before the fix: both were coerced silently ("30" -> 30.0, "yes" -> True) and the run went on.
    (
        "config-number-as-text",
        {"env.toml": GOOD_ENV + 'timeout_s = "30"\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml", "environments.ref.timeout_s", "valid number"),
    ),
    (
        "config-boolean-as-text",
        {"env.toml": GOOD_ENV + 'production = "yes"\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml", "environments.ref.production", "valid boolean"),
    ),
    (
        "config-url-with-crlf",
        {
            "env.toml": '[environments.ref]\nbase_url = "https://a.example\\r\\nX: 1"\n'
            'api_key_env = "K"\nmodel = "m"\n'
        },
        ("probe", "--config", "env.toml"),
        ("env.toml", "environments.ref.base_url", "whitespace"),
    ),
    # Issue 20: a password in base_url was accepted, printed whole by -v and missed by `scan`.
    (
        "config-url-with-credentials",
        {
            "env.toml": '[environments.ref]\nbase_url = "https://ops:pa55word-canary@gw.example/v1"\n'
            'api_key_env = "K"\nmodel = "m"\n'
        },
        ("probe", "--config", "env.toml"),
        (
            "env.toml",
            "environments.ref.base_url",
            "carries credentials (https://***@gw.example/v1)",
            "headers_env",
        ),
    ),
    (
        "config-header-value-not-a-variable",
        {"env.toml": GOOD_ENV + 'headers_env = { "X-Gateway-Key" = "gw-secret-value!" }\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml", "environments.ref.headers_env", "NAME of an environment variable"),
    ),
    (
        "config-header-the-workbench-sets",
        {"env.toml": GOOD_ENV + 'headers_env = { "Authorization" = "GW_AUTH" }\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml", "environments.ref.headers_env", "set by the workbench itself"),
    ),
    (
        "config-unknown-negatives-from",
        {"env.toml": GOOD_ENV + 'negatives_from = "staging"\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml", "environments.ref.negatives_from"),
    ),
    (
        "config-unknown-drift-reference",
        {"env.toml": '[workbench]\ndrift_reference = "staging"\n' + GOOD_ENV},
        ("audit", "--config", "env.toml"),
        ("env.toml", "workbench.drift_reference", "'staging'", "configured: ref"),
    ),
    (
        "prompt-with-personal-data",
        {"env.toml": GOOD_ENV + '[environments.ref.app_request]\nuser = "call me on +1 415 555 0100"\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml", "environments.ref.app_request", "phone number"),
    ),
    (
        "triggers-malformed",
        {"env.toml": GOOD_ENV, "rules.toml": "[[rule]\n"},
        ("trends", "--config", "env.toml", "--triggers", "rules.toml"),
        ("rules.toml", "line 1"),
    ),
    (
        "triggers-unknown-symptom",
        {"env.toml": GOOD_ENV, "rules.toml": '[[rule]]\nsymptom = "vibes"\nconsecutive = 2\n'},
        ("trends", "--config", "env.toml", "--triggers", "rules.toml"),
        ("rules.toml", "rule[0].symptom"),
    ),
    (
        "manifest-unknown-key",
        {"env.toml": GOOD_ENV, "m.toml": '[client]\npackage = "httpx"\ncolour = "red"\n'},
        (
            "bundle",
            "capture",
            "--config",
            "env.toml",
            "--env",
            "ref",
            "--release",
            "r1",
            "--manifest",
            "m.toml",
        ),
        ("m.toml", "client.colour"),
    ),
    (
        "manifest-missing-file",
        {"env.toml": GOOD_ENV, "m.toml": '[request]\nprompt_template = "nope.txt"\n'},
        (
            "bundle",
            "capture",
            "--config",
            "env.toml",
            "--env",
            "ref",
            "--release",
            "r1",
            "--manifest",
            "m.toml",
        ),
        ("m.toml", "request.prompt_template"),
    ),
    (
        "bundle-corrupt",
        {"env.toml": GOOD_ENV, "b.json": '{"format": "contract-workbench-bundle/1", "env": '},
        ("bundle", "verify", "--config", "env.toml", "b.json"),
        ("b.json",),
    ),
    # Observed before the fix: an OverflowError traceback (SQLite int, timedelta) in trends and watch.
    (
        "triggers-huge-consecutive",
        {
            "env.toml": GOOD_ENV,
            "rules.toml": '[[rule]]\nsymptom = "auth"\nconsecutive = 99999999999999999999\n',
        },
        ("trends", "--config", "env.toml", "--triggers", "rules.toml"),
        ("rules.toml", "rule[0].consecutive", "at most"),
    ),
    (
        "triggers-huge-window",
        {
            "app.jsonl": '{"timestamp": "2026-01-01T00:00:00Z", "status": 500}\n',
            "rules.toml": '[[rule]]\nsymptom = "server"\nrate = 0.1\nwindow_minutes = 1e300\n'
            "min_samples = 1\n",
        },
        ("watch", "app.jsonl", "--triggers", "rules.toml"),
        ("rules.toml", "rule[0].window_minutes", "at most"),
    ),
    (
        "triggers-huge-min-samples",
        {
            "env.toml": GOOD_ENV,
            "rules.toml": '[[rule]]\nsymptom = "server"\nrate = 0.1\nwindow_minutes = 60\n'
            "min_samples = 99999999999999999999\n",
        },
        ("trends", "--config", "env.toml", "--triggers", "rules.toml"),
        ("rules.toml", "rule[0].min_samples", "at most"),
    ),
    # Observed before the fix: both were found only after every probe request was sent and stored
    # (data/history.sqlite written); a --reports that is a file ended in a FileExistsError traceback.
    (
        "audit-triggers-missing",
        {"env.toml": '[workbench]\ntriggers = "nope.toml"\n' + GOOD_ENV},
        ("audit", "--config", "env.toml"),
        ("nope.toml", "file not found"),
    ),
    (
        "audit-reports-is-a-file",
        {"env.toml": GOOD_ENV, "out": "not a folder\n"},
        ("audit", "--config", "env.toml", "--reports", "out"),
        ("out", "--reports", "not a folder"),
    ),
    (
        "audit-reports-under-a-file",
        {"env.toml": GOOD_ENV, "out": "not a folder\n"},
        ("audit", "--config", "env.toml", "--reports", "out/reports"),
        ("out/reports", "--reports", "not a folder"),
    ),
    # Observed before the fix: "no secret in /nonexistent", exit 0 (a typo passed a CI gate).
    (
        "scan-missing-path",
        {"env.toml": GOOD_ENV},
        ("scan", "--config", "env.toml", "nope/"),
        ("nope", "not found"),
    ),
    # Observed before the fix: a sqlite3.ProgrammingError traceback (threads), then "no such table".
    (
        "store-in-memory",
        {"env.toml": GOOD_ENV},
        ("probe", "--config", "env.toml", "--store", "sqlite:///:memory:"),
        ("in-memory", "sqlite:///data/history.sqlite"),
    ),
    (
        "store-sqlite-without-a-file",
        {"env.toml": GOOD_ENV},
        ("trends", "--config", "env.toml", "--store", "sqlite://"),
        ("in-memory",),
    ),
    ("log-missing", {}, ("watch", "app.log.jsonl"), ("app.log.jsonl",)),
    ("log-csv-without-header", {"app.csv": ""}, ("watch", "app.csv", "--format", "csv"), ("app.csv",)),
    (
        "fixture-manifest-damaged",
        {
            "env.toml": GOOD_ENV,
            "data/fixtures/ref/r1/manifest.json": "{not json",
            "data/fixtures/ref/r1/a.json": "{}",
        },
        ("probe", "--config", "env.toml"),
        ("data/fixtures/ref/r1/manifest.json", "unreadable fixture manifest"),
    ),
    (
        "baseline-missing",
        {"env.toml": GOOD_ENV + 'baseline = "r9"\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml: environments.ref.baseline", "no fixtures"),
    ),
    # The app's contract (issue 19): refused when the configuration loads, before anything is sent.
    (
        "app-tool-not-a-function",
        {"env.toml": GOOD_ENV + '[environments.ref.app_request]\ntools = [{ type = "retrieval" }]\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml: environments.ref.app_request.tools[0]", "must be a function tool"),
    ),
    (
        "app-tool-choice-not-offered",
        {
            "env.toml": GOOD_ENV
            + "[environments.ref.app_request]\n"
            + 'tools = [{ type = "function", function = { name = "get_weather", '
            + 'parameters = { type = "object" } } }]\n'
            + 'tool_choice = { type = "function", function = { name = "get_time" } }\n'
        },
        ("probe", "--config", "env.toml"),
        ("environments.ref.app_request.tool_choice", "'get_time', which is not among the tools offered"),
    ),
    (
        "app-format-schema-invalid",
        {
            "env.toml": GOOD_ENV
            + "[environments.ref.app_request]\n"
            + 'response_format = { type = "json_schema", '
            + 'json_schema = { name = "a", schema = { type = "objekt" } } }\n'
        },
        ("probe", "--config", "env.toml"),
        ("environments.ref.app_request.response_format.json_schema.schema.type", "not a valid JSON Schema"),
    ),
    (
        "app-schema-remote-ref",
        {
            "env.toml": GOOD_ENV
            + "[environments.ref.app_request]\n"
            + 'tools = [{ type = "function", function = { name = "f", parameters = { type = "object", '
            + 'properties = { city = { "$ref" = "https://schemas.example.com/city.json" } } } } }]\n'
        },
        ("probe", "--config", "env.toml"),
        ("parameters.properties.city.$ref", "a remote $ref"),
    ),
    (
        "app-uses-unknown",
        {"env.toml": GOOD_ENV + 'uses = ["tool_calls", "telepathy"]\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml: environments.ref.uses", "unknown value 'telepathy'"),
    ),
    # Observed before the fix: these named the field but not the file.
    (
        "parser-missing-module",
        {"env.toml": GOOD_ENV + 'parser = "nope.mod:parse"\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml: environments.ref.parser", "cannot import module 'nope.mod'"),
    ),
    (
        "acceptance-missing-function",
        {"env.toml": GOOD_ENV + 'acceptance = "json:no_such_check"\n'},
        ("probe", "--config", "env.toml"),
        ("env.toml: environments.ref.acceptance", "no callable 'no_such_check'"),
    ),
]


@pytest.mark.parametrize(
    ("files", "command", "words"), [pytest.param(*case[1:], id=case[0]) for case in CASES]
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, files: dict[str, str], command: tuple[str, ...], words: tuple[str, ...]
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    done = cli(*command, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pa55word" not in done.stdout + done.stderr  # a password in a bad value is never repeated
    lines = done.error_lines
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    after = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert after == before, "something was written"


@pytest.mark.parametrize(("files", "command", "words"), [pytest.param(*CASES[0][1:], id=CASES[0][0])])
def test_a_shell_sees_the_same_one_line_and_exit_2(
    tmp_path: Path, files: dict[str, str], command: tuple[str, ...], words: tuple[str, ...]
) -> None:
    """The table above runs in-process; one case runs as a shell runs it, no traceback either."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    done = workbench(*command, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and all(word in line for word in words), line


def test_there_are_at_least_ten_kinds_of_bad_input() -> None:
    assert len(CASES) >= 10
