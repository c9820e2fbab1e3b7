"""The vocabulary every other module speaks: outcomes, symptom classes, results, verdicts.

A contract violation is a *finding*, a `ProbeResult` with a symptom class, never an exception.
The values of `Outcome`, `Symptom` and `VerdictStatus` are interface: they are stored in the
history, printed as JSON and read by schedulers.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What a probe concluded about the contract."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    NEEDS_OPERATOR = "needs_operator"
    ERROR = "error"  # the probe could not run (missing key, workbench fault): no finding either way


SAMPLE_OUTCOMES = (str(Outcome.PASS), str(Outcome.FAIL))  # what trends and triggers count


class Symptom(StrEnum):
    """The checklist's symptom classes, plus `rate_limit` and `server` that operators need apart."""

    NONE = "none"
    TRANSPORT = "transport"
    AUTH = "auth"
    VALIDATION = "validation"
    RATE_LIMIT = "rate_limit"
    SERVER = "server"
    PARSER = "parser"
    QUALITY = "quality"


class Area(StrEnum):
    """The contract areas of the checklist's 'Contract details to verify' table."""

    ENDPOINT = "endpoint"
    AUTH = "auth"
    REQUEST = "request"
    RESPONSE = "response"
    ERRORS = "errors"
    LIMITS = "limits"
    STREAMING = "streaming"


AREA_TITLES: Mapping[Area, str] = {
    Area.ENDPOINT: "Endpoint paths",
    Area.AUTH: "Auth headers",
    Area.REQUEST: "Request fields",
    Area.RESPONSE: "Response fields",
    Area.ERRORS: "Error behavior",
    Area.LIMITS: "Rate-limit or billing assumptions",
    Area.STREAMING: "Streaming behavior",
}


# The checklist's "Define rollback triggers by symptom class" table, verbatim where it has a row.
ACTIONS: Mapping[Symptom, str] = {
    Symptom.NONE: "No action: the contract holds.",
    Symptom.TRANSPORT: "Roll back HTTP client, base URL, proxy, or timeout changes.",
    Symptom.AUTH: "Roll back secret reference, header construction, or deployment environment.",
    Symptom.VALIDATION: "Roll back request builder, prompt wrapper, or parameter changes.",
    Symptom.RATE_LIMIT: (
        "Back off and honour Retry-After; confirm quotas and rate limits with the account owner "
        "before shifting traffic (a success never proves them)."
    ),
    Symptom.SERVER: (
        "Retry with backoff and keep the request id; if it persists only on the new release, "
        "roll back model routing or endpoint overrides."
    ),
    Symptom.PARSER: "Roll back response parser or disable the new response-processing path.",
    Symptom.QUALITY: "Roll back prompt template, routing flag, or application policy layer.",
}


# How a probe not sent to an unreachable host begins its detail (the engine writes it, readiness reads it).
NOT_SENT = "not sent: "

# A host no request reached (DNS, refused, no route, TLS): the cause may be the auditor's own machine.
UNREACHABLE_ACTION = (
    "Nothing reached the host: check the base_url, then this machine's DNS, network and proxy; only "
    "if the host answers from elsewhere and the release changed the HTTP client, base URL or proxy, "
    "roll that change back."
)

# A 429 no retry fixes (quota, credits, billing exhausted): backing off would only wait.
QUOTA_EXHAUSTED_ACTION = (
    "Not retryable: the quota, credits or billing limit is exhausted. Raise the quota or fix billing "
    "with the account owner (backing off will not help), then re-probe before shifting traffic."
)


def action_for(symptom: Symptom, *, retryable: bool | None = None) -> str:
    """The checklist's suggested rollback action for a symptom class.

    `retryable=False` on a rate limit is quota exhaustion: its action says to raise the quota, not to
    back off (the classifier and the action never contradict each other).
    """
    if symptom is Symptom.RATE_LIMIT and retryable is False:
        return QUOTA_EXHAUSTED_ACTION
    return ACTIONS[symptom]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One row of the history: one probe against one environment in one run."""

    run_id: str
    env: str
    probe: str
    area: Area
    outcome: Outcome
    symptom: Symptom
    retryable: bool
    http_status: int | None
    latency_ms: float | None
    detail: str
    action: str
    started_at: str  # ISO 8601, UTC
    ttft_ms: float | None = None
    retry_after_s: float | None = None
    shape: tuple[str, ...] = ()  # response-shape signature: "path:type" entries, sorted
    facts: Mapping[str, Any] = field(default_factory=dict)  # probe-specific, JSON-safe

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: the record `workbench probe --format json` prints (a number that is not
        finite, which JSON cannot hold, as null)."""
        record = dataclasses.asdict(self)
        record["area"] = str(self.area)
        record["outcome"] = str(self.outcome)
        record["symptom"] = str(self.symptom)
        record["shape"] = list(self.shape)
        record["facts"] = json_safe(dict(self.facts))
        for name in ("latency_ms", "ttft_ms", "retry_after_s"):
            record[name] = json_safe(record[name])
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ProbeResult:
        """Inverse of `to_dict`; accepts `facts` and `shape` as JSON text too (as stored)."""
        facts = record.get("facts") or {}
        if isinstance(facts, str):
            facts = json.loads(facts)
        shape = record.get("shape") or ()
        if isinstance(shape, str):
            shape = json.loads(shape)
        return cls(
            run_id=str(record["run_id"]),
            env=str(record["env"]),
            probe=str(record["probe"]),
            area=Area(record["area"]),
            outcome=Outcome(record["outcome"]),
            symptom=Symptom(record["symptom"]),
            retryable=bool(record["retryable"]),
            http_status=_optional_int(record.get("http_status")),
            latency_ms=_optional_float(record.get("latency_ms")),
            detail=str(record.get("detail") or ""),
            action=str(record.get("action") or ""),
            started_at=str(record.get("started_at") or ""),
            ttft_ms=_optional_float(record.get("ttft_ms")),
            retry_after_s=_optional_float(record.get("retry_after_s")),
            shape=tuple(shape),
            facts=dict(facts),
        )


def json_safe(value: Any) -> Any:
    """`value` with every NaN or infinity (anywhere inside) replaced by None: what strict JSON holds."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


class VerdictStatus(StrEnum):
    """The verdict per environment shown at the top of every report."""

    READY = "ready"
    NEEDS_OPERATOR = "needs_operator"  # the contract holds; an operator must still confirm something
    NOT_READY = "not_ready"
    COULD_NOT_RUN = "could_not_run"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one environment's contract holds, and why not."""

    env: str
    status: VerdictStatus
    reasons: tuple[str, ...]
    counts: Mapping[str, int]

    @property
    def label(self) -> str:
        return {
            VerdictStatus.READY: "ready",
            VerdictStatus.NEEDS_OPERATOR: "needs operator",
            VerdictStatus.NOT_READY: "not ready",
            VerdictStatus.COULD_NOT_RUN: "could not run",
        }[self.status]
