"""`--junit FILE`: JUnit XML of probe results and readiness steps, valid for CI readers, never a key."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.canary import canary_key
from tests.commands import cli
from tests.paths import REPO
from workbench import Area, Outcome, ProbeResult, Readiness, Symptom, UsageError, default_config
from workbench.probes.engine import RunSummary
from workbench.render.junit import JunitFile, check_junit_path, junit_tree, write_junit
from workbench.rollback.readiness import Step, StepStatus

ROOT = REPO
KEY_CANARY = canary_key("junit")

# What Jenkins' junit-10.xsd (the schema JUnit readers share) allows: attributes, required ones, children.
_SCHEMA: dict[str, tuple[set[str], set[str], set[str]]] = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set(), {"testsuite"}),
    "testsuite": (
        {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id"}
        | {"package", "file", "log", "url"},
        {"name", "tests", "failures", "errors"},
        {"testsuite", "properties", "testcase", "system-out", "system-err"},
    ),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, {"name", "value"}, set()),
    "testcase": (
        {"name", "time", "classname", "group"},
        {"name"},
        {"skipped", "error", "failure", "system-out", "system-err"},
    ),
    "failure": ({"type", "message"}, set(), set()),
    "error": ({"type", "message"}, set(), set()),
    "skipped": ({"type", "message"}, set(), set()),
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}
_SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")


def assert_valid_junit(path: Path) -> ET.Element:
    """Parse `path` and check it against junit-10.xsd's structure, and that every count adds up."""
    data = path.read_bytes()
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(data)
    assert root.tag == "testsuites"

    def check(element: ET.Element) -> None:
        allowed, required, children = _SCHEMA[element.tag]
        assert set(element.attrib) <= allowed, (element.tag, set(element.attrib) - allowed)
        assert required <= set(element.attrib), (element.tag, required - set(element.attrib))
        for child in element:
            assert child.tag in children, (element.tag, child.tag)
            check(child)
        if "time" in element.attrib:
            assert _SUREFIRE_TIME.fullmatch(element.attrib["time"]), element.attrib["time"]
        for count in ("tests", "failures", "errors", "skipped"):
            if count in element.attrib:
                assert element.attrib[count].isdigit(), (element.tag, count)

    check(root)
    totals = dict.fromkeys(("tests", "failures", "errors"), 0)
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        counted = {
            "tests": len(cases),
            "failures": sum(case.find("failure") is not None for case in cases),
            "errors": sum(case.find("error") is not None for case in cases),
            "skipped": sum(case.find("skipped") is not None for case in cases),
        }
        assert {key: int(suite.get(key, "0")) for key in counted} == counted, suite.get("name")
        for key in totals:
            totals[key] += counted[key]
        if suite.get("timestamp"):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))
    assert {key: int(root.get(key, "-1")) for key in totals} == totals
    return root


def result(
    probe: str,
    outcome: Outcome = Outcome.PASS,
    symptom: Symptom = Symptom.NONE,
    *,
    env: str = "staging",
    detail: str = "",
    action: str = "",
    latency_ms: float | None = 12.5,
) -> ProbeResult:
    return ProbeResult(
        run_id="20261127T060000Z-abc123",
        env=env,
        probe=probe,
        area=Area.ENDPOINT,
        outcome=outcome,
        symptom=symptom,
        retryable=False,
        http_status=200 if latency_ms is not None else None,
        latency_ms=latency_ms,
        detail=detail or f"{probe}: {outcome}",
        action=action,
        started_at="2026-11-27T06:00:01.250Z",
    )


RESULTS = (
    result("endpoint.minimal", latency_ms=1500.0),
    result(
        "streaming.sse",
        Outcome.FAIL,
        Symptom.PARSER,
        detail="stream: delta carries 'text' instead of 'content'",
        action="Roll back response parser or disable the new response-processing path.",
    ),
    result("auth.invalid_key", Outcome.ERROR, detail="key variable unset", latency_ms=None),
    result("response.fixture_replay", Outcome.SKIP, detail="no fixtures for this environment"),
    result("limits.operator_confirmation", Outcome.NEEDS_OPERATOR, detail="confirm quotas and billing"),
    result("endpoint.minimal", env="production"),
)
READINESS = {
    "staging": Readiness(
        "staging",
        (
            Step(1, "Read the current API page", StepStatus.PASS, "docs-reviewed by ops"),
            Step(5, "Verify parser compatibility", StepStatus.FAIL, "streaming.sse: parser - ..."),
            Step(7, "Confirm rollback bundle", StepStatus.NOT_RUN, "no rollback bundle"),
            Step(8, "Perform a small traffic shift", StepStatus.NEEDS_OPERATOR, "confirm rate-limits"),
        ),
    )
}


