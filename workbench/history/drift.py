"""Drift: what changed between two runs, a run and its baseline, or two environments.

Only structure and operations are compared (outcomes, symptom classes, response shapes, latency
bands), never generated text: the checklist's "compare only structural and operational checks".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from workbench.core.errors import UsageError
from workbench.core.models import ProbeResult
from workbench.wire.shape import ShapeDiff, diff_shapes

# Probes whose shape is a response's shape (the others send errors or nothing).
SHAPED_PROBES = ("endpoint.minimal", "request.app_realistic", "streaming.sse", "response.fixture_replay")
_BANDS = ((100.0, "<100 ms"), (500.0, "100-500 ms"), (2000.0, "0.5-2 s"), (10000.0, "2-10 s"))


def latency_band(latency_ms: float | None) -> str:
    """A coarse band, so jitter is not drift but a slow-down from 80 ms to 900 ms is."""
    if latency_ms is None:
        return "-"
    for limit, label in _BANDS:
        if latency_ms < limit:
            return label
    return ">10 s"


@dataclass(frozen=True, slots=True)
class ProbeDrift:
    """One probe seen on side A and side B."""

    probe: str
    env_a: str
    env_b: str
    outcome_a: str
    outcome_b: str
    symptom_a: str
    symptom_b: str
    band_a: str
    band_b: str
    shape: ShapeDiff

    @property
    def changed(self) -> bool:
        return (
            self.outcome_a != self.outcome_b
            or self.symptom_a != self.symptom_b
            or self.band_a != self.band_b
            or self.shape.changed
        )

    def summary(self) -> str:
        parts = []
        if self.outcome_a != self.outcome_b:
            parts.append(f"outcome {self.outcome_a} -> {self.outcome_b}")
        if self.symptom_a != self.symptom_b:
            parts.append(f"symptom {self.symptom_a} -> {self.symptom_b}")
        if self.band_a != self.band_b:
            parts.append(f"latency {self.band_a} -> {self.band_b}")
        if self.shape.added:
            parts.append(
                "added " + ", ".join(self.shape.added[:6]) + ("…" if len(self.shape.added) > 6 else "")
            )
        if self.shape.removed:
            parts.append(
                "removed " + ", ".join(self.shape.removed[:6]) + ("…" if len(self.shape.removed) > 6 else "")
            )
        if self.shape.retyped:
            parts.append("retyped " + "; ".join(self.shape.retyped[:4]))
        return "; ".join(parts) or "no change"


def compare(a: Sequence[ProbeResult], b: Sequence[ProbeResult], env_a: str, env_b: str) -> list[ProbeDrift]:
    """Probe by probe, environment `env_a` of results `a` against `env_b` of results `b`."""
    side_a = {r.probe: r for r in a if r.env == env_a}
    side_b = {r.probe: r for r in b if r.env == env_b}
    drifts = []
    for probe in [p for p in side_a if p in side_b]:
        first, second = side_a[probe], side_b[probe]
        if "skip" in (first.outcome, second.outcome):
            continue  # not run on one side (selection, production guard): nothing to compare
        shapes_comparable = probe in SHAPED_PROBES and first.shape and second.shape
        drifts.append(
            ProbeDrift(
                probe=probe,
                env_a=env_a,
                env_b=env_b,
                outcome_a=str(first.outcome),
                outcome_b=str(second.outcome),
                symptom_a=str(first.symptom),
                symptom_b=str(second.symptom),
                band_a=latency_band(first.latency_ms),
                band_b=latency_band(second.latency_ms),
                shape=diff_shapes(first.shape, second.shape) if shapes_comparable else ShapeDiff((), (), ()),
            )
        )
    return drifts


def pair_environments(envs_a: Sequence[str], envs_b: Sequence[str]) -> list[tuple[str, str]]:
    """Same-named environments; two single-environment runs (staging, then production) pair up."""
    common = [env for env in envs_a if env in envs_b]
    if common:
        return [(env, env) for env in common]
    if len(envs_a) == 1 and len(envs_b) == 1:
        return [(envs_a[0], envs_b[0])]
    raise UsageError(
        f"the runs share no environment ({', '.join(envs_a)} vs {', '.join(envs_b)}); compare runs of the "
        "same environments, or two single-environment runs"
    )


def compare_runs(
    a: Sequence[ProbeResult], b: Sequence[ProbeResult], envs_a: Sequence[str], envs_b: Sequence[str]
) -> list[ProbeDrift]:
    """Every paired environment, probe by probe."""
    return [
        drift for env_a, env_b in pair_environments(envs_a, envs_b) for drift in compare(a, b, env_a, env_b)
    ]


def between_environments(results: Sequence[ProbeResult], envs: Iterable[str]) -> list[ProbeDrift]:
    """Each pair of environments of one run (staging vs production): shape differences per shaped probe."""
    drifts: list[ProbeDrift] = []
    for env_a, env_b in itertools.combinations(list(envs), 2):
        drifts.extend(d for d in compare(results, results, env_a, env_b) if d.probe in SHAPED_PROBES)
    return drifts
