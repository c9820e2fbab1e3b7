"""`workbench watch` after a traffic shift says whose traffic it judged and what comes next (issue 22).

Observed before: the verdict named only the log file; a quiet log led nowhere (never to
`workbench confirm traffic-shift`); "tune data/triggers.toml" was printed in a project that had
none; a CSV or JSON log whose fields had other names was refused line by line without a word
about `--column`.
"""

from __future__ import annotations

from pathlib import Path

from tests.commands import cli
from tests.paths import DATA


def quiet_log(folder: Path) -> Path:
    log = folder / "app.jsonl"
    log.write_text(
        "".join(
            f'{{"timestamp": "2026-12-01T10:00:{second:02d}Z", "status": 200, "latency_ms": 300}}\n'
            for second in range(20)
        )
    )
    return log


def test_a_quiet_log_names_the_environment_and_leads_to_confirming_the_shift(workdir: Path) -> None:
    done = cli("watch", str(quiet_log(workdir)), "--env", "reference", cwd=workdir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("reference: ")
    assert (
        "next: the traffic shift held on 20 request(s): record it with "
        "`workbench confirm traffic-shift --env reference --by NAME`" in done.stdout
    )


def test_without_env_the_next_step_says_which_environment_to_name(workdir: Path) -> None:
    done = cli("watch", str(quiet_log(workdir)), cwd=workdir)
    assert done.returncode == 0
    assert "--env ENV --by NAME` (ENV: the environment this traffic is)" in done.stdout


def test_an_unknown_environment_is_refused_before_the_log_is_read(workdir: Path) -> None:
    done = cli("watch", "no-such.log", "--env", "nope", cwd=workdir)
    assert done.returncode == 2
    assert "unknown environment 'nope'" in done.stderr and "no-such.log" not in done.stderr


def test_a_triggers_file_is_named_only_when_there_is_one(workdir: Path) -> None:
    log = quiet_log(workdir)
    without = cli("watch", str(log), cwd=workdir)
    assert "triggers.toml" not in without.stdout, "no triggers file in this project"
    assert "the thresholds are the built-in examples" in without.stdout
    (workdir / "data").mkdir()
    (workdir / "data" / "triggers.toml").write_text(
        (DATA.parent.parent / "data" / "triggers.toml").read_text()
    )
    (workdir / "data" / "environments.toml").write_text('[environments.reference]\nbase_url = "embedded"\n')
    tuned = cli("watch", str(log), cwd=workdir)
    assert "tune data/triggers.toml for your traffic" in tuned.stdout, tuned.stdout


def test_a_csv_with_other_column_names_suggests_column(workdir: Path) -> None:
    done = cli("watch", str(DATA / "logs" / "gateway.csv"), cwd=workdir)
    assert done.returncode == 2
    assert "(first row: when, http_code, response_body, exc_type, duration)" in done.stderr
    assert "--column timestamp=NAME" in done.stderr


def test_json_lines_with_other_field_names_suggest_column(workdir: Path) -> None:
    log = workdir / "app.jsonl"
    log.write_text('{"when": 1795773600, "code": 200}\n{"when": 1795773601, "code": 500}\n')
    done = cli("watch", str(log), cwd=workdir)
    assert done.returncode == 2
    assert "this log's fields (when, code) are not the default names" in done.stderr
    assert "--column FIELD=NAME" in done.stderr
    named = cli("watch", str(log), "--column", "timestamp=when", "--column", "status=code", cwd=workdir)
    assert named.returncode == 0 and "2 request(s) read" in named.stdout, named.stdout + named.stderr
    assert "default names" not in named.stderr
