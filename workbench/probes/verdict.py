"""The verdict per environment: ready, not ready, or could not run, with the reasons."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from workbench.core.models import Outcome, ProbeResult, Verdict, VerdictStatus


def verdict_for(env: str, results: Sequence[ProbeResult]) -> Verdict:
    """Ready only when nothing failed, errored or awaits an operator; a failure makes it not ready."""
    counts = Counter(str(result.outcome) for result in results)
    failures = [result for result in results if result.outcome is Outcome.FAIL]
    errors = [result for result in results if result.outcome is Outcome.ERROR]
    ran = [r for r in results if r.outcome in (Outcome.PASS, Outcome.FAIL, Outcome.NEEDS_OPERATOR)]
    if failures:
        reasons = tuple(
            f"{result.probe}: {result.symptom} - {_first_clause(result.detail)}" for result in failures
        )
        return Verdict(env, VerdictStatus.NOT_READY, reasons + _error_reasons(errors), dict(counts))
    if errors or not ran:
        reasons = _error_reasons(errors) or ("no probe ran (all skipped)",)
        return Verdict(env, VerdictStatus.COULD_NOT_RUN, reasons, dict(counts))
    pending = tuple(
        f"{result.probe}: {result.detail}" for result in results if result.outcome is Outcome.NEEDS_OPERATOR
    )
    if pending:
        return Verdict(env, VerdictStatus.NEEDS_OPERATOR, pending, dict(counts))
    return Verdict(env, VerdictStatus.READY, ("every probe passed",), dict(counts))


def verdicts_for(envs: Iterable[str], results: Sequence[ProbeResult]) -> list[Verdict]:
    """One verdict per environment, in the order given."""
    return [verdict_for(env, [result for result in results if result.env == env]) for env in envs]


def _error_reasons(errors: Sequence[ProbeResult]) -> tuple[str, ...]:
    return tuple(f"{result.probe}: could not run - {_first_clause(result.detail)}" for result in errors)


def _first_clause(detail: str, limit: int = 160) -> str:
    return detail if len(detail) <= limit else detail[: limit - 1] + "…"
