"""The probe catalog: every probe id (interface) with its area, expectation and check.

One registry with papermill's shape: `register(probe)`, `get_probe(id)` raising a clear error for
an unknown id, `CATALOG` in catalog order (the order reports list them in).
"""

from __future__ import annotations

from workbench.core.errors import UsageError
from workbench.core.models import Area
from workbench.probes.base import PROBE_PROMPT, Finding, Probe, ProbeContext
from workbench.probes.limits import PROBES as _LIMITS
from workbench.probes.negative import PROBES as _NEGATIVE
from workbench.probes.parsing import PROBES as _PARSING
from workbench.probes.requests import PROBES as _REQUESTS
from workbench.probes.streaming import PROBES as _STREAMING

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


def get_probe(probe_id: str) -> Probe:
    """The probe with this id, or a `UsageError` listing the known ids."""
    try:
        return CATALOG[probe_id]
    except KeyError:
        raise UsageError(f"unknown probe {probe_id!r} (known: {', '.join(CATALOG)})") from None


for _probe in (*_REQUESTS, *_NEGATIVE, *_PARSING, *_STREAMING, *_LIMITS):
    register(_probe)

__all__ = ["CATALOG", "PROBE_PROMPT", "Finding", "Probe", "ProbeContext", "areas_of", "get_probe", "register"]
