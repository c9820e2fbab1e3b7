"""Drift: what changed between two runs, a run and its baseline, or two environments.

Only structure and operations are compared (outcomes, symptom classes, response shapes, latency),
never generated text: the checklist's "compare only structural and operational checks". Each change
is judged once, here, for every caller (`compare`, the audit report, the drift explorer):

- *contract drift* (fails a gate): a probe that passed no longer passes, a symptom class changed,
  a field of a response, error envelope or stream chunk was removed or changed type;
- *information* (shown, never a gate): a new field (a new optional or error field such as
  `system_fingerprint`), a field that is now `null` where it was absent or the reverse, a type that
  only became nullable, a probe that now passes, and latency: timings move with load and network,
  so a latency change is reported with both values and never fails the gate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.appcontract import REASONING_FIELDS
from workbench.core.config import DRIFT_REFERENCE, load_config
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.models import ProbeResult
from workbench.probes.catalog import CATALOG
from workbench.wire.shape import ShapeDiff, diff_shapes

if TYPE_CHECKING:
    from workbench.history.store import HistoryStore

# Probes whose shape is an answer's (a body or stream chunks), as the catalog declares them; the
# others' shapes are error envelopes, compared run against run but not between environments.
SHAPED_PROBES = frozenset(probe.id for probe in CATALOG.values() if probe.shaped)
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
    """One probe seen on side A and side B, judged: `drifted` (contract drift) or information only."""

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
    latency_a_ms: float | None = None
    latency_b_ms: float | None = None
    versions: tuple[int, int] = (1, 1)  # the probe's version on each side: only equal ones compare
    reads_reasoning: bool = False  # the app reads reasoning (side B's): a renamed reasoning field drifts

    @property
    def comparable(self) -> bool:
        return self.versions[0] == self.versions[1]

    @property
    def contract_changes(self) -> list[str]:
        """What fails a gate, in words, whole."""
        parts = []
        if "error" in (self.outcome_a, self.outcome_b) or not self.comparable:
            return []  # a probe that could not run, or changed, judges nothing (see `information`)
        if self.outcome_a != self.outcome_b and self.outcome_a == "pass":
            parts.append(f"outcome {self.outcome_a} -> {self.outcome_b}")
        if self.symptom_a != self.symptom_b and self.outcome_b != "pass":
            parts.append(f"symptom {self.symptom_a} -> {self.symptom_b}")
        removed = [path for path in self._removed() if self.reads_reasoning or not _reasoning_path(path)]
        if removed:
            parts.append("removed " + ", ".join(removed))
        retyped = [entry for entry in self.shape.retyped if not _only_nullability(entry)]
        if retyped:
            parts.append("retyped " + "; ".join(retyped))
        return parts

    @property
    def information(self) -> list[str]:
        """What changed without breaking the contract, in words, whole."""
        parts = []
        if "error" in (self.outcome_a, self.outcome_b):
            return [f"not compared: outcome {self.outcome_a} -> {self.outcome_b} (a probe could not run)"]
        if not self.comparable:
            before, after = self.versions
            return [
                f"not compared: the probe changed (version {before} -> {after}) with this workbench; this "
                "run starts its baseline"
            ]
        if self.outcome_a != self.outcome_b and self.outcome_a != "pass":
            parts.append(f"outcome {self.outcome_a} -> {self.outcome_b}")
        if self.symptom_a != self.symptom_b and self.outcome_b == "pass":
            parts.append(f"symptom {self.symptom_a} -> {self.symptom_b}")
        if self.shape.added:
            parts.append("added " + ", ".join(self.shape.added))
        null_removed = [path for path in self.shape.removed if path in self.shape.removed_nulls]
        if null_removed:
            parts.append("now absent (was null) " + ", ".join(null_removed))
        reasoning = [path for path in self._removed() if _reasoning_path(path)]
        if reasoning and not self.reads_reasoning:
            parts.append(
                "reasoning field gone " + ", ".join(reasoning) + " (the app does not read reasoning)"
            )
        nullable = [entry for entry in self.shape.retyped if _only_nullability(entry)]
        if nullable:
            parts.append("nullability " + "; ".join(nullable))
        if self.band_a != self.band_b:
            parts.append(f"latency {_ms(self.latency_a_ms)} -> {_ms(self.latency_b_ms)}")
        return parts

    @property
    def drifted(self) -> bool:
        """Contract drift: the gate fails (`workbench compare` exits 1)."""
        return bool(self.contract_changes)

    @property
    def changed(self) -> bool:
        """Anything worth showing: contract drift or information."""
        return bool(self.contract_changes or self.information)

    def _removed(self) -> list[str]:
        return [path for path in self.shape.removed if path not in self.shape.removed_nulls]

    def without_latency(self) -> ProbeDrift:
        """The same comparison, latency aside: between environments (different regions, gateways)
        latency is its own chart's business, and only structure is drift."""
        return dataclasses.replace(self, band_a="-", band_b="-")

    def summary(self) -> str:
        drift, info = "; ".join(self.contract_changes), "; ".join(self.information)
        if drift and info:
            return f"{drift} (also: {info})"
        return drift or (f"information only: {info}" if info else "no change")


