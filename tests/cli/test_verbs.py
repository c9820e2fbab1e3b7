"""The `workbench` command as schedulers use it: output formats, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.commands import cli, workbench
from tests.paths import DATA, REPO
from workbench.probes.catalog import CATALOG

KEY_CANARY = canary_key("cli")
# no fixtures captured yet; an embedded endpoint has no quota or billing to confirm; the default
# environments offer no tools and ask for no JSON format
SKIPPED_WITHOUT_SETUP = (
    "response.fixture_replay",
    "limits.operator_confirmation",
    "request.tool_call",
    "request.tool_round_trip",
    "request.structured_output",
    "streaming.tool_call",
)


def test_probe_json_is_one_array_of_records(workdir: Path) -> None:
    done = cli("probe", "--env", "reference", "--format", "json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert isinstance(records, list) and len(records) == len(CATALOG)
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
        assert record["env"] == "reference"
        assert record["outcome"] == ("skip" if record["probe"] in SKIPPED_WITHOUT_SETUP else "pass"), record
    assert len({record["run_id"] for record in records}) == 1
    assert (workdir / "data" / "history.sqlite").exists()  # the default store, relative to the working dir


def test_probe_table_exits_1_on_a_contract_failure_and_says_what_to_do(workdir: Path) -> None:
    """End to end, as a shell runs the README's command: a fresh process, its exit code and streams."""
    done = workbench("probe", cwd=workdir)
    assert done.returncode == 1
    assert done.stdout.startswith("1 of 2 CONTRACT PASSES; 1 NOT READY\n"), done.stdout  # counts first
    assert "reference: CONTRACT PASSES" in done.stdout  # `probe` judges no readiness: never "ready"
    assert "reference-drifted: NOT READY: contract probes: endpoint.minimal (parser)" in done.stdout
    assert "and 6 more (auth, transport, validation, parser)" in done.stdout  # the rest: -v, the reports
    assert "next:" in done.stdout
    total = 2 * len(CATALOG)
    assert f"[{total}/{total}] probes done" in done.stderr  # progress: every tenth, and each failure
    assert "reference-drifted auth.missing_key: fail (auth)" in done.stderr
    assert len(done.stderr.splitlines()) < total  # never one line per probe


def test_a_single_probe_can_be_selected(workdir: Path) -> None:
    done = cli(
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
    done = cli("probe", *args, cwd=workdir, env={"WB_TEST_UNSET_KEY": ""})
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.error_lines
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (workdir / "data" / "history.sqlite").exists()
    assert not (workdir / "reports").exists()


def test_an_unset_key_variable_is_named_but_a_set_key_never_printed(workdir: Path) -> None:
    (workdir / "env.toml").write_text(
        '[environments.staging]\nbase_url = "embedded"\napi_key_env = "WB_TEST_KEY"\n'
    )
    done = cli(
        "probe", "--config", "env.toml", "--format", "json", cwd=workdir, env={"WB_TEST_KEY": KEY_CANARY}
    )
    assert done.returncode == 0, done.stderr
    assert KEY_CANARY not in done.stdout + done.stderr
    history = (workdir / "data" / "history.sqlite").read_bytes()
    assert KEY_CANARY.encode() not in history


def test_version_and_help(workdir: Path) -> None:
    assert cli("--version", cwd=workdir).stdout.startswith("contract-workbench ")
    helped = cli("--help", cwd=workdir)
    for verb in ("audit", "probe", "serve"):
        assert verb in helped.stdout


FIXTURES = DATA / "classify"


@pytest.mark.parametrize(
    ("name", "args", "symptom", "retryable"),
    [
        pytest.param(
            "openai_rate_limit_429.json",
            ("--status", "429", "--header", "Retry-After: 20"),
            "rate_limit",
            True,
            id="rate-limit",
        ),
        pytest.param(
            "openai_insufficient_quota_429.json", ("--status", "429"), "rate_limit", False, id="quota"
        ),
        pytest.param("openai_stream_include_usage.sse", (), "none", False, id="stream-by-extension"),
        pytest.param("nginx_502_bad_gateway.html", ("--status", "502"), "transport", True, id="html-gateway"),
    ],
)
def test_classify_prints_the_class_as_json(
    workdir: Path, name: str, args: tuple[str, ...], symptom: str, retryable: bool
) -> None:
    done = cli("classify", str(FIXTURES / name), *args, cwd=workdir)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed) >= {"symptom", "retryable", "action", "content", "detail"}
    assert (printed["symptom"], printed["retryable"]) == (symptom, retryable)
    if symptom == "none":
        assert printed["content"]
    if "Retry-After: 20" in args:
        assert printed["retry_after_s"] == 20