def cases(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(case.get("classname", ""), case.get("name", "")): case for case in root.iter("testcase")}


def test_one_suite_per_environment_and_one_case_per_result(tmp_path: Path) -> None:
    path = write_junit(tmp_path / "junit.xml", RESULTS, name="workbench probe", run_id="r-1")
    root = assert_valid_junit(path)
    assert root.get("name") == "workbench probe"
    suites = root.findall("testsuite")
    assert [suite.get("name") for suite in suites] == ["staging", "production"]
    staging = suites[0]
    assert (staging.get("tests"), staging.get("failures"), staging.get("errors"), staging.get("skipped")) == (
        "5",
        "1",
        "1",
        "2",
    )
    assert staging.find("properties/property[@name='run_id']").get("value") == "r-1"  # type: ignore[union-attr]
    assert staging.get("timestamp") == "2026-11-27T06:00:01"
    by_name = cases(root)
    assert by_name["staging", "endpoint.minimal"].get("time") == "1.500"  # latency in seconds
    assert by_name["staging", "endpoint.minimal"].find("*") is None  # a pass has no child
    assert by_name["staging", "auth.invalid_key"].get("time") == "0.000"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "1", "1")


def test_a_failure_carries_its_symptom_class_detail_and_action(tmp_path: Path) -> None:
    root = assert_valid_junit(write_junit(tmp_path / "junit.xml", RESULTS))
    failure = cases(root)["staging", "streaming.sse"].find("failure")
    assert failure is not None
    assert failure.get("type") == "parser"
    assert failure.get("message") == "stream: delta carries 'text' instead of 'content'"
    assert failure.text is not None
    assert failure.text.startswith("stream: delta carries 'text' instead of 'content'\n")
    assert "symptom: parser (not retryable)" in failure.text
    assert failure.text.endswith(
        "action: Roll back response parser or disable the new response-processing path."
    )


def test_error_skip_and_needs_operator(tmp_path: Path) -> None:
    by_name = cases(assert_valid_junit(write_junit(tmp_path / "junit.xml", RESULTS)))
    error = by_name["staging", "auth.invalid_key"].find("error")
    assert error is not None and error.get("type") == "error" and error.get("message") == "key variable unset"
    skipped = by_name["staging", "response.fixture_replay"].find("skipped")
    assert skipped is not None and skipped.get("message") == "skipped: no fixtures for this environment"
    operator = by_name["staging", "limits.operator_confirmation"].find("skipped")
    assert operator is not None and operator.get("message") == "needs operator: confirm quotas and billing"


def test_audit_adds_one_case_per_readiness_step_failing_unless_it_passes(tmp_path: Path) -> None:
    root = assert_valid_junit(write_junit(tmp_path / "junit.xml", RESULTS, readiness=READINESS))
    by_name = cases(root)
    assert by_name["staging", "readiness: 1. Read the current API page"].find("*") is None
    for name, status, words in (
        ("readiness: 5. Verify parser compatibility", "fail", "fails"),
        ("readiness: 7. Confirm rollback bundle", "not_run", "not run"),
        ("readiness: 8. Perform a small traffic shift", "needs_operator", "needs an operator"),
    ):
        failure = by_name["staging", name].find("failure")
        assert failure is not None and failure.get("type") == status, name  # the stored value, for tools
        assert failure.get("message", "").startswith(f"{words}: ")  # the words, for people
    staging = root.find("testsuite[@name='staging']")
    assert staging is not None and (staging.get("tests"), staging.get("failures")) == ("9", "4")


def test_hostile_text_is_escaped_and_characters_xml_cannot_carry_are_replaced(tmp_path: Path) -> None:
    hostile = "a <script>alert(\"x\")</script> & ]]> \x00\x1b[31m \ud800 'quoted'\nsecond line"
    rows = (
        result("errors.malformed_json", Outcome.FAIL, Symptom.TRANSPORT, detail=hostile, env='env "<&>'),
        result('probe "<&>', Outcome.SKIP, detail=hostile),
    )
    path = write_junit(tmp_path / "junit.xml", rows, name='<name & "quotes">')
    raw = path.read_bytes()
    assert b"<script>" not in raw and b"\x00" not in raw and b"\x1b" not in raw
    root = assert_valid_junit(path)
    assert root.get("name") == '<name & "quotes">'
    failure = cases(root)['env "<&>', "errors.malformed_json"].find("failure")
    assert failure is not None and failure.text is not None
    expected = "a <script>alert(\"x\")</script> & ]]> \ufffd\ufffd[31m \ufffd 'quoted'\nsecond line"
    assert failure.text.startswith(expected)  # the same text, only the unrepresentable characters replaced
    assert "\n" not in failure.get("message", "")  # the message is one line
    assert cases(root)["staging", 'probe "<&>'].find("skipped") is not None


