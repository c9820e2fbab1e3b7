"""Gathering the evidence for the ten-step readiness verdict of a run, and storing the verdicts.

Each step's evidence lives elsewhere: probe results (this run), operator confirmations (store),
the latest rollback bundle and its verification, the secret scan of what the workbench wrote, and
the trigger rules evaluated over the history. This module collects it; `_readiness` judges it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from workbench.core import clock
from workbench.core.config import Config
from workbench.core.errors import ConfigError
from workbench.core.secrets import key_needles, scan_paths, scan_project
from workbench.history.confirmations import current_by_item
from workbench.history.protocol import Store as HistoryStore
from workbench.probes.drift import SHAPED_PROBES, compare
from workbench.probes.engine import RunSummary
from workbench.rollback.bundle import latest_bundle
from workbench.rollback.plan import verify_bundle
from workbench.rollback.readiness import (
    BundleEvidence,
    DriftEvidence,
    Evidence,
    Readiness,
    ScanEvidence,
    TriggerEvidence,
    assess,
)
from workbench.signals.trends import evaluate
from workbench.signals.triggers import load_rules


def written_paths(config: Config, store: HistoryStore, extra: Sequence[Path] = ()) -> list[Path]:
    """What the workbench writes: the history (SQLite file and WAL), bundles, fixtures, `extra` (reports)."""
    paths = [config.settings.bundles_dir, config.settings.fixtures_dir, *extra, *store.local_files()]
    return [path for path in paths if path.exists()]


def scan_evidence(config: Config, store: HistoryStore, extra: Sequence[Path] = ()) -> ScanEvidence:
    """Key values, in every form redaction knows, in what the workbench wrote: its files, and a
    history store with no local file (PostgreSQL) searched in its own text columns."""
    paths = written_paths(config, store, extra)
    files = sum(1 for path in paths for _ in (path.rglob("*") if path.is_dir() else [path]))
    secrets = config.key_values()
    findings = [str(finding) for finding in scan_paths(paths, secrets=secrets)]
    searched = ""
    if not store.local_files():
        findings += stored_keys(store, secrets)
        searched = store.display_url
    return ScanEvidence(files=files, findings=tuple(findings), store=searched)


def stored_keys(store: HistoryStore, secrets: dict[str, str]) -> list[str]:
    """Key values, in every form and as fragments, in a store's own text columns (every project's):
    what no file scan can see of a PostgreSQL store. One line per column and form, never the value."""
    needles = key_needles(secrets)
    found = []
    for stored in store.find_text(needles):
        name, form = needles[stored.needle]
        kind = f"value of ${name}" + ("" if form == "raw" else f" ({form})")
        found.append(f"{store.display_url}: {stored.column}: {kind} in {stored.rows} row(s)")
    return found


def scan_with_store(
    config: Config, paths: Sequence[Path] = (), store: HistoryStore | None = None
) -> tuple[list[str], list[str]]:
    """`workbench scan`: the files `paths` (default: the project's reports/ and data/) and the probe
    prompts (`core.secrets.scan_project`), and the history `store` when given: its files when they
    lie outside what was scanned, or its tables when it has none (PostgreSQL), as step 6 searches
    it. Returns (what was scanned, one line per finding)."""
    targets, found = scan_project(config, paths)
    scanned = [str(path) for path in targets]
    findings = [str(finding) for finding in found]
    if store is None:
        return scanned, findings
    local = store.local_files()
    if not local:
        findings += stored_keys(store, config.key_values())
        return [*scanned, store.display_url], findings
    inside = [path.resolve() for path in targets]
    outside = [path for path in local if not any(path.resolve().is_relative_to(folder) for folder in inside)]
    findings += [str(finding) for finding in scan_paths(outside, secrets=config.key_values())]
    return [*scanned, *(str(path) for path in outside)], findings


def assess_run(config: Config, summary: RunSummary, store: HistoryStore) -> dict[str, Readiness]:
    """The readiness of every environment of `summary`, saved to the store with the run."""
    names = summary.environments
    recorded = store.confirmations(names)
    scan = scan_evidence(config, store)
    rules = load_rules(config.settings.triggers)
    firings = [firing for firing in evaluate(store, rules, envs=names) if firing.fired]
    started_at = store.run(summary.run_id).started_at
    verdicts: dict[str, Readiness] = {}
    for name in names:
        env = config.environments[name]
        fired = tuple(
            f"{f.rule.name} ({f.series}): {f.evidence} -> {f.action}" for f in firings if f.env == name
        )
        evidence = Evidence(
            results=[r for r in summary.results if r.env == name],
            confirmations=current_by_item(c for c in recorded if c.env == name),
            bundle=_bundle_evidence(config, name, store),
            scan=scan,
            triggers=TriggerEvidence(rules=len(rules), fired=fired),
            embedded=env.is_embedded,
            negatives_from=env.negatives_from,
            negative_results=[r for r in summary.results if r.env == env.negatives_from],
            drift=drift_evidence(store, name, summary, started_at),
        )
        verdicts[name] = assess(name, evidence)
        store.save_readiness(
            summary.run_id,
            name,
            ready=verdicts[name].ready,
            steps_json=verdicts[name].to_json(),
            assessed_at=clock.now_iso(),
        )
    return verdicts


def drift_evidence(store: HistoryStore, env: str, summary: RunSummary, started_at: str) -> DriftEvidence:
    """This run of `env` against its baseline, with the one drift judgement `compare` uses."""
    baseline = store.last_passing_run(env, before=started_at)
    if baseline is None:
        return DriftEvidence("")
    drifted = [
        drift
        for drift in compare(store.results([baseline], envs=[env]), summary.results, env, env)
        if drift.drifted
    ]
    return DriftEvidence(
        baseline,
        tuple(f"{d.probe}: {'; '.join(d.contract_changes)}" for d in drifted),
        tuple(f"{d.probe}: {'; '.join(d.contract_changes)}" for d in drifted if d.probe in SHAPED_PROBES),
        store.run(baseline).origin(),
    )


def stored_readiness(store: HistoryStore, run_id: str) -> Mapping[str, Readiness]:
    return {env: Readiness.from_json(env, text) for env, text in store.readiness(run_id).items()}


def _bundle_evidence(config: Config, env: str, store: HistoryStore) -> BundleEvidence | None:
    try:
        bundle = latest_bundle(env, config.settings.bundles_dir)
    except ConfigError as exc:
        return BundleEvidence(label=f"{env}/?", problems=(str(exc),))
    if bundle is None:
        return None
    checks = verify_bundle(bundle, secrets=config.key_values(), store=store, project=config.project)
    return BundleEvidence(bundle.label, tuple(f"{c.part}: {c.message}" for c in checks if not c.ok))