def test_classify_reads_a_saved_tool_call_stream(workdir: Path) -> None:
    good = json.loads(
        cli("classify", str(FIXTURES / "openai_stream_parallel_tool_calls.sse"), cwd=workdir).stdout
    )
    assert good["symptom"] == "none" and good["spec_deviations"] == []
    assert good["tool_calls"] == [
        {"name": "get_weather", "arguments_json": True},
        {"name": "get_time", "arguments_json": True},
    ]
    bad = cli("classify", str(FIXTURES / "gateway_stream_tool_deltas_without_index.sse"), cwd=workdir)
    printed = json.loads(bad.stdout)
    assert bad.returncode == 0 and printed["symptom"] == "parser"
    assert "choices[0].delta.tool_calls[0].index: absent" in printed["detail"]
    fields = {d["field"]: d["count"] for d in printed["spec_deviations"]}
    assert fields == {"choices[].delta.tool_calls[].index": 5}  # the first delta and four fragments


def test_classify_a_missing_file_is_exit_2(workdir: Path) -> None:
    done = cli("classify", "nowhere.json", cwd=workdir)
    assert done.returncode == 2 and "nowhere.json: cannot read" in done.stderr


def test_compare_reports_drift_between_two_runs_and_exits_1(workdir: Path) -> None:
    (workdir / "a.toml").write_text('[environments.gw]\nbase_url = "embedded"\n')
    (workdir / "b.toml").write_text(
        '[environments.gw]\nbase_url = "embedded"\nscenario = ["missing-usage", "slow"]\nlatency_ms = 600\n'
    )
    runs = []
    for name in ("a.toml", "b.toml", "b.toml"):
        done = cli("probe", "--config", name, "--probe", "endpoint.minimal", "--format", "json", cwd=workdir)
        runs.append(json.loads(done.stdout)[0]["run_id"])
    drifted = cli("compare", runs[0], runs[1], cwd=workdir)
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "removed usage" in drifted.stdout and "contract drift" in drifted.stdout
    assert "latency" in drifted.stdout  # the slow release's latency: reported, beside the drift
    same = cli("compare", runs[1], runs[2], cwd=workdir)
    assert same.returncode == 0 and "no drift" in same.stdout
    unknown = cli("compare", runs[0], "nope", cwd=workdir)
    assert unknown.returncode == 2 and "no run 'nope'" in unknown.stderr


def probe_runs(workdir: Path, config: str, *probes: str, times: int = 1) -> list[str]:
    """Run ids of `times` probe runs of `config` (selected probes), as compare needs them."""
    selected = [part for probe in probes for part in ("--probe", probe)]
    runs = []
    for _ in range(times):
        done = cli("probe", "--config", config, *selected, "--format", "json", cwd=workdir)
        assert done.returncode in (0, 1), done.stderr
        runs.append(json.loads(done.stdout)[0]["run_id"])
    return runs


