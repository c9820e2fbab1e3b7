"""Product-quality acceptance: outputs that are valid but must not pass (the `quality` class).

The built-in check is deliberately small and text-agnostic; a team replaces it with
`acceptance = "package.module:function"`, a function `(body, content) -> str | None` returning
why the answer is unacceptable, or None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Acceptance = Callable[[Mapping[str, Any], "str | None"], "str | None"]


def default_acceptance(body: Mapping[str, Any], content: str | None) -> str | None:
    """Content not empty, not a refusal.

    Never the token limit: an answer cut at the probe's own budget is the workbench's choice, and
    one cut at the app's own budget (`app_request`) is judged before this check runs.
    """
    choices = body.get("choices")
    first: Mapping[str, Any] = (
        choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], Mapping) else {}
    )
    message: Mapping[str, Any] = first["message"] if isinstance(first.get("message"), Mapping) else {}
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal.strip():
        return f"the model refused: {refusal.strip()[:120]}"
    if message.get("tool_calls"):
        return None
    if content is None or not content.strip():
        return "the assistant content is empty"
    return None
