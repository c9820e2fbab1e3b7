"""`request.structured_output`: when the app asks for JSON (`response_format` json_object or
json_schema), the answer's content is a JSON object, valid against the app's schema.

The app's request is sent without its tools (the workbench's choice: an answer that calls a tool
has no content to judge); prose with HTTP 200 means the format was ignored (`quality`), JSON that
does not parse or that arrived only in a reasoning field is unreadable (`parser`), and a rejected
`response_format` is the request's `validation` finding, naming the parameter.
"""

from __future__ import annotations

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

STRUCTURED_OUTPUT = "request.structured_output"


def asks_json(env: Environment, requested: frozenset[str]) -> str | None:
    if env.app.response_format:
        return None
    return "the app asks for no JSON answer (no app_request.response_format): not part of its contract"


async def structured_output(ctx: ProbeContext) -> Finding:
    app_fields = request_fields(ctx.env.app_request, stream=False)
    changes = {"tools": None, "tool_choice": None, "parallel_tool_calls": None}
    overrides = {**app_fields, **changes}
    asked = asked_of(ctx.env.app, changes)
    overrides.update(ctx.budget_fields(app_fields, asked))
    ours = [] if ctx.budget(app_fields).owner == "app" else [ctx.token_param]
    exchange, budget, still_empty = await ask_within_budget(
        ctx, overrides, app_fields=app_fields, ours=ours, asked=asked
    )
    what = f"structured output ({asked.response_format})"
    return still_empty or judge_completion(ctx, exchange, what, budget, asked)


def _budget(env: Environment) -> int:
    return app_budget(env, structured=True)


PROBES = (
    Probe(
        STRUCTURED_OUTPUT,
        Area.REQUEST,
        "Structured output",
        "json_object: the content is a JSON object; json_schema: it validates against the app's schema",
        structured_output,
        also=(Area.RESPONSE,),
        applies=asks_json,
        judges_answer=True,
        steps=(3, 5),
        shaped=True,
        exercises=frozenset({"json"}),
        budget=_budget,
    ),
)