def test_a_key_value_echoed_into_a_detail_is_redacted(tmp_path: Path) -> None:
    # Observed before issue 11 was fixed: the raw key was replaced, its base64 form was kept.
    encoded = base64.b64encode(f"Bearer {KEY_CANARY}".encode()).decode()
    detail = f"401: invalid key {KEY_CANARY} (sent as {encoded})"
    rows = (result("auth.invalid_key", Outcome.FAIL, Symptom.AUTH, detail=detail),)
    path = write_junit(tmp_path / "junit.xml", rows, secrets={"STAGING_KEY": KEY_CANARY})
    text = path.read_text()
    assert KEY_CANARY not in text
    assert encoded.rstrip("=") not in text
    assert "[redacted $STAGING_KEY]" in text


def test_written_atomically_replacing_the_old_file_and_leaving_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text("old")
    write_junit(path, RESULTS)
    assert path.read_text().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_a_failed_write_keeps_the_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "junit.xml"
    path.write_text("old")

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ET.ElementTree, "write", broken)
    with pytest.raises(UsageError, match="No space left on device"):
        write_junit(path, RESULTS)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml"]


def test_a_missing_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "ci" / "results" / "junit.xml"
    check_junit_path(path)
    assert path.parent.is_dir() and not path.exists()
    assert list(path.parent.iterdir()) == []  # the writability probe leaves nothing behind
    assert_valid_junit(write_junit(path, RESULTS))


