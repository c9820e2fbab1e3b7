"""The bundle the repository ships for `reference` matches what a fresh clone deploys (issue 22).

Observed before: on a fresh clone the readiness report read "reference has moved on from
reference/2026.11.0: parser: sha256 2070696f -> 36f9134f": the parser had changed since the bundle
was captured, so the very first report told a new user the reference was not what it shipped as.
When this test fails, `make reference-bundle` captures it again (and the diff shows what moved).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.commands import cli
from tests.paths import REPO
from workbench.core.config import load_config
from workbench.history.store import HistoryStore
from workbench.rollback.bundle import Bundle
from workbench.rollback.manifest import capture_bundle
from workbench.rollback.plan import diff_bundles

DATA = REPO / "data"
SHIPPED = DATA / "bundles" / "reference" / "2026.11.0.json"


def test_a_fresh_clone_deploys_what_the_shipped_bundle_records(tmp_path: Path) -> None:
    shutil.copytree(DATA, tmp_path / "data", ignore=shutil.ignore_patterns("*.sqlite*"))
    config = load_config(tmp_path / "data" / "environments.toml")
    shipped = Bundle.load(SHIPPED)
    manifest = config.environments["reference"].manifest
    assert manifest is not None
    with HistoryStore(f"sqlite:///{tmp_path / 'history.sqlite'}") as store:
        deployed = capture_bundle(
            config, "reference", "deployed-now", manifest=manifest, store=store, write=False
        )
    moved = [
        change.summary
        for change in diff_bundles(shipped, deployed)
        if change.part not in ("known_good", "operator_notes")
    ]
    assert moved == [], f"the shipped bundle is stale ({moved}): run `make reference-bundle` and commit it"


def test_a_fresh_clone_verifies_the_shipped_bundle_clean(tmp_path: Path) -> None:
    shutil.copytree(DATA, tmp_path / "data", ignore=shutil.ignore_patterns("*.sqlite*"))
    verified = cli("bundle", "verify", "reference/2026.11.0", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "FAIL" not in verified.stdout and "not known-good" not in verified.stdout
