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
    "CaptureRefused": "_errors",
    "Classification": "_classify",
    "Completion": "_parser",
    "Config": "_config",
    "ConfigError": "_errors",
    "Confirmation": "_confirm",
    "EmbeddedEndpoint": "_reference",
    "Environment": "_config",
    "FixtureSet": "_fixtures",
    "HistoryStore": "_store",
    "OPERATOR_ITEMS": "_confirm",
    "Outcome": "_models",
    "ParserError": "_errors",
    "ProbeDrift": "_drift",
    "ProbeResult": "_models",
    "ReportError": "_errors",
    "RunSummary": "_engine",
    "Scenario": "_scenarios",
    "StoreError": "_errors",
    "Symptom": "_models",
    "UsageError": "_errors",
    "Verdict": "_models",
    "VerdictStatus": "_models",
    "WorkbenchError": "_errors",
    "action_for": "_models",
    "capture_fixtures": "_capture",
    "classify": "_classify",
    "compare_runs": "_drift",
    "default_acceptance": "_acceptance",
    "default_config": "_config",
    "load_config": "_config",
    "load_fixture_set": "_fixtures",
    "parse_completion": "_parser",
    "reference_parser": "_parser",
    "run_audit": "_audit",
    "run_probes": "_engine",
    "setup_notebook": "_views",
    "shape_of": "_shape",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"workbench.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