def test_a_latency_only_change_is_information_and_compare_exits_0(workdir: Path) -> None:
    # Finding (issue 12): two loopback runs 33 ms and 102 ms apart crossed a latency band and
    # `compare` exited 1 ("roll back..."): a gate that flips on noise.
    (workdir / "a.toml").write_text('[environments.gw]\nbase_url = "embedded"\n')
    (workdir / "b.toml").write_text(
        '[environments.gw]\nbase_url = "embedded"\nscenario = ["slow"]\nlatency_ms = 600\n'
    )
    fast, slow = probe_runs(workdir, "a.toml", "endpoint.minimal") + probe_runs(
        workdir, "b.toml", "endpoint.minimal"
    )
    done = cli("compare", fast, slow, cwd=workdir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "information" in done.stdout and "latency" in done.stdout and "no contract drift" in done.stdout


def test_error_envelope_drift_is_contract_drift(workdir: Path) -> None:
    # Finding (issue 12): with flat errors the stored shapes of errors.* changed from `error.message`
    # to `code:integer, object:string`, and `compare` did not see it (it compared response shapes only).
    (workdir / "a.toml").write_text('[environments.gw]\nbase_url = "embedded"\n')
    (workdir / "b.toml").write_text('[environments.gw]\nbase_url = "embedded"\nscenario = ["flat-errors"]\n')
    before, after = probe_runs(workdir, "a.toml", "errors.missing_field") + probe_runs(
        workdir, "b.toml", "errors.missing_field"
    )
    done = cli("compare", before, after, cwd=workdir)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "errors.missing_field" in done.stdout and "removed error" in done.stdout, done.stdout


def test_runs_lists_what_compare_needs_and_a_partial_run_is_never_a_baseline(workdir: Path) -> None:
    # Finding (issue 12): messages said "list runs with `workbench runs`", which did not exist; and
    # after `probe --probe auth.missing_key` the next audit measured drift from that partial run.
    config = workdir / "two.toml"
    config.write_text(
        '[environments.reference]\nbase_url = "embedded"\n'
        '[environments.reference-drifted]\nbase_url = "embedded"\nscenario = "missing-usage"\n'
    )
    whole = cli("probe", "--env", "reference", "--format", "json", cwd=workdir)  # built-in default
    complete = json.loads(whole.stdout)[0]["run_id"]
    (partial,) = probe_runs(workdir, str(config), "auth.missing_key")  # newer, passing, partial
    listed = cli("runs", "--format", "json", cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    rows = {row["run_id"]: row for row in json.loads(listed.stdout)}
    assert rows[partial]["scope"] == "partial" and rows[complete]["scope"] == "complete"
    assert rows[complete]["environments"] == {"reference": "ready"} and rows[complete]["config_path"] == ""
    assert rows[partial]["config_path"] == str(config.resolve())
    only = cli("runs", "--env", "reference-drifted", "--format", "json", cwd=workdir)
    assert [row["run_id"] for row in json.loads(only.stdout)] == [partial]  # it ran both environments
    table = cli("runs", "--limit", "1", cwd=workdir)
    assert partial in table.stdout and complete not in table.stdout and "workbench compare" in table.stdout

    from workbench import HistoryStore

    with HistoryStore(f"sqlite:///{workdir / 'data' / 'history.sqlite'}") as store:
        assert store.last_passing_run("reference", before="9999") == complete


def test_confirm_records_and_the_limits_probe_reads_it(workdir: Path) -> None:
    from workbench import EmbeddedEndpoint

    with EmbeddedEndpoint(api_key=KEY_CANARY) as endpoint:
        (workdir / "env.toml").write_text(
            f'[environments.stage]\nbase_url = "{endpoint.base_url}"\napi_key_env = "WB_TEST_KEY"\n'
            'model = "wb-reference-1"\n'
        )
        env = {"WB_TEST_KEY": KEY_CANARY}

        def limits() -> dict[str, str]:
            done = cli(
                "probe",
                "--config",
                "env.toml",
                "--probe",
                "limits.operator_confirmation",
                "--format",
                "json",
                cwd=workdir,
                env=env,
            )
            return json.loads(done.stdout)[0] | {"rc": done.returncode}

        pending = limits()
        assert (pending["outcome"], pending["rc"]) == ("needs_operator", 1)
        assert "workbench confirm rate-limits --env stage" in pending["detail"]
        for item in ("rate-limits", "billing"):
            done = cli(
                "confirm",
                item,
                "--env",
                "stage",
                "--by",
                "ops-oncall",
                "--note",
                "checked console",
                "--expires",
                "30",
                "--config",
                "env.toml",
                cwd=workdir,
            )
            assert done.returncode == 0 and "confirmed by ops-oncall" in done.stdout
        confirmed = limits()
        assert (confirmed["outcome"], confirmed["rc"]) == ("pass", 0)
        assert "billing confirmed by ops-oncall" in confirmed["detail"]
        bad = cli("confirm", "vibes", "--env", "stage", "--by", "x", "--config", "env.toml", cwd=workdir)
        assert bad.returncode == 2 and "unknown confirmation item 'vibes'" in bad.stderr


def test_fixtures_capture_then_probe_replays_them(workdir: Path) -> None:
    done = cli("fixtures", "capture", "--env", "reference", "--release", "2026.11", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert (workdir / "data" / "fixtures" / "reference" / "2026.11" / "stream_minimal.sse").exists()
    refused = cli("fixtures", "capture", "--env", "reference-drifted", "--release", "x", cwd=workdir)
    assert refused.returncode == 1 and "not known-good" in refused.stderr
    assert not (workdir / "data" / "fixtures" / "reference-drifted").exists()
    replay = cli(
        "probe", "--env", "reference", "--probe", "response.fixture_replay", "--format", "json", cwd=workdir
    )
    assert json.loads(replay.stdout)[0]["outcome"] == "pass"


def test_bundle_capture_verify_diff_and_plan_from_the_command_line(workdir: Path) -> None:
    import shutil

    shutil.copytree(REPO / "data" / "integration", workdir / "integration")
    (workdir / "env.toml").write_text(
        '[environments.ref]\nbase_url = "embedded"\nmanifest = "integration/manifest.toml"\n'
    )
    assert cli("probe", "--config", "env.toml", cwd=workdir).returncode == 0
    first = cli("bundle", "capture", "--config", "env.toml", "--env", "ref", "--release", "r1", cwd=workdir)
    assert first.returncode == 0 and "bundle ref/r1 written" in first.stdout, first.stderr
    assert cli("bundle", "verify", "--config", "env.toml", "ref/r1", cwd=workdir).returncode == 0
    prompt = workdir / "integration" / "system_prompt.txt"
    prompt.write_text(prompt.read_text() + "Answer in French.\n")
    cli("bundle", "capture", "--config", "env.toml", "--env", "ref", "--release", "r2", cwd=workdir)
    diff = cli("bundle", "diff", "--config", "env.toml", "ref/r1", "ref/r2", cwd=workdir)
    assert diff.returncode == 1 and "prompt_template: sha256" in diff.stdout
    # a rollback to r1 that restored nothing: the prompt template is still new
    plan = cli(
        "bundle",
        "plan",
        "--config",
        "env.toml",
        "--current",
        "ref/r2",
        "--target",
        "ref/r1",
        "--state",
        "integration/manifest.toml",
        cwd=workdir,
    )
    assert (
        plan.returncode == 1
        and "PARTIAL rollback" in plan.stdout
        and "still new: prompt_template" in plan.stdout
    )
    prompt.write_text(prompt.read_text().replace("Answer in French.\n", ""))
    restored = cli(
        "bundle",
        "plan",
        "--config",
        "env.toml",
        "--current",
        "ref/r2",
        "--target",
        "ref/r1",
        "--state",
        "integration/manifest.toml",
        cwd=workdir,
    )
    assert restored.returncode == 0 and "fully restored" in restored.stdout


def test_trends_exit_1_when_a_rule_fires(workdir: Path) -> None:
    (workdir / "env.toml").write_text(
        '[environments.gw]\nbase_url = "embedded"\nscenario = "content-moved"\n'
    )
    (workdir / "rules.toml").write_text('[[rule]]\nsymptom = "parser"\nconsecutive = 3\n')
    for _ in range(2):
        cli("probe", "--config", "env.toml", "--probe", "endpoint.minimal", cwd=workdir)
    quiet = cli("trends", "--config", "env.toml", "--triggers", "rules.toml", cwd=workdir)
    assert quiet.returncode == 0 and "no trigger fired" in quiet.stdout
    cli("probe", "--config", "env.toml", "--probe", "endpoint.minimal", cwd=workdir)
    fired = cli("trends", "--config", "env.toml", "--triggers", "rules.toml", cwd=workdir)
    assert fired.returncode == 1
    assert "FIRED parser-consecutive on gw" in fired.stdout and "Roll back response parser" in fired.stdout


def test_watch_reads_an_app_log_reports_malformed_lines_and_gates(workdir: Path) -> None:
    logs = DATA / "logs"
    done = cli("watch", str(logs / "parser-run.jsonl"), cwd=workdir)
    assert done.returncode == 1 and "FIRED parser-consecutive" in done.stdout
    mixed = cli("watch", str(logs / "app-requests.jsonl"), cwd=workdir)
    assert "malformed line(s) skipped" in mixed.stderr and "line " in mixed.stderr
    assert "request(s) read" in mixed.stdout
    missing = cli("watch", "nowhere.jsonl", cwd=workdir)
    assert missing.returncode == 2 and "nowhere.jsonl" in missing.stderr


@pytest.mark.slow
def test_the_audit_summary_shows_every_required_action_whole(workdir: Path) -> None:
    # Finding (issue 12): the summary stopped at "`workbench confirm billing --env local --by NAME`
    # (bil", so the required traffic-shift confirmation was never shown.
    from workbench import EmbeddedEndpoint

    with EmbeddedEndpoint(api_key=KEY_CANARY) as endpoint:
        (workdir / "env.toml").write_text(
            f'[environments.local]\nbase_url = "{endpoint.base_url}"\napi_key_env = "WB_TEST_KEY"\n'
            'model = "wb-reference-1"\n'
        )
        done = cli("audit", "--config", "env.toml", "-v", cwd=workdir, env={"WB_TEST_KEY": KEY_CANARY})
    assert done.returncode == 1, done.stdout + done.stderr
    step = next(line for line in done.stdout.splitlines() if "8. Perform a small traffic shift" in line)
    for item in ("rate-limits", "billing", "traffic-shift"):
        # issue 21: the commands a step names repeat the --config given, so they run as printed
        assert f"`workbench confirm {item} --env local --by NAME --config env.toml`" in step, step
    assert step.rstrip().endswith(")"), step  # the last item's reason whole, not cut mid-word
    hint = next(line for line in done.stdout.splitlines() if line.startswith("next:"))
    assert "workbench confirm" in hint and "failing" not in hint, hint  # issue 13: fits the state


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("missing.ipynb", None, "not an executed notebook", id="missing"),
        pytest.param("report.html", "<html></html>", "not an executed notebook", id="not-ipynb"),
        pytest.param("broken.ipynb", "{", "cannot export", id="not-json"),
    ],
)
def test_reports_html_refuses_what_is_not_a_notebook_in_one_line(
    workdir: Path, name: str, content: str | None, message: str
) -> None:
    """`workbench reports html` (the Airflow papermill DAG's HTML task): exit 2, nothing written."""
    if content is not None:
        (workdir / name).write_text(content)
    done = cli("reports", "html", name, cwd=workdir)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.error_lines
    assert len(lines) == 1 and lines[0].startswith(f"error: {name}: {message}"), done.stderr
    assert sorted(path.name for path in workdir.iterdir()) == ([name] if content is not None else [])
