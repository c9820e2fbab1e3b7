"""The verdict per environment: ready, not ready, or could not run, with the reasons."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.models import NOT_SENT, Outcome, ProbeResult, Verdict, VerdictStatus
from workbench.history.store import HistoryStore, RunRecord
from workbench.probes.catalog import CATALOG


def verdict_for(env: str, results: Sequence[ProbeResult]) -> Verdict:
    """Ready only when nothing failed, errored or awaits an operator; a failure makes it not ready."""
    results = in_catalog_order(results)
    counts = Counter(str(result.outcome) for result in results)
    failures = [result for result in results if result.outcome is Outcome.FAIL]
    errors = [result for result in results if result.outcome is Outcome.ERROR]
    ran = [r for r in results if r.outcome in (Outcome.PASS, Outcome.FAIL, Outcome.NEEDS_OPERATOR)]
    if failures:
        reasons = tuple(f"{result.probe}: {result.symptom} - {result.detail}" for result in failures)
        return Verdict(env, VerdictStatus.NOT_READY, reasons + _error_reasons(errors), dict(counts))
    # probes not sent because their host was found unreachable (by another environment on it)
    unsent = [r for r in results if r.outcome is Outcome.SKIP and r.detail.startswith(NOT_SENT)]
    if errors or not ran or unsent:
        reasons = _error_reasons(errors) + _unsent_reason(unsent) or ("no probe ran (all skipped)",)
        return Verdict(env, VerdictStatus.COULD_NOT_RUN, reasons, dict(counts))
    pending = tuple(
        f"{result.probe}: {result.detail}" for result in results if result.outcome is Outcome.NEEDS_OPERATOR
    )
    if pending:
        return Verdict(env, VerdictStatus.NEEDS_OPERATOR, pending, dict(counts))
    return Verdict(env, VerdictStatus.READY, ("every probe passed",), dict(counts))


def in_catalog_order(results: Sequence[ProbeResult]) -> list[ProbeResult]:
    """Results as the catalog lists probes (the store keeps completion order); unknown ids last."""
    rank = {probe_id: index for index, probe_id in enumerate(CATALOG)}
    return sorted(results, key=lambda result: rank.get(result.probe, len(rank)))


def verdicts_for(envs: Iterable[str], results: Sequence[ProbeResult]) -> list[Verdict]:
    """One verdict per environment, in the order given."""
    return [verdict_for(env, [result for result in results if result.env == env]) for env in envs]


def _unsent_reason(unsent: Sequence[ProbeResult]) -> tuple[str, ...]:
    """One line for every probe not sent to an unreachable host: the cause is the same."""
    if not unsent:
        return ()
    cause = unsent[0].detail.removeprefix(NOT_SENT).split(" (an earlier probe")[0]
    return (f"{len(unsent)} probe(s) not sent: {cause}",)


def _error_reasons(errors: Sequence[ProbeResult]) -> tuple[str, ...]:
    return tuple(f"{result.probe}: could not run - {result.detail}" for result in errors)


@dataclass(frozen=True, slots=True)
class RunListing:
    """One run as a person picks it for `compare` or the explorer: when, what, complete, verdicts."""

    run: RunRecord
    verdicts: tuple[Verdict, ...]

    @property
    def scope(self) -> str:
        """complete: every probe of the catalog was planned (a baseline candidate); partial: a selection."""
        return "complete" if self.run.complete else "partial"

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "started_at": self.run.started_at,
            "status": self.run.status,
            "scope": self.scope,
            "command": self.run.command,
            "config_path": self.run.config_path,
            "environments": {verdict.env: str(verdict.status) for verdict in self.verdicts},
        }


def list_runs(store: HistoryStore, *, env: str | None = None, limit: int = 20) -> list[RunListing]:
    """The newest `limit` runs (of `env`, if given), each with its environments' verdicts."""
    runs = store.runs(limit=limit, env=env)
    results = store.results([run.run_id for run in runs]) if runs else []
    by_run: dict[str, list[ProbeResult]] = {}
    for result in results:
        by_run.setdefault(result.run_id, []).append(result)
    return [
        RunListing(
            run,
            tuple(verdicts_for([env] if env else run.environments, by_run.get(run.run_id, []))),
        )
        for run in runs
    ]
