"""The behaviours the embedded reference endpoint can simulate: one conformant, the rest real drift.

Scenarios compose: an environment may list several (`scenario = ["missing-usage", "slow"]`), the way
a real gateway release drifts in more than one place at once. The names are interface.

When two conflict, one wins, the same way in the JSON body and the stream:
- `gateway-html-errors` over `flat-errors`; `content-moved` over `content-array`, tool calls and
  reasoning (the legacy shape has no message to carry them);
- `missing-usage` over `usage-missing-with-include` over `usage-every-chunk` (the last two only
  conflict when the request asks for `include_usage`);
- `tools-ignored` over every tool-call scenario (no call is left to drift); `format-rejected` over
  `format-ignored` and `format-invalid-json` for json_schema (refused before any answer), and
  `format-ignored` over `format-invalid-json` (prose: no JSON to cut);
- `tool-arguments-object` over `-invalid-json`, `-duplicated`, `-null-in-stream` and `-one-chunk` (the
  object the arguments encode, whole in the first delta); `-null-in-stream` over `-duplicated`, and
  with `-one-chunk` only the first delta, null; `-duplicated` over `-one-chunk` (a break wins over the
  valid variant that would hide it), and `finish-reason-empty` over `tool-calls-finish-stop`;
- `reasoning-renamed` over `reasoning-model` (both spend the hidden tokens; the field is `reasoning`);
  `reasoning-only-answer` with either puts the reasoning text, then the answer, in that field;
- `parallel-tool-calls` calls one tool when the request names one or sets `parallel_tool_calls` false;
- `stream-error-in-200` cuts after two answer pieces, words or argument fragments alike;
- `format-rejected` and `tool-result-content-null-rejected` refuse even under `lenient-validation`
  (a model's refusal, not validation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class Scenario(StrEnum):
    CONFORMANT = "conformant"
    MISSING_USAGE = "missing-usage"
    CONTENT_MOVED = "content-moved"
    AUTH_NOT_ENFORCED = "auth-not-enforced"
    LENIENT_VALIDATION = "lenient-validation"
    GATEWAY_HTML_ERRORS = "gateway-html-errors"
    SLOW = "slow"
    STREAM_WITHOUT_DONE = "stream-without-done"
    STREAM_ERROR_IN_200 = "stream-error-in-200"
    USAGE_EVERY_CHUNK = "usage-every-chunk"
    FLAT_ERRORS = "flat-errors"
    CONTENT_ARRAY = "content-array"
    REASONING_MODEL = "reasoning-model"
    MAX_COMPLETION_TOKENS_ONLY = "max-completion-tokens-only"
    FIXED_SAMPLING = "fixed-sampling"
    VERBOSE_MODEL = "verbose-model"
    DONE_WITHOUT_BLANK_LINE = "done-without-blank-line"
    # The app contract (issue 19): tool calls, structured outputs, reasoning fields, stream usage.
    TOOLS_IGNORED = "tools-ignored"
    TOOL_DELTAS_WITHOUT_INDEX = "tool-deltas-without-index"
    TOOL_ARGUMENTS_OBJECT = "tool-arguments-object"
    TOOL_ARGUMENTS_INVALID_JSON = "tool-arguments-invalid-json"
    TOOL_ARGUMENTS_DUPLICATED = "tool-arguments-duplicated"
    TOOL_ARGUMENTS_NULL_IN_STREAM = "tool-arguments-null-in-stream"
    TOOL_CALL_WITHOUT_ID = "tool-call-without-id"
    TOOL_RESULT_CONTENT_NULL_REJECTED = "tool-result-content-null-rejected"
    FORMAT_IGNORED = "format-ignored"
    FORMAT_INVALID_JSON = "format-invalid-json"
    FORMAT_REJECTED = "format-rejected"
    REASONING_RENAMED = "reasoning-renamed"
    REASONING_ONLY_ANSWER = "reasoning-only-answer"
    USAGE_MISSING_WITH_INCLUDE = "usage-missing-with-include"
    FINISH_REASON_EMPTY = "finish-reason-empty"
    # Valid variants real servers send: the probes must pass each.
    EMPTY_CHOICES_CHUNKS = "empty-choices-chunks"
    PARALLEL_TOOL_CALLS = "parallel-tool-calls"
    TOOL_CALLS_FINISH_STOP = "tool-calls-finish-stop"
    TOOL_CALLS_EMPTY_CONTENT = "tool-calls-empty-content"
    TOOL_ARGUMENTS_ONE_CHUNK = "tool-arguments-one-chunk"


SCENARIO_HELP: Mapping[Scenario, str] = {
    Scenario.CONFORMANT: "follows the documented chat-completions contract",
    Scenario.MISSING_USAGE: "omits `usage` from responses and streams (optional metadata that apps rely on)",
    Scenario.CONTENT_MOVED: "puts the text at choices[0].text (legacy completions shape)",
    Scenario.AUTH_NOT_ENFORCED: "answers requests with a missing or wrong key",
    Scenario.LENIENT_VALIDATION: "accepts requests missing required fields or with out-of-range values",
    Scenario.GATEWAY_HTML_ERRORS: "returns errors as an HTML gateway page instead of the JSON error envelope",
    Scenario.SLOW: "delays every response (latency_ms, 1500 ms when unset)",
    Scenario.STREAM_WITHOUT_DONE: "ends SSE streams without the `data: [DONE]` terminator",
    Scenario.STREAM_ERROR_IN_200: "breaks streams after two words with an in-band `event: error` (Groq)",
    Scenario.USAGE_EVERY_CHUNK: "puts running `usage` on every stream chunk, no usage-only chunk (vLLM)",
    Scenario.FLAT_ERRORS: 'sends flat `{"object": "error", ...}` errors, integer `code` (vLLM, Mistral)',
    Scenario.CONTENT_ARRAY: "returns message.content as an array of text parts instead of a string",
    Scenario.REASONING_MODEL: (
        "spends 64 hidden reasoning tokens before it answers: a smaller budget gets empty content, "
        "finish_reason length; sends a short reasoning text in `reasoning_content` first (DeepSeek, vLLM)"
    ),
    Scenario.MAX_COMPLETION_TOKENS_ONLY: (
        "rejects `max_tokens` (400 unsupported_parameter: use `max_completion_tokens`), as OpenAI's "
        "reasoning models do"
    ),
    Scenario.FIXED_SAMPLING: (
        "rejects `temperature` and `top_p` other than 1 (400 unsupported_value), as OpenAI's reasoning "
        "models do"
    ),
    Scenario.VERBOSE_MODEL: "answers at length: a small budget cuts the answer (finish_reason length)",
    Scenario.DONE_WITHOUT_BLANK_LINE: (
        "ends streams with `data: [DONE]` but no closing blank line (saved bodies, some proxies)"
    ),
    Scenario.TOOLS_IGNORED: (
        "answers prose with finish_reason stop even when a tool call is forced (llama.cpp #11988; "
        "llama-server answered tool_choice required with prose)"
    ),
    Scenario.TOOL_DELTAS_WITHOUT_INDEX: (
        "streams tool-call deltas without `index` (openai-python #2806, vercel/ai PR #15879); "
        "non-streaming calls are whole"
    ),
    Scenario.TOOL_ARGUMENTS_OBJECT: (
        "sends `function.arguments` as a JSON object, not a string: whole in the first delta when "
        "streaming (llama.cpp #20198, text-generation-inference #2136)"
    ),
    Scenario.TOOL_ARGUMENTS_INVALID_JSON: (
        "sends tool arguments that are not valid JSON (the closing brace missing), streamed and not "
        "(vLLM #9693, #31501; llama.cpp #22072)"
    ),
    Scenario.TOOL_ARGUMENTS_DUPLICATED: (
        "streams the whole arguments in a call's first delta and then the fragments too: they "
        "reassemble to the JSON twice (vLLM #51697, LiteLLM #7621)"
    ),
    Scenario.TOOL_ARGUMENTS_NULL_IN_STREAM: (
        "streams every tool-argument fragment as null; non-streaming calls are whole (LiteLLM #20711)"
    ),
    Scenario.TOOL_CALL_WITHOUT_ID: (
        "sends tool calls without an `id`, in the message and in a call's first delta (continuedev #13225)"
    ),
    Scenario.TOOL_RESULT_CONTENT_NULL_REJECTED: (
        "rejects (400) a request whose assistant message has `content: null`, as the app sends its tool "
        "calls back (mistral-common #324)"
    ),
    Scenario.FORMAT_IGNORED: (
        "ignores `response_format`: prose content with 200 (llama.cpp #11988, ollama #10001, vLLM #53469)"
    ),
    Scenario.FORMAT_INVALID_JSON: (
        "answers JSON mode with JSON cut before its closing brace, 200, finish_reason stop "
        "(tt-inference-server #3199, vllm-mlx #538)"
    ),
    Scenario.FORMAT_REJECTED: (
        "rejects `response_format` json_schema (400, param response_format: supported formats: "
        "json_object); json_object still works (openai-node #439)"
    ),
    Scenario.REASONING_RENAMED: (
        "like reasoning-model, but the reasoning text is under `reasoning`, not `reasoning_content` "
        "(vLLM #27752, #33402)"
    ),
    Scenario.REASONING_ONLY_ANSWER: (
        'puts the answer only in `reasoning_content` and sends `content` "", finish_reason stop (vLLM #53469)'
    ),
    Scenario.USAGE_MISSING_WITH_INCLUDE: (
        "sends no usage anywhere in a stream that asked for `include_usage`; non-streaming usage "
        "stays (LiteLLM #8450, #11915, #17136)"
    ),
    Scenario.FINISH_REASON_EMPTY: (
        'sends `finish_reason: ""` where the spec wants stop, length or tool_calls (sglang #3912)'
    ),
    Scenario.EMPTY_CHOICES_CHUNKS: (
        "valid: stream chunks with `choices: []` before and amid the answer, the first with "
        "`prompt_filter_results` (Azure OpenAI; pydantic-ai #164)"
    ),
    Scenario.PARALLEL_TOOL_CALLS: (
        "valid: calls the first two offered tools at once (indices 0 and 1), their streamed argument "
        "fragments interleaved (OpenAI's parallel function calling)"
    ),
    Scenario.TOOL_CALLS_FINISH_STOP: (
        'valid: `finish_reason: "stop"` beside tool calls (sglang #2877, ollama PR #5995; OpenAI '
        "itself sometimes)"
    ),
    Scenario.TOOL_CALLS_EMPTY_CONTENT: (
        'valid: `content: ""` instead of null beside tool calls (Mistral\'s API)'
    ),
    Scenario.TOOL_ARGUMENTS_ONE_CHUNK: (
        "valid: streamed tool arguments arrive whole in the call's first delta (ollama #11633, "
        "huggingface.js PR #1512)"
    ),
}

SLOW_DEFAULT_MS = 1500.0
REASONING_TOKENS = 64  # what `reasoning-model` spends before its first visible token

# The drift the default `reference-drifted` environment shows: one failing class per probe group.
DRIFTED_DEFAULT: tuple[Scenario, ...] = (
    Scenario.CONTENT_MOVED,
    Scenario.AUTH_NOT_ENFORCED,
    Scenario.LENIENT_VALIDATION,
    Scenario.GATEWAY_HTML_ERRORS,
    Scenario.MISSING_USAGE,
)


def parse_scenarios(value: str | Iterable[str]) -> frozenset[Scenario]:
    """Names to scenarios; raises ValueError naming the unknown one and listing the known."""
    names = [value] if isinstance(value, str) else list(value)
    result: set[Scenario] = set()
    for name in names:
        try:
            result.add(Scenario(name))
        except ValueError:
            known = ", ".join(s.value for s in Scenario)
            raise ValueError(f"unknown scenario {name!r} (known: {known})") from None
    return frozenset(result or {Scenario.CONFORMANT})
