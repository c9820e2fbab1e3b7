"""The behaviours the embedded reference endpoint can simulate: one conformant, the rest real drift.

Scenarios compose: an environment may list several (`scenario = ["missing-usage", "slow"]`), the way
a real gateway release drifts in more than one place at once. The names are interface.
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
        "finish_reason length"
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
