"""The checklist's negative contract tests: known-bad inputs must fail in known-safe ways."""

from __future__ import annotations

import secrets
from dataclasses import replace

from workbench.core.models import Area, Outcome, Symptom
from workbench.core.secrets import INVALID_KEY_PREFIX
from workbench.probes.base import Finding, Probe, ProbeContext, judge_rejection

_MALFORMED = b'{"model": "probe", "messages": [{"role": "user", "content": "unterminated'


async def missing_key(ctx: ProbeContext) -> Finding:
    exchange = await ctx.send(ctx.request_body(), key=lambda: None)
    return judge_rejection(
        exchange,
        expected=Symptom.AUTH,
        what="request without Authorization",
        accepted_means="auth is not enforced, or the client uses a hidden credential source",
        strict=ctx.env.strict_schema,
    )


async def invalid_key(ctx: ProbeContext) -> Finding:
    wrong = f"{INVALID_KEY_PREFIX}{secrets.token_hex(12)}"
    exchange = await ctx.send(ctx.request_body(), key=lambda: wrong)
    return judge_rejection(
        exchange,
        expected=Symptom.AUTH,
        what="request with a wrong key",
        accepted_means="a wrong key was accepted: auth is not enforced",
        strict=ctx.env.strict_schema,
    )


async def malformed_json(ctx: ProbeContext) -> Finding:
    exchange = await ctx.send(_MALFORMED)
    return judge_rejection(
        exchange,
        expected=Symptom.VALIDATION,
        what="malformed JSON body",
        accepted_means="the server accepted a body that is not JSON",
        strict=ctx.env.strict_schema,
    )


async def missing_field(ctx: ProbeContext) -> Finding:
    """Both required fields, one request each: a server may check one and forget the other."""
    verdicts: list[Finding] = []
    for field in ("messages", "model"):
        exchange = await ctx.send(ctx.request_body(**{field: None}))
        verdicts.append(
            judge_rejection(
                exchange,
                expected=Symptom.VALIDATION,
                what=f"request without {field!r}",
                accepted_means=f"a request without the required {field!r} was accepted",
                strict=ctx.env.strict_schema,
            )
        )
    failed = [verdict for verdict in verdicts if verdict.outcome is not Outcome.PASS]
    chosen = failed[0] if failed else verdicts[0]
    return Finding(
        outcome=chosen.outcome,
        symptom=chosen.symptom,
        detail="; ".join(verdict.detail for verdict in verdicts),
        retryable=chosen.retryable,
        http_status=chosen.http_status,
        latency_ms=max(verdict.latency_ms or 0.0 for verdict in verdicts),
        shape=chosen.shape,
        facts={
            "statuses": [verdict.http_status for verdict in verdicts],
            **{k: v for k, v in chosen.facts.items() if k == "spec_deviations"},
        },
    )


async def invalid_value(ctx: ProbeContext) -> Finding:
    exchange = await ctx.send(ctx.request_body(temperature=5))
    finding = judge_rejection(
        exchange,
        expected=Symptom.VALIDATION,
        what="temperature = 5 (allowed 0..2)",
        accepted_means="an out-of-range value was accepted: the app would never see its configuration error",
        strict=ctx.env.strict_schema,
    )
    named = "temperature" in finding.detail
    finding = replace(finding, facts={**finding.facts, "names_field": named})
    if finding.outcome is Outcome.PASS and not named:
        return replace(finding, detail=finding.detail + "; note: the error does not name the field")
    return finding


PROBES = (
    Probe(
        "auth.missing_key",
        Area.AUTH,
        "No Authorization header",
        "an auth error (401/403), not a success",
        missing_key,
        negative=True,
        steps=(4,),
    ),
    Probe(
        "auth.invalid_key",
        Area.AUTH,
        "Wrong key",
        "an auth error (401/403)",
        invalid_key,
        negative=True,
        steps=(4,),
    ),
    Probe(
        "errors.malformed_json",
        Area.ERRORS,
        "Malformed JSON body",
        "a 4xx validation error, non-retryable",
        malformed_json,
        negative=True,
        carries_budget=False,
        steps=(4,),
    ),
    Probe(
        "errors.missing_field",
        Area.ERRORS,
        "Missing required field",
        "no `messages`, and no `model`: 4xx validation, non-retryable",
        missing_field,
        negative=True,
        also=(Area.REQUEST,),
        sends=2,
        steps=(4,),
    ),
    Probe(
        "errors.invalid_value",
        Area.ERRORS,
        "Out-of-range value",
        "an out-of-range value: 4xx validation with a clear message",
        invalid_value,
        negative=True,
        steps=(4,),
    ),
)
