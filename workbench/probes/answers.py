"""An answer judged against what the app uses: its tool calls, structured output, reasoning fields and
usage, whether it came whole or streamed.

Every check here switches on from what the request asked (`Asked`) and what the app reads
(`AppContract.uses`): a field the app consumes that breaks is a finding, anything else a note. One
home for these rules, so the non-streaming probes, the streaming ones and `workbench classify` agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.core.appcontract import REASONING_FIELDS, AppContract
from workbench.core.models import Symptom
from workbench.wire import boundedjson
from workbench.wire.classify import Classification
from workbench.wire.deviations import LIMIT_FIELD
from workbench.wire.stream import StreamAssembly
from workbench.wire.toolcalls import Problem, ToolCall, calls_in_message, judge_calls, schema_errors

# A budget large enough for a tool call or a JSON answer when the app sets none: 16 tokens, the
# probes' plain budget, cuts arguments mid-string. A cut at it is asked again at max_tokens_retry.
STRUCTURED_BUDGET = 256


@dataclass(frozen=True, slots=True)
class Asked:
    """What one request asked of the endpoint, and who chose it (the app, or the workbench)."""

    tools: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # offered name -> parameters
    forced: str | None = None  # "required" or a function name: the request forced a call
    forced_by: str = ""  # "app" or "workbench"
    response_format: str | None = None  # "json_object" | "json_schema"
    format_schema: Mapping[str, Any] | None = None
    include_usage: bool = False  # a streamed request asked for the usage chunk
    usage_asked_by: str = ""  # "app" or "workbench"

    @property
    def structured(self) -> bool:
        """The answer must carry structure (a tool call, JSON): a cut leaves it broken, not short."""
        return bool(self.forced or self.response_format)


@dataclass(slots=True)
class Judgement:
    """Problems that fail the probe (first the parser ones), and notes that are information."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def symptom(self) -> Symptom:
        classes = [problem.symptom for problem in self.problems]
        return Symptom.PARSER if Symptom.PARSER in classes else classes[0]

    def detail(self, limit: int = 3) -> str:
        shown = "; ".join(problem.describe() for problem in self.problems[:limit])
        more = len(self.problems) - limit
        return shown + (f"; and {more} more" if more > 0 else "")

    def facts(self) -> list[dict[str, str]]:
        return [
            {"path": p.path, "symptom": str(p.symptom), "text": p.text} for p in self.problems[:_MAX_FACTS]
        ]


_MAX_FACTS = 20


def asked_of(app: AppContract, overrides: Mapping[str, Any]) -> Asked:
    """What a request built from the app's fields with `overrides` asks (a None override removes the
    app's field); a forcing or a usage chunk the app's own request does not ask for is the workbench's."""

    def sent(name: str) -> Any:
        return overrides.get(name, _UNSET)

    tools = {} if sent("tools") is None else app.tools
    choice = sent("tool_choice")
    if choice is _UNSET:
        choice = app.tool_choice
    if isinstance(choice, Mapping):
        function = choice.get("function")
        choice = function.get("name") if isinstance(function, Mapping) else None
    forced = choice if tools and choice not in (None, "none", "auto") else None
    options = sent("stream_options")
    include = isinstance(options, Mapping) and options.get("include_usage") is True
    return Asked(
        tools=tools,
        forced=str(forced) if forced else None,
        forced_by=("app" if forced == app.tool_choice else "workbench") if forced else "",
        response_format=None if sent("response_format") is None else app.response_format,
        format_schema=app.format_schema,
        include_usage=include,
        usage_asked_by=("app" if app.include_usage else "workbench") if include else "",
    )


_UNSET: Any = object()


def judge_answer(
    result: Classification, asked: Asked, app: AppContract, *, cut: bool, strict: bool = False
) -> Judgement:
    """The app-contract checks of one answer that arrived whole or as a complete stream.

    `cut`: the answer stopped at the workbench's own budget, so partial structure is not judged.
    `strict`: every departure from the spec fails, not only those in fields the app reads.
    """
    judgement = Judgement()
    stream = result.stream
    if stream is not None:
        calls = stream.tool_calls()
        judgement.problems += [Problem(path, Symptom.PARSER, text) for path, text in stream.call_problems]
        content, reasoning, fields = _stream_texts(stream)
        finish = stream.finish_reason
    else:
        message = _message(result.decoded)
        calls, unreadable = calls_in_message(message, "choices[0].message") if message else ([], [])
        judgement.problems += unreadable
        content = result.completion.content if result.completion else None
        reasoning, fields = _message_reasoning(message)
        finish = result.completion.finish_reason if result.completion else None
    _spec(judgement, result, app, strict=strict, content_read=content is not None)
    if cut and asked.structured:
        judgement.notes.append(
            "cut at the workbench's own budget (finish_reason length): tool calls and JSON not judged"
        )
        return judgement
    _tool_calls(judgement, calls, asked, finish, content, streamed=stream is not None)
    _structured(judgement, content, reasoning, asked, calls)
    _reasoning(judgement, content, reasoning, fields, calls, app, refusal=_refused(result))
    if stream is not None:
        _stream_usage(judgement, stream, asked, app)
    elif app.reads("usage") and result.completion is not None and result.completion.usage is None:
        judgement.problems.append(Problem("usage", Symptom.PARSER, "absent: the app reads usage"))
    return judgement


