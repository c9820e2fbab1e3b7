"""The probe catalog: every probe id (interface) with its area, expectation and check.

One registry with papermill's shape: `register(probe)`, `get_probe(id)` raising a clear error for
an unknown id, `CATALOG` in catalog order (the order reports list them in).
"""

from __future__ import annotations

from workbench.core.errors import UsageError
from workbench.core.models import Area
from workbench.probes.base import PROBE_PROMPT, Finding, Probe, ProbeContext
from workbench.probes.formats import PROBES as _FORMATS
from workbench.probes.limits import PROBES as _LIMITS
from workbench.probes.negative import PROBES as _NEGATIVE
from workbench.probes.parsing import PROBES as _PARSING
from workbench.probes.requests import PROBES as _REQUESTS
from workbench.probes.streaming import PROBES as _STREAMING
from workbench.probes.tools import PROBES as _TOOLS

CATALOG: dict[str, Probe] = {}


def register(probe: Probe) -> Probe:
    """Add a probe to the catalog; ids are unique."""
    if probe.id in CATALOG:
        raise ValueError(f"probe {probe.id!r} is already registered")
    CATALOG[probe.id] = probe
    return probe


def areas_of() -> dict[str, tuple[Area, ...]]:
    """Every contract area each probe gives evidence for, its own first."""
    return {probe.id: (probe.area, *probe.also) for probe in CATALOG.values()}


def steps_of() -> dict[int, tuple[str, ...]]:
    """Readiness step -> the probes whose evidence it is, in catalog order (read by readiness)."""
    steps: dict[int, tuple[str, ...]] = {}
    for probe in CATALOG.values():
        for step in probe.steps:
            steps[step] = (*steps.get(step, ()), probe.id)
    return steps


def get_probe(probe_id: str) -> Probe:
    """The probe with this id, or a `UsageError` listing the known ids."""
    try:
        return CATALOG[probe_id]
    except KeyError:
        raise UsageError(f"unknown probe {probe_id!r} (known: {', '.join(CATALOG)})") from None


# Catalog order is report order: what the app sends first, then what it must refuse, then parsing,
# streaming, and what only an operator confirms.
_TOOL_CALL, _STREAMED_TOOL_CALL, _ROUND_TRIP = _TOOLS
for _probe in (
    *_REQUESTS,
    _TOOL_CALL,
    _ROUND_TRIP,
    *_FORMATS,
    *_NEGATIVE,
    *_PARSING,
    *_STREAMING,
    _STREAMED_TOOL_CALL,
    *_LIMITS,
):
    register(_probe)

__all__ = [
    "CATALOG",
    "PROBE_PROMPT",
    "Finding",
    "Probe",
    "ProbeContext",
    "areas_of",
    "get_probe",
    "register",
    "steps_of",
]
