"""Contract Workbench: prove rollback readiness of a chat-completions integration.

Probe endpoints across environments, classify every result into the checklist's symptom
classes, keep a history, and render dated audit reports. Heavy dependencies (httpx, pandas,
altair, papermill) load on first use, so `import workbench` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module (under workbench/) that defines it (loaded on first attribute access)
_EXPORTS: dict[str, str] = {
    "ACTIONS": "core.models",
    "Area": "core.models",
    "AuditOutcome": "render.audit",
    "AuditView": "render.audit_view",
    "Bundle": "rollback.bundle",
    "CaptureRefused": "core.errors",
    "Classification": "wire.classify",
    "Completion": "wire.parser",
    "Config": "core.config",
    "ConfigError": "core.errors",
    "Confirmation": "history.confirmations",
    "DriftExplorer": "render.drift_view",
    "EmbeddedEndpoint": "reference.endpoint",
    "Environment": "core.config",
    "Firing": "signals.triggers",
    "FixtureSet": "probes.fixtures",
    "History": "render.history_frames",
    "HistoryStore": "history.store",
    "LogColumns": "signals.watch",
    "OPERATOR_ITEMS": "history.confirmations",
    "Outcome": "core.models",
    "ParserError": "core.errors",
    "ProbeDrift": "probes.drift",
    "ProbeResult": "core.models",
    "Readiness": "rollback.readiness",
    "ReadinessView": "render.readiness_view",
    "ReportError": "core.errors",
    "RollbackPlan": "rollback.plan",
    "Rule": "signals.triggers",
    "RunSummary": "probes.engine",
    "Scenario": "core.scenarios",
    "SecretInBundle": "rollback.bundle",
    "StoreError": "core.errors",
    "Symptom": "core.models",
    "TrendsView": "render.trends_view",
    "UsageError": "core.errors",
    "Verdict": "core.models",
    "VerdictStatus": "core.models",
    "WatchReport": "signals.watch",
    "WorkbenchError": "core.errors",
    "action_for": "core.models",
    "assess_run": "rollback.evidence",
    "capture_bundle": "rollback.manifest",
    "capture_fixtures": "probes.capture",
    "classify": "wire.classify",
    "classify_file": "wire.classify",
    "compare_runs": "probes.drift",
    "default_acceptance": "wire.acceptance",
    "default_config": "core.config",
    "deployed_bundle": "rollback.manifest",
    "diff_bundles": "rollback.plan",
    "evaluate_triggers": "signals.trends",
    "load_config": "core.config",
    "load_fixture_set": "probes.fixtures",
    "load_rules": "signals.triggers",
    "parse_completion": "wire.parser",
    "plan_rollback": "rollback.plan",
    "reference_parser": "wire.parser",
    "run_audit": "render.audit",
    "run_probes": "probes.engine",
    "scan_paths": "core.secrets",
    "setup_notebook": "render.audit_view",
    "shape_of": "wire.shape",
    "verify_bundle": "rollback.plan",
    "watch": "signals.watch",
}

_ALIASES = {"evaluate_triggers": "evaluate"}  # public name -> the module's own name

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"workbench.{module_name}"), _ALIASES.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
