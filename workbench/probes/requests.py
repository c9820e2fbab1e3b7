"""Probes that must succeed: the minimal contract probe and the app-realistic request."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workbench.core.models import Area
from workbench.probes.base import Finding, Probe, ProbeContext, ask_within_budget, judge_completion

# Sent when an environment declares no `app_request`: the optional fields most apps send. They are
# the workbench's choice, so a model that rejects them (OpenAI's reasoning models reject any
# temperature but 1) is asked again without them, never failed for them.
GENERIC_APP_FIELDS: dict[str, Any] = {"temperature": 0.2, "top_p": 1.0}


async def minimal(ctx: ProbeContext) -> Finding:
    exchange, budget, still_empty = await ask_within_budget(ctx, {})
    return still_empty or judge_completion(ctx, exchange, "minimal request", budget)


async def app_realistic(ctx: ProbeContext) -> Finding:
    app_fields = dict(ctx.env.app_request)
    fields = app_fields or dict(GENERIC_APP_FIELDS)
    what = f"app request ({', '.join(sorted(fields))})"
    # the workbench's own choices: its token parameter unless the app sets a budget, and the
    # generic fields when the app declares none
    ours = [] if ctx.budget(app_fields).owner == "app" else [ctx.token_param]
    if not app_fields:
        ours += list(GENERIC_APP_FIELDS)
    exchange, budget, still_empty = await ask_within_budget(ctx, fields, app_fields=app_fields, ours=ours)
    finding = still_empty or judge_completion(ctx, exchange, what, budget)
    if app_fields:
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
        judges_answer=True,
    ),
    Probe(
        id="request.app_realistic",
        area=Area.REQUEST,
        title="App-realistic request",
        expectation="the app's optional fields accepted; envelope and content as for the minimal request",
        check=app_realistic,
        also=(Area.RESPONSE,),
        judges_answer=True,
    ),
)