# The fields an app reads, as the spec check counts them (`Deviation.field`), by what it uses: a
# departure there fails; anywhere else it is information (`strict_schema` makes every one fail).
_READ_ALWAYS = (
    "$",
    "choices",
    "choices[]",
    "choices[].index",
    "choices[].message",
    "choices[].message.content",
    "choices[].message.role",
    "choices[].delta",
    "choices[].delta.content",
    "choices[].finish_reason",
)
_READ_BY_USE: Mapping[str, tuple[str, ...]] = {
    "tool_calls": ("choices[].message.tool_calls", "choices[].delta.tool_calls"),
    "usage": ("usage",),
    "refusal": ("choices[].message.refusal", "choices[].delta.refusal"),
    "logprobs": ("choices[].logprobs",),
}


def reads_field(app: AppContract, field: str) -> bool:
    """Whether the app reads `field` (a spec deviation's field, indices removed)."""
    if field in _READ_ALWAYS:
        return True
    prefixes = [prefix for use, group in _READ_BY_USE.items() if app.reads(use) for prefix in group]
    return any(field == prefix or field.startswith((prefix + ".", prefix + "[")) for prefix in prefixes)


_CONTENT_FIELDS = ("choices[].message.content", "choices[].delta.content")


def _spec(
    judgement: Judgement, result: Classification, app: AppContract, *, strict: bool, content_read: bool
) -> None:
    """Departures from the spec in fields the app reads fail; the content is the parser's to judge:
    text parts it could read are a note (the parser and the optional-field probe test the app's own)."""
    for deviation in result.deviations:
        if deviation.field == LIMIT_FIELD and not strict:
            continue
        if deviation.field in _CONTENT_FIELDS and content_read and not strict:
            judgement.notes.append(f"{deviation.describe()}: read as text (the parser joins text parts)")
            continue
        if deviation.absent_nullable and not strict:  # absent reads as null, which the spec allows there
            judgement.notes.append(f"{deviation.describe()}, where the spec allows null: read as null")
            continue
        if strict or reads_field(app, deviation.field):
            why = (
                "strict_schema"
                if strict and not reads_field(app, deviation.field)
                else "a field the app reads"
            )
            judgement.problems.append(
                Problem(
                    deviation.path,
                    Symptom.PARSER,
                    f"{deviation.words()} ({why})",
                )
            )


def _tool_calls(
    judgement: Judgement,
    calls: Sequence[ToolCall],
    asked: Asked,
    finish: str | None,
    content: str | None,
    *,
    streamed: bool,
) -> None:
    if not calls and not asked.forced:
        return
    problems = judge_calls(calls, asked.tools, forced=asked.forced, streamed=streamed)
    if asked.forced_by == "workbench":
        ignored = [p for p in problems if p.symptom is Symptom.QUALITY and "forced" in p.text]
        problems = [p for p in problems if p not in ignored]
        judgement.notes += [
            f"{p.describe()} (the workbench forced the call, the app does not: information)" for p in ignored
        ]
    judgement.problems += problems
    if calls and finish not in (None, "tool_calls"):
        judgement.notes.append(
            f'finish_reason "{finish}" beside {len(calls)} tool call(s) (valid: OpenAI itself does this)'
        )
    if calls and content == "":
        judgement.notes.append('content "" beside tool calls, not null (valid)')


def _structured(
    judgement: Judgement, content: str | None, reasoning: str, asked: Asked, calls: Sequence[ToolCall]
) -> None:
    """json_object: the content is a JSON object; json_schema: it validates against the app's schema."""
    if asked.response_format is None or calls:
        return
    path = "choices[0].message.content"
    text = (content or "").strip()
    if not text:
        if _json_object(reasoning) is not None:
            judgement.problems.append(
                Problem(path, Symptom.PARSER, "empty: the JSON arrived only in the reasoning field")
            )
        else:
            judgement.problems.append(Problem(path, Symptom.PARSER, "empty: no JSON answer to read"))
        return
    try:
        decoded = boundedjson.loads(text)
    except ValueError as exc:
        if text[:1] in "{[":
            judgement.problems.append(
                Problem(path, Symptom.PARSER, f"is not valid JSON ({str(exc).split(':')[0][:80]})")
            )
        else:
            judgement.problems.append(
                Problem(
                    path,
                    Symptom.QUALITY,
                    f"is prose, not JSON: response_format {asked.response_format} was ignored",
                )
            )
        return
    if not isinstance(decoded, dict):
        judgement.problems.append(Problem(path, Symptom.PARSER, "is JSON, but not an object"))
        return
    if asked.response_format == "json_schema" and asked.format_schema is not None:
        for inner, message in schema_errors(asked.format_schema, decoded, limit=1):
            judgement.problems.append(
                Problem(f"{path} (JSON){inner}", Symptom.QUALITY, f"breaks the app's schema: {message}")
            )