def _only_nullability(retyped: str) -> bool:
    """`path: string -> null|string` or `path: null -> string`: only whether it may be null changed."""
    _, _, change = retyped.partition(": ")
    before, _, after = change.partition(" -> ")
    old, new = set(before.split("|")), set(after.split("|"))
    return old - {"null"} == new - {"null"} or old == {"null"}


def _reasoning_path(path: str) -> bool:
    """A field of the reasoning family, anywhere (`choices[].message.reasoning_content`, a delta's)."""
    return any(f".{name}" in path for name in REASONING_FIELDS)


def _ms(latency: float | None) -> str:
    return "-" if latency is None else f"{latency:.0f} ms"


def compare(a: Sequence[ProbeResult], b: Sequence[ProbeResult], env_a: str, env_b: str) -> list[ProbeDrift]:
    """Probe by probe, environment `env_a` of results `a` against `env_b` of results `b`."""
    side_a = {r.probe: r for r in a if r.env == env_a}
    side_b = {r.probe: r for r in b if r.env == env_b}
    drifts = []
    for probe in [p for p in side_a if p in side_b]:
        first, second = side_a[probe], side_b[probe]
        if "skip" in (first.outcome, second.outcome):
            continue  # not run on one side (selection, production guard): nothing to compare
        shapes_comparable = bool(first.shape and second.shape)  # responses, error envelopes, stream chunks
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
                latency_a_ms=first.latency_ms,
                latency_b_ms=second.latency_ms,
                versions=(version_of(first), version_of(second)),
                reads_reasoning="reasoning" in (second.facts.get("uses") or ()),
            )
        )
    return drifts


def version_of(result: ProbeResult) -> int:
    """The version of the probe that produced `result` (stored with it; 1 before versions existed)."""
    version = result.facts.get("probe_version", 1)
    return version if isinstance(version, int) else 1


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


def compare_stored_runs(store: HistoryStore, run_a: str, run_b: str) -> list[ProbeDrift]:
    """`workbench compare`: two stored runs (an unknown id is a `UsageError` listing what is there)."""
    first, second = store.run(run_a), store.run(run_b)
    return compare_runs(
        store.results([run_a]), store.results([run_b]), first.environments, second.environments
    )


def configured_reference(config_path: str) -> str:
    """`[workbench] drift_reference` of the environments file at `config_path` (or the one found
    as every command finds it), "" when unset, or when the file can no longer be read: a report
    then uses the default rather than fail."""
    try:
        return load_config(Path(config_path) if config_path else None).settings.drift_reference or ""
    except WorkbenchError:
        return ""


def reference_environment(envs: Sequence[str], preferred: str = "") -> str:
    """The environment of a run the others are judged against: `preferred` (the configured
    `drift_reference`) when the run holds it, else the one named `reference`, else the first."""
    for name in (preferred, DRIFT_REFERENCE):
        if name and name in envs:
            return name
    return envs[0]


def against_reference(
    results: Sequence[ProbeResult], reference: str, envs: Iterable[str]
) -> list[ProbeDrift]:
    """Each environment of one run against `reference` (staging against production, sixty regions
    against one): shape differences per shaped probe. One comparison per environment, never every
    pair: at sixty environments that was 1,770 pairs and 1,947 rows."""
    return [
        drift
        for env in envs
        if env != reference
        for drift in compare(results, results, reference, env)
        if drift.probe in SHAPED_PROBES
    ]
