"""Probes that must succeed: the minimal contract probe and the app-realistic request."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workbench.core.config import Environment
from workbench.core.models import Area
from workbench.probes.answers import asked_of, request_fields
from workbench.probes.base import (
    Finding,
    Probe,
    ProbeContext,
    app_budget,
    ask_within_budget,
    judge_completion,
)

# Sent when an environment declares no `app_request`: the optional fields most apps send. They are
# the workbench's choice, so a model that rejects them (OpenAI's reasoning models reject any
# temperature but 1) is asked again without them, never failed for them.
GENERIC_APP_FIELDS: dict[str, Any] = {"temperature": 0.2, "top_p": 1.0}


async def minimal(ctx: ProbeContext) -> Finding:
    exchange, budget, still_empty = await ask_within_budget(ctx, {})
    return still_empty or judge_completion(ctx, exchange, "minimal request", budget)


async def app_realistic(ctx: ProbeContext) -> Finding:
    """The app's own request, sent as is (not streamed): its tools, tool choice and response format
    are judged as the app would read the answer."""
    app_fields = request_fields(ctx.env.app_request, stream=False)
    fields = app_fields or dict(GENERIC_APP_FIELDS)
    asked = asked_of(ctx.env.app, {})
    what = f"app request ({', '.join(sorted(fields))})"
    # the workbench's own choices: its token parameter unless the app sets a budget, and the
    # generic fields when the app declares none
    ours = [] if ctx.budget(app_fields).owner == "app" else [ctx.token_param]
    if not app_fields:
        ours += list(GENERIC_APP_FIELDS)
    overrides = {**fields, **ctx.budget_fields(app_fields, asked)}
    exchange, budget, still_empty = await ask_within_budget(
        ctx, overrides, app_fields=app_fields, ours=ours, asked=asked
    )
    finding = still_empty or judge_completion(ctx, exchange, what, budget, asked)
    if app_fields:
        return finding
    note = "; no app_request configured: sent generic fields, configure the ones your app sends"
    return replace(finding, detail=finding.detail + note)


def _app_budget(env: Environment) -> int:
    return app_budget(env, structured=bool(env.app.forces_tool or env.app.response_format))


PROBES = (
    Probe(
        id="endpoint.minimal",
        area=Area.ENDPOINT,
        title="Minimal valid request",
        expectation="200, JSON, the documented envelope, assistant content extractable by the parser",
        check=minimal,
        also=(Area.RESPONSE,),
        judges_answer=True,
        steps=(2, 5),
        shaped=True,
        exercises=frozenset({"content", "usage", "reasoning"}),
    ),
    Probe(
        id="request.app_realistic",
        area=Area.REQUEST,
        title="App-realistic request",
        expectation="the app's own request accepted as is; the answer as the app reads it: envelope, "
        "content, and its tool calls, JSON, reasoning and usage where it uses them",
        check=app_realistic,
        also=(Area.RESPONSE,),
        judges_answer=True,
        steps=(3,),
        shaped=True,
        exercises=frozenset({"content", "tool_calls", "json", "usage", "reasoning"}),
        version=2,
        budget=_app_budget,
    ),
)