def _reasoning(
    judgement: Judgement,
    content: str | None,
    reasoning: str,
    fields: set[str],
    calls: Sequence[ToolCall],
    app: AppContract,
    *,
    refusal: bool,
) -> None:
    """The answer only in a reasoning field fails an app that reads content; a missing reasoning
    field fails an app that reads reasoning; which field carried it is noted (drift compares it)."""
    if fields:
        judgement.notes.append(f"reasoning in {', '.join(sorted(fields))}")
    if reasoning.strip() and not (content or "").strip() and not calls and not refusal:
        where = sorted(fields)[0] if fields else "reasoning"
        judgement.problems.append(
            Problem(
                "choices[0].message.content",
                Symptom.PARSER,
                f"empty: the answer arrived only in {where} (the app reads content)",
            )
        )
    if app.reads("reasoning") and not fields:
        judgement.problems.append(
            Problem(
                "choices[0].message." + "|".join(REASONING_FIELDS),
                Symptom.PARSER,
                "absent: the app reads reasoning and no reasoning field arrived",
            )
        )


def _stream_usage(judgement: Judgement, stream: StreamAssembly, asked: Asked, app: AppContract) -> None:
    """With include_usage asked by the app (or usage read), usage must arrive; where it arrived is a note."""
    wanted = asked.usage_asked_by == "app" or (app.reads("usage") and asked.include_usage)
    if stream.usage is None:
        if wanted:
            judgement.problems.append(
                Problem(
                    "usage",
                    Symptom.PARSER,
                    "absent from the stream: include_usage was asked and the app reads usage",
                )
            )
        elif asked.include_usage:
            judgement.notes.append(
                "usage did not arrive although include_usage was asked (the app does not read it)"
            )
        return
    if stream.usage_chunks > 1:
        judgement.notes.append(
            f"usage on {stream.usage_chunks} chunks (running usage), where the documented stream sends it "
            "once, after the last choice (tolerated: usage is read wherever it arrives)"
        )
    if stream.last_usage_choices:
        judgement.notes.append(
            f"the usage chunk carries {stream.last_usage_choices} choice(s) where the documented one has "
            "`choices: []` (tolerated: usage is read wherever it arrives)"
        )
    if stream.empty_choice_chunks:
        judgement.notes.append(f"{stream.empty_choice_chunks} chunk(s) with empty choices mid-stream (valid)")


def _message(decoded: Any) -> Mapping[str, Any] | None:
    if not isinstance(decoded, Mapping):
        return None
    choices = decoded.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        return None
    message = choices[0].get("message")
    return message if isinstance(message, Mapping) else None


def _message_reasoning(message: Mapping[str, Any] | None) -> tuple[str, set[str]]:
    if message is None:
        return "", set()
    fields = {name for name in REASONING_FIELDS if message.get(name)}
    texts = [message[name] for name in REASONING_FIELDS if isinstance(message.get(name), str)]
    return "".join(texts), fields


def _stream_texts(stream: StreamAssembly) -> tuple[str | None, str, set[str]]:
    choice = stream.choices.get(0)
    if choice is None:
        return None, "", set()
    return (choice.content if choice.saw_content else None), choice.reasoning, set(choice.reasoning_fields)


def _refused(result: Classification) -> bool:
    if result.stream is not None:
        choice = result.stream.choices.get(0)
        return bool(choice and choice.refusal)
    return bool(result.completion and result.completion.refusal)


def _json_object(text: str) -> Any:
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        return boundedjson.loads(text)
    except ValueError:
        return None


def request_fields(app_request: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
    """The app's fields for a request: `stream_options` only when it streams (the non-streaming
    probes send `stream: false`, which a documented endpoint refuses beside stream_options)."""
    fields = dict(app_request)
    if not stream:
        fields.pop("stream_options", None)
    return fields


def dumps_call(call: ToolCall, fallback_id: str) -> dict[str, Any]:
    """A call as the app sends it back in the round trip: an id, and arguments as a JSON string."""
    arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments or {})
    call_id = call.id if isinstance(call.id, str) and call.id else fallback_id
    return {"id": call_id, "type": "function", "function": {"name": str(call.name), "arguments": arguments}}
