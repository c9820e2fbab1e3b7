"""Contract Workbench: prove rollback readiness of a chat-completions integration.

Probe endpoints across environments, classify every result into the checklist's symptom
classes, keep a history, and render dated audit reports. Heavy dependencies (httpx, pandas,
altair, papermill) load on first use, so `import workbench` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> private module that defines it (loaded on first attribute access)
_EXPORTS: dict[str, str] = {
    "ACTIONS": "_models",
    "Area": "_models",
    "AuditOutcome": "_audit",
    "AuditView": "_views",
    "Bundle": "_bundle",
    "CaptureRefused": "_errors",
    "Classification": "_classify",
    "Completion": "_parser",
    "Config": "_config",
    "ConfigError": "_errors",
    "Confirmation": "_confirm",
    "DriftExplorer": "_explorer",
    "EmbeddedEndpoint": "_reference",
    "Environment": "_config",
    "Firing": "_triggers",
    "FixtureSet": "_fixtures",
    "HistoryStore": "_store",
    "LogColumns": "_watch",
    "OPERATOR_ITEMS": "_confirm",
    "Outcome": "_models",
    "ParserError": "_errors",
    "ProbeDrift": "_drift",
    "ProbeResult": "_models",
    "Readiness": "_readiness",
    "ReadinessView": "_readiness_view",
    "ReportError": "_errors",
    "RollbackPlan": "_rollback",
    "Rule": "_triggers",
    "RunSummary": "_engine",
    "Scenario": "_scenarios",
    "SecretInBundle": "_bundle",
    "StoreError": "_errors",
    "Symptom": "_models",
    "TrendsView": "_trends_view",
    "UsageError": "_errors",
    "Verdict": "_models",
    "VerdictStatus": "_models",
    "WatchReport": "_watch",
    "WorkbenchError": "_errors",
    "action_for": "_models",
    "assess_run": "_evidence",
    "capture_bundle": "_manifest",
    "capture_fixtures": "_capture",
    "classify": "_classify",
    "compare_runs": "_drift",
    "default_acceptance": "_acceptance",
    "default_config": "_config",
    "diff_bundles": "_rollback",
    "evaluate_triggers": "_trends",
    "load_config": "_config",
    "load_fixture_set": "_fixtures",
    "load_rules": "_triggers",
    "parse_completion": "_parser",
    "plan_rollback": "_rollback",
    "reference_parser": "_parser",
    "run_audit": "_audit",
    "run_probes": "_engine",
    "scan_paths": "_scan",
    "setup_notebook": "_views",
    "shape_of": "_shape",
    "verify_bundle": "_rollback",
    "watch": "_watch",
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
