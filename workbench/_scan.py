"""Finding secrets where they must never be: reports, notebooks, bundles, the history store.

Three kinds of evidence: the values of every configured key variable that is set (exact match,
the strongest), bearer tokens, and common provider key formats. A finding names the file and
line, and shows the secret only masked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# Provider key formats (prefix + enough entropy); placeholders like sk-...REDACTED do not match.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("bearer token", re.compile(r"Bearer\s+([A-Za-z0-9._~+/=-]{20,})")),
    ("OpenAI-style key", re.compile(r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})")),
    ("Anthropic key", re.compile(r"\b(sk-ant-[A-Za-z0-9_-]{20,})")),
    ("Google API key", re.compile(r"\b(AIza[0-9A-Za-z_-]{35})")),
    ("AWS access key", re.compile(r"\b(AKIA[0-9A-Z]{16})\b")),
    ("GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,})")),
    ("Slack token", re.compile(r"\b(xox[baprs]-[A-Za-z0-9-]{10,})")),
)
_MIN_SECRET_LENGTH = 8  # shorter values of key variables are too likely to match by chance
_BINARY_SNIFF = 4096


@dataclass(frozen=True, slots=True)
class SecretFinding:
    """Where a secret was seen; `masked` never reveals more than its first four characters."""

    path: str
    line: int
    kind: str
    masked: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} ({self.masked})"


def mask(secret: str) -> str:
    return f"{secret[:4]}…[{len(secret)} chars]"


def known_secrets(variable_names: Iterable[str]) -> dict[str, str]:
    """Variable name -> value for every named variable that is set (too-short values are skipped)."""
    found = {}
    for name in variable_names:
        value = os.environ.get(name, "")
        if len(value) >= _MIN_SECRET_LENGTH:
            found[name] = value
    return found


def scan_text(text: str, *, where: str, secrets: dict[str, str] | None = None) -> list[SecretFinding]:
    """Secrets in `text`: exact values of key variables first, then known formats."""
    findings: list[SecretFinding] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        for name, value in (secrets or {}).items():
            if value in line:
                findings.append(SecretFinding(where, line_number, f"value of ${name}", mask(value)))
        for kind, pattern in _PATTERNS:
            for match in pattern.finditer(line):
                token = match.group(1)
                if "REDACTED" in token or token.strip("x.*-_") == "":
                    continue
                findings.append(SecretFinding(where, line_number, kind, mask(token)))
    return findings


def scan_paths(paths: Sequence[Path], *, secrets: dict[str, str] | None = None) -> list[SecretFinding]:
    """Scan files and folders (recursively); binary files are searched for the exact key values only."""
    findings: list[SecretFinding] = []
    for path in _files(paths):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:_BINARY_SNIFF]:  # a database or image: exact values are still a leak
            findings.extend(
                SecretFinding(str(path), 0, f"value of ${name} (binary file)", mask(value))
                for name, value in (secrets or {}).items()
                if value.encode() in data
            )
            continue
        findings.extend(scan_text(data.decode("utf-8", "replace"), where=str(path), secrets=secrets))
    return findings


def _files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from (child for child in sorted(path.rglob("*")) if child.is_file())
        elif path.is_file():
            yield path
