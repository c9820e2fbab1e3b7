"""The `workbench` command as schedulers use it: output formats, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KEY_CANARY = "sk-canary-7d1f3a9b5c2e4f60a8b1c3d5e7f9a1b3"


def workbench(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command in a fresh process, as cron or CI would."""
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_probe_json_is_one_array_of_records(workdir: Path) -> None:
    done = workbench("probe", "--env", "reference", "--format", "json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert isinstance(records, list) and len(records) == 7
    expected_keys = {
        "run_id",
        "env",
        "probe",
        "area",
        "outcome",
        "symptom",
        "retryable",
        "http_status",
        "latency_ms",
        "detail",
        "action",
    }
    for record in records:
        assert expected_keys <= record.keys()
        assert record["env"] == "reference" and record["outcome"] == "pass"
    assert len({record["run_id"] for record in records}) == 1
    assert (workdir / "data" / "history.sqlite").exists()  # the default store, relative to the working dir


def test_probe_table_exits_1_on_a_contract_failure_and_says_what_to_do(workdir: Path) -> None:
    done = workbench("probe", cwd=workdir)
    assert done.returncode == 1
    assert "reference: ready" in done.stdout
    assert "reference-drifted: not ready" in done.stdout
    assert "auth.missing_key: auth" in done.stdout
    assert "next:" in done.stdout
    assert "[14/14]" in done.stderr  # progress, one line per result when not on a terminal


def test_a_single_probe_can_be_selected(workdir: Path) -> None:
    done = workbench(
        "probe",
        "--env",
        "reference-drifted",
        "--probe",
        "errors.malformed_json",
        "--format",
        "json",
        cwd=workdir,
    )
    records = json.loads(done.stdout)
    assert [(r["probe"], r["outcome"], r["symptom"]) for r in records] == [
        ("errors.malformed_json", "fail", "transport")
    ]
    assert done.returncode == 1


@pytest.mark.parametrize(
    ("args", "config_text", "message"),
    [
        pytest.param(("--config", "missing.toml"), None, "missing.toml: file not found", id="missing-file"),
        pytest.param((), "[environments.x\n", "malformed TOML at line 1", id="malformed"),
        pytest.param(
            (),
            '[environments.x]\nbase_url = "embedded"\nretries = 3\n',
            "environments.x.retries: unknown key",
            id="unknown-key",
        ),
        pytest.param(("--env", "nope"), None, "unknown environment 'nope'", id="unknown-env"),
        pytest.param(
            (),
            '[environments.x]\nbase_url = "https://api.example.com"\napi_key_env = "WB_TEST_UNSET_KEY"\n'
            'model = "m"\n',
            "environment variable WB_TEST_UNSET_KEY is not set",
            id="unset-key-variable",
        ),
        pytest.param(
            ("--probe", "endpoint.maximal"), None, "unknown probe 'endpoint.maximal'", id="unknown-probe"
        ),
        pytest.param(("--store", "not a url"), None, "not a database URL", id="bad-store-url"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_with_nothing_written(
    workdir: Path, args: tuple[str, ...], config_text: str | None, message: str
) -> None:
    if config_text is not None:
        (workdir / "data").mkdir()
        (workdir / "data" / "environments.toml").write_text(config_text)
    done = workbench("probe", *args, cwd=workdir, env={"WB_TEST_UNSET_KEY": ""})
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (workdir / "data" / "history.sqlite").exists()
    assert not (workdir / "reports").exists()


def test_an_unset_key_variable_is_named_but_a_set_key_never_printed(workdir: Path) -> None:
    (workdir / "env.toml").write_text(
        '[environments.staging]\nbase_url = "embedded"\napi_key_env = "WB_TEST_KEY"\n'
    )
    done = workbench(
        "probe", "--config", "env.toml", "--format", "json", cwd=workdir, env={"WB_TEST_KEY": KEY_CANARY}
    )
    assert done.returncode == 0, done.stderr
    assert KEY_CANARY not in done.stdout + done.stderr
    history = (workdir / "data" / "history.sqlite").read_bytes()
    assert KEY_CANARY.encode() not in history


def test_version_and_help(workdir: Path) -> None:
    assert workbench("--version", cwd=workdir).stdout.startswith("contract-workbench ")
    helped = workbench("--help", cwd=workdir)
    for verb in ("audit", "probe", "serve"):
        assert verb in helped.stdout
