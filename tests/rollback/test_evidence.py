"""Readiness evidence: the secret scan covers every file the history lives in."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.history.test_store import result
from workbench import HistoryStore
from workbench.core.config import Config, parse_config
from workbench.probes.drift import compare_runs
from workbench.probes.engine import run_probes
from workbench.rollback.evidence import assess_run, scan_evidence
from workbench.rollback.readiness import StepStatus

pytest_plugins = ("tests.pg",)

CANARY = canary_key("wal")


def test_a_key_still_in_the_sqlite_wal_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Observed on SQLite 3 in WAL mode (the store's mode): while the engine's pooled connection is
    # open, a fresh append lives only in `history.sqlite-wal`; the main file holds it only after a
    # checkpoint. Printing `canary in db.read_bytes()` gave False and in the -wal file True.
    monkeypatch.setenv("WB_EVIDENCE_KEY", CANARY)
    config = evidence_config(tmp_path)
    database = tmp_path / "history.sqlite"
    with HistoryStore(f"sqlite:///{database}") as store:
        store.append(result(detail=f"the gateway echoed Bearer {CANARY}"))
        wal = Path(f"{database}-wal")
        assert CANARY.encode() in wal.read_bytes()
        assert CANARY.encode() not in database.read_bytes()  # not checkpointed yet: the WAL is the leak
        scan = scan_evidence(config, store)
    assert scan.findings, "a key in the history's WAL must fail the secret-scan step"
    assert any("-wal" in finding for finding in scan.findings), scan.findings
    assert CANARY not in " ".join(scan.findings)  # the finding names the file, masks the value


def evidence_config(tmp_path: Path) -> Config:
    return parse_config(
        f"""
        [workbench]
        fixtures_dir = "{tmp_path / "fixtures"}"
        bundles_dir = "{tmp_path / "bundles"}"
        [environments.leaky]
        base_url = "embedded"
        api_key_env = "WB_EVIDENCE_KEY"
        """,
        source=None,
    )


@pytest.mark.parametrize(
    "echoed",
    [
        pytest.param(lambda key: f"Bearer {key}", id="raw"),
        pytest.param(lambda key: base64.b64encode(f"Bearer {key}".encode()).decode(), id="base64-bearer"),
        pytest.param(lambda key: base64.b64encode(f"ops:{key}".encode()).decode(), id="base64-basic"),
        pytest.param(lambda key: urllib.parse.quote(f"Bearer {key}", safe=""), id="url-encoded"),
    ],
)
def test_a_key_an_older_version_stored_is_found_in_any_store(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echoed: Callable[[str], str]
) -> None:
    # Observed before issue 11 was fixed: on PostgreSQL, step 6 scanned no file and passed ("no key
    # in 0 file(s) scanned") with the raw key in results.detail; on SQLite, the encoded forms in the
    # database file were not looked for (only the exact value in a binary file).
    key = CANARY + "/Zq+8w"
    monkeypatch.setenv("WB_EVIDENCE_KEY", key)
    with HistoryStore(store_url, project_name="evidence") as store:
        store.append(result(detail=f"the gateway echoed {echoed(key)} back"))
        scan = scan_evidence(evidence_config(tmp_path), store)
    assert scan.findings, "a key stored in the history must fail the secret-scan step"
    assert "$WB_EVIDENCE_KEY" in " ".join(scan.findings)
    assert key not in " ".join(scan.findings) and CANARY not in " ".join(scan.findings)


def test_a_key_in_a_sqlite_rollback_journal_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A hot journal (a writer killed mid-transaction in rollback-journal mode) holds the pages it
    # was changing, rows since deleted included. Before: `local_files()` did not list it, and
    # the scan did not look at it.
    monkeypatch.setenv("WB_EVIDENCE_KEY", CANARY)
    database = tmp_path / "history.sqlite"
    with HistoryStore(f"sqlite:///{database}") as store:
        Path(f"{database}-journal").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7\0" + CANARY.encode())
        assert Path(f"{database}-journal") in store.local_files()
        scan = scan_evidence(evidence_config(tmp_path), store)
    assert any("-journal" in finding for finding in scan.findings), scan.findings


def test_the_audit_and_compare_agree_on_contract_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Finding (issue 12): with the reference endpoint switched to missing usage and flat errors, the
    # audit said "contract READY; rollback-ready" and exited 0 while `compare` of the same runs exited 1.
    monkeypatch.chdir(tmp_path)
    conformant = parse_config('[environments.gw]\nbase_url = "embedded"\n', source=None)
    drifted = parse_config(
        '[environments.gw]\nbase_url = "embedded"\nscenario = ["missing-usage", "flat-errors"]\n',
        source=None,
    )
    with HistoryStore(f"sqlite:///{tmp_path / 'history.sqlite'}") as store:
        baseline = run_probes(conformant, store=store)
        assert assess_run(conformant, baseline, store)["gw"].steps[9].status is StepStatus.PASS
        after = run_probes(drifted, store=store)
        readiness = assess_run(drifted, after, store)["gw"]
        drifts = compare_runs(store.results([baseline.run_id]), store.results([after.run_id]), ["gw"], ["gw"])
    assert any(drift.drifted for drift in drifts)  # what `workbench compare` exits 1 on
    parser_step, reprobe = readiness.steps[4], readiness.steps[9]
    assert reprobe.status is StepStatus.FAIL and f"since the baseline {baseline.run_id}" in reprobe.evidence
    assert "errors.missing_field" in reprobe.evidence and "usage" in reprobe.evidence
    assert parser_step.status is StepStatus.FAIL and "removed usage" in parser_step.evidence
    assert not readiness.ready  # so the audit exits 1, as compare does
