"""What every probe is made of: its context, its finding, and the judgement of a completion.

A probe sends (or replays) something, classifies what came back, and says whether that meets its
expectation. It never asserts generated text. It returns a `Finding`; the engine adds the run,
the environment and the checklist's action and stores it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.config import Environment
from workbench.core.errors import ParserError
from workbench.core.models import Area, Outcome, Symptom
from workbench.history.confirmations import Confirmation
from workbench.wire.acceptance import Acceptance
from workbench.wire.classify import Classification, classify_exchange
from workbench.wire.client import Exchange, ProbeClient
from workbench.wire.parser import ResponseParser
from workbench.wire.shape import shape_of

# The checklist's sanitized probe prompt: no production data, no exact phrase expected back.
PROBE_PROMPT = "Return a short acknowledgement for a contract probe."

# Top-level, choice and message fields the spec marks required; absence is noted, not failed,
# because real providers omit several of them (see contract/SUMMARY.md section C).
_REQUIRED = {
    "": ("id", "object", "created", "model", "choices"),
    "choices[0].": ("index", "message", "finish_reason", "logprobs"),
    "choices[0].message.": ("role", "content", "refusal"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """A probe's conclusion before the engine stamps run, environment and action on it."""

    outcome: Outcome
    symptom: Symptom
    detail: str
    retryable: bool = False
    http_status: int | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    retry_after_s: float | None = None
    shape: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)
    requests: int = 1


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """Everything a probe may use; the key is a callable so it is read only when a request is sent."""

    env: Environment
    client: ProbeClient
    url: str
    key: Callable[[], str | None]
    parser: ResponseParser
    acceptance: Acceptance | None = None
    requested: frozenset[str] = frozenset()  # probe ids asked for explicitly with --probe
    fixtures_dir: Path = Path("data/fixtures")
    confirmations: Mapping[str, Confirmation] = field(default_factory=dict)  # current ones, by item

    def request_body(self, **overrides: Any) -> dict[str, Any]:
        """The minimal valid request of the checklist, with `overrides` applied (None removes a field)."""
        body: dict[str, Any] = {
            "model": self.env.model,
            "messages": [{"role": "user", "content": PROBE_PROMPT}],
            "stream": False,
            "max_tokens": self.env.max_tokens,
        }
        for name, value in overrides.items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
        return body

    async def send(
        self,
        body: Mapping[str, Any] | bytes,
        *,
        key: Callable[[], str | None] | None = None,
        stream: bool = False,
    ) -> Exchange:
        """POST to the chat-completions endpoint; `key` replaces the environment's key source."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = self.client.build(
            self.url,
            content=content,
            key=self.key if key is None else key,
            accept="text/event-stream" if stream else "application/json",
        )
        return await self.client.exchange(request)


@dataclass(frozen=True, slots=True)
class Probe:
    """A named check in one contract area. `negative` probes never run on production by default."""

    id: str
    area: Area
    title: str
    expectation: str
    check: Callable[[ProbeContext], Awaitable[Finding]]
    negative: bool = False
    also: tuple[Area, ...] = ()  # further contract areas this probe gives evidence for


def finding_from(
    exchange: Exchange,
    classification: Classification,
    outcome: Outcome,
    *,
    symptom: Symptom | None = None,
    detail: str | None = None,
    facts: Mapping[str, Any] | None = None,
    requests: int = 1,
) -> Finding:
    """A finding carrying the exchange's status and timings and the classification's advice."""
    return Finding(
        outcome=outcome,
        symptom=classification.symptom if symptom is None else symptom,
        detail=classification.detail if detail is None else detail,
        retryable=classification.retryable if outcome is not Outcome.PASS else False,
        http_status=exchange.status,
        latency_ms=round(exchange.elapsed_ms, 3),
        retry_after_s=classification.retry_after_s,
        shape=shape_of(classification.decoded) if classification.decoded is not None else (),
        facts=dict(facts or {}),
        requests=requests,
    )


def judge_completion(ctx: ProbeContext, exchange: Exchange, what: str) -> Finding:
    """A request that must succeed: 200, the documented envelope, content the app's parser extracts."""
    result = classify_exchange(exchange)
    if result.symptom is not Symptom.NONE:
        return finding_from(exchange, result, Outcome.FAIL, detail=f"{what}: {result.detail}")
    decoded = result.decoded
    facts: dict[str, Any] = {
        "missing_required": missing_required(decoded),
        "usage": result.completion is not None and result.completion.usage is not None,
        "finish_reason": result.completion.finish_reason if result.completion else None,
    }
    try:
        content = ctx.parser(decoded)
    except ParserError as exc:
        return finding_from(
            exchange,
            result,
            Outcome.FAIL,
            symptom=Symptom.PARSER,
            detail=f"{what}: the parser reported: {exc}",
            facts=facts,
        )
    except Exception as exc:
        return finding_from(
            exchange,
            result,
            Outcome.FAIL,
            symptom=Symptom.PARSER,
            detail=f"{what}: the parser raised {type(exc).__name__} (unhandled): {exc}",
            facts=facts,
        )
    if content is None and not (
        result.completion and (result.completion.tool_calls or result.completion.refusal)
    ):
        return finding_from(
            exchange,
            result,
            Outcome.FAIL,
            symptom=Symptom.PARSER,
            detail=f"{what}: the parser extracted no assistant content",
            facts=facts,
        )
    if ctx.acceptance is not None:
        rejection = ctx.acceptance(decoded, content)
        if rejection:
            return finding_from(
                exchange,
                result,
                Outcome.FAIL,
                symptom=Symptom.QUALITY,
                detail=f"{what}: acceptance check failed: {rejection}",
                facts=facts,
            )
    missing = facts["missing_required"]
    note = f"; spec-required fields absent: {', '.join(missing)}" if missing else ""
    detail = f"{what}: HTTP {exchange.status} in {exchange.elapsed_ms:.0f} ms, {result.detail}{note}"
    return finding_from(exchange, result, Outcome.PASS, detail=detail, facts=facts)


