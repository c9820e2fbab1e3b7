"""Probes that must succeed: the minimal contract probe and the app-realistic request."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workbench.core.models import Area
from workbench.probes.base import Finding, Probe, ProbeContext, judge_completion

# Sent when an environment declares no `app_request`: the optional fields most apps send.
GENERIC_APP_FIELDS: dict[str, Any] = {"temperature": 0.2, "top_p": 1.0}


async def minimal(ctx: ProbeContext) -> Finding:
    exchange = await ctx.send(ctx.request_body())
    return judge_completion(ctx, exchange, "minimal request")


async def app_realistic(ctx: ProbeContext) -> Finding:
    fields = dict(ctx.env.app_request) or dict(GENERIC_APP_FIELDS)
    exchange = await ctx.send(ctx.request_body(**fields))
    finding = judge_completion(ctx, exchange, f"app request ({', '.join(sorted(fields))})")
    if ctx.env.app_request:
        return finding
    note = "; no app_request configured: sent generic fields, configure the ones your app sends"
    return replace(finding, detail=finding.detail + note)


PROBES = (
    Probe(
        id="endpoint.minimal",
        area=Area.ENDPOINT,
        title="Minimal valid request",
        expectation="200, JSON, the documented envelope, assistant content extractable by the parser",
        check=minimal,
        also=(Area.RESPONSE,),
    ),
    Probe(
        id="request.app_realistic",
        area=Area.REQUEST,
        title="App-realistic request",
        expectation="the app's optional fields accepted; envelope and content as for the minimal request",
        check=app_realistic,
        also=(Area.RESPONSE,),
    ),
)
