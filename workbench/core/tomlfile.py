"""TOML files people write (environments, trigger rules, manifests), read with one-line errors.

A scheduler's log shows one line, so every problem with such a file (missing, unreadable, not
UTF-8, malformed) is one `ConfigError` naming the file and, for malformed TOML, the line.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from workbench.core.errors import ConfigError

_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def load_toml(path: Path, *, not_found: str = "file not found") -> dict[str, Any]:
    """The tables of the TOML file at `path`; `not_found` is the message for a missing file."""
    return parse_toml(read_text(path, not_found=not_found), source=path)


def read_text(path: Path, *, not_found: str = "file not found") -> str:
    """The text of a file people write (UTF-8): missing, unreadable or undecodable is a `ConfigError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(not_found, path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", path=path) from None


def parse_toml(text: str, *, source: Path) -> dict[str, Any]:
    """The tables of TOML `text` read from `source` (a file, or a `<built-in ...>` name)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_line_message(exc, text), path=source) from None


def _line_message(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """tomllib says "(at line 3, column 5)" or "(at end of document)": always name a line."""
    message = str(exc)
    match = _AT_LINE.search(message)
    if match:
        reason = message[: match.start()].strip()
        return f"malformed TOML at line {match.group(1)}, column {match.group(2)}: {reason}"
    reason = message.replace("(at end of document)", "").strip()
    return f"malformed TOML at line {text.count(chr(10)) + 1} (end of file): {reason}"