def judge_rejection(exchange: Exchange, *, expected: Symptom, what: str, accepted_means: str) -> Finding:
    """A request that must fail in a known-safe way: the `expected` class and non-retryable.

    A pass records symptom `none` (nothing is wrong); the class the server answered with is kept
    in `facts["observed"]`. A 2xx means the bad request was accepted, whatever its body looked like;
    but a status whose body never completed (our deadline, a dropped connection, the byte cap) is
    no answer to judge: the probe says it could not tell, rather than pass or blame the endpoint.
    """
    result = classify_exchange(exchange)
    observed = {"observed": str(result.symptom)}
    if exchange.status is not None and exchange.failure is not None:
        detail = (
            f"{what}: HTTP {exchange.status} arrived but its body did not complete "
            f"({exchange.failure_detail}): whether the request was accepted cannot be judged"
        )
        return finding_from(
            exchange, result, Outcome.ERROR, symptom=Symptom.NONE, facts=observed, detail=detail
        )
    if exchange.status is not None and 200 <= exchange.status < 300:
        return finding_from(
            exchange,
            result,
            Outcome.FAIL,
            symptom=expected,
            facts=observed,
            detail=f"{what}: HTTP {exchange.status}, accepted: {accepted_means}",
        )
    if result.symptom is expected and not result.retryable:
        return finding_from(
            exchange,
            result,
            Outcome.PASS,
            symptom=Symptom.NONE,
            facts=observed,
            detail=f"{what}: rejected as expected: {result.detail}",
        )
    if result.symptom is expected:
        detail = (
            f"{what}: {result.detail}; but it reads as retryable, so clients would retry a request "
            "that cannot succeed"
        )
        return finding_from(exchange, result, Outcome.FAIL, detail=detail, facts=observed)
    return finding_from(
        exchange,
        result,
        Outcome.FAIL,
        facts=observed,
        detail=f"{what}: expected the {expected} class, got {result.symptom}: {result.detail}",
    )


def missing_required(body: Any) -> list[str]:
    """Spec-required envelope fields absent from a completion body (for the record, not a failure)."""
    if not isinstance(body, Mapping):
        return []
    missing = [name for name in _REQUIRED[""] if name not in body]
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], Mapping) else None
    if first is not None:
        missing += [f"choices[0].{name}" for name in _REQUIRED["choices[0]."] if name not in first]
        message = first.get("message")
        if isinstance(message, Mapping):
            missing += [
                f"choices[0].message.{name}"
                for name in _REQUIRED["choices[0].message."]
                if name not in message
            ]
    return missing