@pytest.mark.parametrize("where", ["under-a-file", "a-folder"])
def test_an_unwritable_path_is_a_usage_error(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "junit.xml" if where == "under-a-file" else tmp_path
    with pytest.raises(UsageError) as raised:
        check_junit_path(path)
    assert raised.value.exit_code == 2
    assert str(raised.value).startswith(f"--junit {path}: cannot write")
    with pytest.raises(UsageError):
        write_junit(path, RESULTS)


def test_empty_results_still_make_a_valid_file(tmp_path: Path) -> None:
    root = assert_valid_junit(write_junit(tmp_path / "j.xml", (), environments=("staging",)))
    assert [s.get("name") for s in root] == ["staging"] and root.get("tests") == "0"


def test_the_tree_is_built_without_writing() -> None:
    root = junit_tree(RESULTS[:1])
    assert root.tag == "testsuites" and root.get("tests") == "1"


def test_a_verb_s_junit_file_is_checked_first_then_written_for_its_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.core.config import parse_config

    monkeypatch.setenv("WB_JUNIT_FILE_KEY", KEY_CANARY)
    config = parse_config(
        '[environments.staging]\nbase_url = "embedded"\napi_key_env = "WB_JUNIT_FILE_KEY"\n', source=None
    )
    echoed = result("auth.invalid_key", Outcome.FAIL, Symptom.AUTH, detail=f"401: invalid key {KEY_CANARY}")
    summary = RunSummary(run_id="r-7", environments=("staging",), results=(echoed,), verdicts=())
    path = tmp_path / "ci" / "junit.xml"
    junit_file = JunitFile.prepare(path, name="workbench audit")
    assert path.parent.is_dir() and not path.exists()  # checked, nothing written yet
    assert junit_file.write_for(summary, config, readiness=READINESS) == path
    root = assert_valid_junit(path)
    assert root.get("name") == "workbench audit"
    assert {prop.get("name"): prop.get("value") for prop in root.iter("property")} == {"run_id": "r-7"}
    assert "readiness: 5. Verify parser compatibility" in {case.get("name") for case in root.iter("testcase")}
    assert KEY_CANARY not in path.read_text()  # the configured key variables are redacted


def test_without_a_path_there_is_no_junit_file(tmp_path: Path) -> None:
    summary = RunSummary(run_id="r-8", environments=(), results=RESULTS, verdicts=())
    assert JunitFile.prepare(None, name="workbench probe").write_for(summary, default_config()) is None
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_junit_file_fails_when_prepared(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot write the JUnit file there: Is a directory"):
        JunitFile.prepare(tmp_path, name="workbench probe")


# --- the commands --------------------------------------------------------------------------------


def test_probe_writes_junit_into_a_new_folder_and_keeps_its_exit_code(workdir: Path) -> None:
    config = '[environments.reference]\nbase_url = "embedded"\n\n'
    config += '[environments.drifted]\nbase_url = "embedded"\nscenario = "content-moved"\n\n'
    config += '[environments.keyed]\nbase_url = "embedded"\napi_key_env = "WB_JUNIT_KEY"\n'
    (workdir / "env.toml").write_text(config)
    done = cli(
        "probe",
        "--config",
        "env.toml",
        "--junit",
        "out/ci/probe.xml",
        cwd=workdir,
        env={"WB_JUNIT_KEY": KEY_CANARY},
    )
    assert done.returncode == 1, done.stderr
    path = workdir / "out" / "ci" / "probe.xml"
    root = assert_valid_junit(path)
    assert [suite.get("name") for suite in root] == ["reference", "drifted", "keyed"]
    assert root.get("name") == "workbench probe"
    drifted = root.find("testsuite[@name='drifted']")
    assert drifted is not None and int(drifted.get("failures", "0")) >= 1
    failure = drifted.find("testcase[@name='endpoint.minimal']/failure")
    assert failure is not None and failure.get("type") == "parser"
    assert not any(case.get("name", "").startswith("readiness:") for case in root.iter("testcase"))
    assert KEY_CANARY not in path.read_text()


def test_probe_with_an_unwritable_junit_path_fails_before_any_request(workdir: Path) -> None:
    (workdir / "file").write_text("x")
    done = cli("probe", "--env", "reference", "--junit", "file/probe.xml", cwd=workdir)
    assert done.returncode == 2
    lines = done.error_lines
    assert len(lines) == 1 and lines[0].startswith("error: --junit file/probe.xml: cannot write"), done.stderr
    assert not (workdir / "data" / "history.sqlite").exists()


def test_audit_with_an_unwritable_junit_path_fails_before_the_audit(workdir: Path) -> None:
    done = cli("audit", "--notebooks", str(ROOT / "notebooks"), "--junit", str(workdir), cwd=workdir)
    assert done.returncode == 2
    lines = done.error_lines
    assert len(lines) == 1 and "cannot write the JUnit file there: Is a directory" in lines[0], done.stderr
    assert not (workdir / "reports").exists() and not (workdir / "data" / "history.sqlite").exists()


def test_audit_writes_results_and_readiness_steps(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's wiring, with the audit itself replaced (a real one runs in test_schedules)."""
    from workbench import cli
    from workbench.core.models import Verdict, VerdictStatus
    from workbench.render import audit as _audit

    summary = RunSummary(
        run_id="20261127T060000Z-abc123",
        environments=("staging", "production"),
        results=RESULTS,
        verdicts=(
            Verdict("staging", VerdictStatus.NOT_READY, ("streaming.sse: parser",), {}),
            Verdict("production", VerdictStatus.READY, ("every probe passed",), {}),
        ),
    )
    outcome = _audit.AuditOutcome(
        summary, READINESS, (), workdir / "m.json", workdir / "reports" / "index.html"
    )

    def fake_run_audit(*args: object, **kwargs: object) -> _audit.AuditOutcome:
        return outcome

    monkeypatch.setattr(_audit, "run_audit", fake_run_audit)
    config = (
        '[environments.staging]\nbase_url = "embedded"\n[environments.production]\nbase_url = "embedded"\n'
    )
    (workdir / "env.toml").write_text(config)
    done = CliRunner().invoke(
        cli.app,
        ["audit", "--config", "env.toml", "--notebooks", str(ROOT / "notebooks"), "--junit", "ci/audit.xml"],
    )
    assert done.exit_code == 1, done.output
    assert "junit:  ci/audit.xml" in done.output
    root = assert_valid_junit(workdir / "ci" / "audit.xml")
    assert root.get("name") == "workbench audit"
    assert [suite.get("name") for suite in root] == ["staging", "production"]
    names = [case.get("name") for case in root.iter("testcase") if case.get("classname") == "staging"]
    assert names[-4:] == [
        "readiness: 1. Read the current API page",
        "readiness: 5. Verify parser compatibility",
        "readiness: 7. Confirm rollback bundle",
        "readiness: 8. Perform a small traffic shift",
    ]


def test_a_broken_tool_call_is_a_failure_typed_by_its_class_naming_the_json_path(tmp_path: Path) -> None:
    """Issue 19: the app's contract reaches JUnit like any probe: the class and the JSON path."""
    from workbench import HistoryStore, run_probes
    from workbench.core.config import parse_config

    app = (
        'tool_choice = "required"\ntools = [{ type = "function", function = { name = "f", '
        'parameters = { type = "object" } } }]\n'
    )
    text = (
        '[environments.agent]\nbase_url = "embedded"\nscenario = "tool-deltas-without-index"\nstream = true\n'
        f"[environments.agent.app_request]\n{app}"
    )
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        summary = run_probes(parse_config(text, source=None), probe_ids=["streaming.tool_call"], store=store)
    root = assert_valid_junit(write_junit(tmp_path / "junit.xml", summary.results))
    (failure,) = root.iter("failure")
    assert failure.get("type") == "parser"
    assert "choices[0].delta.tool_calls[0].index: absent" in (failure.get("message") or "")
