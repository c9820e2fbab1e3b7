"""Readiness evidence: the secret scan covers every file the history lives in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.history.test_store import result
from workbench import HistoryStore
from workbench.core.config import parse_config
from workbench.rollback.evidence import scan_evidence

CANARY = "sk-wal-canary-5d1e0b7a9c3f"


def test_a_key_still_in_the_sqlite_wal_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Observed on SQLite 3 in WAL mode (the store's mode): while the engine's pooled connection is
    # open, a fresh append lives only in `history.sqlite-wal`; the main file holds it only after a
    # checkpoint. Printing `canary in db.read_bytes()` gave False and in the -wal file True.
    monkeypatch.setenv("WB_EVIDENCE_KEY", CANARY)
    config = parse_config(
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
