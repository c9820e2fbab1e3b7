"""What the command says to do next fits the state it found (issue 13, item 6).

Observed before the fix: "next: fix or roll back what the failures name" when only an operator
confirmation was pending; the retry column blank for a failure that is not retryable; `classify` of
`insufficient_quota` printing retryable false with the action "Back off and honour Retry-After";
verdict reasons in the order probes completed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.canary import canary_key
from tests.commands import cli
from tests.paths import DATA
from workbench.core.models import Outcome, ProbeResult, Symptom
from workbench.probes.catalog import CATALOG
from workbench.probes.verdict import verdict_for

KEY = canary_key("next")


def test_only_an_operator_confirmation_pending_asks_for_it_not_for_a_rollback(workdir: Path) -> None:
    from workbench import EmbeddedEndpoint

    with EmbeddedEndpoint(api_key=KEY) as endpoint:
        (workdir / "env.toml").write_text(
            f'[environments.stage]\nbase_url = "{endpoint.base_url}"\napi_key_env = "WB_TEST_KEY"\n'
            'model = "wb-reference-1"\n'
        )
        done = cli("probe", "--config", "env.toml", cwd=workdir, env={"WB_TEST_KEY": KEY})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "stage: WAITING FOR AN OPERATOR: confirm rate-limits, billing" in done.stdout
    assert "NOT READY" not in done.stdout
    hint = next(line for line in done.stdout.splitlines() if line.startswith("next:"))
    assert "workbench confirm" in hint, hint
    assert "roll back" not in hint and "fail" not in hint, hint


def test_the_retry_column_says_yes_or_no_for_every_failure(workdir: Path) -> None:
    done = cli("probe", "--env", "reference-drifted", "-v", cwd=workdir)  # -v: every result, as a table
    assert done.returncode == 1
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in done.stdout.splitlines()
        if line.startswith("│")
    ]
    failed = [row for row in rows if row[2] in ("fail", "error")]
    assert failed, done.stdout
    assert {row[4] for row in failed} <= {"yes", "no"}, failed
    assert "no" in {row[4] for row in failed}  # auth.missing_key: an auth failure is not retryable
    assert {row[4] for row in rows if row not in failed} == {""}  # nothing to retry


def test_a_quota_exhausted_429_is_not_told_to_back_off(workdir: Path) -> None:
    done = cli(
        "classify",
        str(DATA / "classify" / "openai_insufficient_quota_429.json"),
        "--status",
        "429",
        cwd=workdir,
    )
    printed = json.loads(done.stdout)
    assert (printed["symptom"], printed["retryable"]) == ("rate_limit", False)
    assert "back off" not in printed["action"].lower().replace("backing off will not help", "")
    assert re.search(r"raise the quota|billing", printed["action"], re.I), printed["action"]
    retryable = cli(
        "classify",
        str(DATA / "classify" / "openai_rate_limit_429.json"),
        "--status",
        "429",
        cwd=workdir,
    )
    assert "Back off and honour Retry-After" in json.loads(retryable.stdout)["action"]


def test_verdict_reasons_follow_the_catalog_not_completion_order(workdir: Path) -> None:
    done = cli("probe", "--env", "reference-drifted", cwd=workdir)
    reasons = [line[4:].split(":")[0] for line in done.stdout.splitlines() if line.startswith("  - ")]
    order = list(CATALOG)
    assert reasons == sorted(reasons, key=order.index), reasons
    # as stored (completion order) and read back by reports and `workbench runs`
    stored = [
        ProbeResult(
            "r", "e", probe, CATALOG[probe].area, Outcome.FAIL, Symptom.PARSER, False, 200, 1.0, "x", "a", "t"
        )
        for probe in reversed(order[:4])
    ]
    assert [reason.split(":")[0] for reason in verdict_for("e", stored).reasons] == order[:4]
