"""Finding secrets where they must never be, and personal data where probes would send it.

Secrets (reports, notebooks, bundles, the history store): the values of every configured key
variable that is set (exact match, the strongest), in each form `core.redaction` redacts (URL-encoded,
base64, JSON-escaped: what a server echoing a header leaves), bearer tokens, and common provider key
formats. Personal data (probe prompts and templates, which the checklist says must be
sanitized): e-mail addresses, phone numbers, payment card numbers (Luhn-checked). A finding
names the file and line and shows the value only masked.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.redaction import FRAGMENT, KeyMatcher, key_forms, unescape_key_chars

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
# Personal data. Reserved example domains (RFC 2606/6761) are not anyone's address.
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b")
_NOT_PERSONAL_DOMAIN = re.compile(
    r"@(.+\.)?(example\.(com|org|net)|[^@\s]+\.(test|invalid|example|localhost))$", re.I
)
_PHONE = re.compile(
    r"(?<![\w+])(\+\d{1,3}[\s.-]?\(?\d{1,4}\)?([\s.-]?\d{2,4}){2,4}|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4})(?!\w)"
)
_CARD = re.compile(r"(?<!\d)(\d[ -]?){12,18}\d(?!\d)")
# One cheap pass first: a report with none of the formats' prefixes needs no pattern scan at all.
_MAYBE_KEY = re.compile(r"Bearer|sk-|AIza|AKIA|gh[pousr]_|xox[baprs]-")
_MIN_SECRET_LENGTH = 8  # shorter values of key variables are too likely to match by chance
# The wrong key `auth.invalid_key` sends on purpose: no secret, and an endpoint may echo it anywhere.
INVALID_KEY_PREFIX = "wb-invalid-"
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
    """Secrets in `text`, in line order: key values (whole, or a fragment of `FRAGMENT` characters
    or more, in any form `core.redaction` redacts, key characters written as JSON escapes too), then
    known formats.

    The whole text is searched at once (a report is a megabyte of mostly one-line JavaScript); a
    finding's line is counted only for what was found.
    """
    findings: list[SecretFinding] = []
    matcher = _matcher(secrets or {})
    seen: set[tuple[int, str]] = set()
    variants = [text]
    if matcher and "\\u" in text:
        variants.append(unescape_key_chars(text))
    for variant in variants:
        for found in matcher.find(variant):
            line, kind = _line_at(variant, found.start), found.describe()
            if (line, kind) not in seen:
                seen.add((line, kind))
                findings.append(SecretFinding(where, line, kind, mask(variant[found.start : found.end])))
    for kind, pattern in _PATTERNS if _MAYBE_KEY.search(text) else ():
        for match in pattern.finditer(text):
            token = match.group(1)
            if "REDACTED" in token or token.strip("x.*-_") == "" or token.startswith(INVALID_KEY_PREFIX):
                continue
            findings.append(SecretFinding(where, _line_at(text, match.start()), kind, mask(token)))
    return sorted(findings, key=lambda finding: finding.line)


@functools.lru_cache(maxsize=8)
def _cached_matcher(values: tuple[tuple[str, str], ...]) -> KeyMatcher:
    return KeyMatcher.for_keys(dict(values))


def _matcher(secrets: dict[str, str]) -> KeyMatcher:
    """One matcher per set of keys (a scan reads hundreds of files with the same ones)."""
    return _cached_matcher(tuple(sorted(secrets.items())))


def key_needles(secrets: dict[str, str]) -> dict[str, tuple[str, str]]:
    """What a search that cannot run the matcher looks for (a PostgreSQL store's text columns, in
    SQL): every form of every key value, and every piece of `FRAGMENT` characters of the raw value,
    longest first -> (variable, form name)."""
    needles: dict[str, tuple[str, str]] = {}
    for name, value in secrets.items():
        for label, form in key_forms(value).items():
            needles.setdefault(form, (name, label))
        for start in range(len(value) - FRAGMENT + 1):
            needles.setdefault(
                value[start : start + FRAGMENT], (name, f"a fragment of {FRAGMENT} characters")
            )
    return dict(sorted(needles.items(), key=lambda item: len(item[0]), reverse=True))


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def scan_personal_data(text: str, *, where: str) -> list[SecretFinding]:
    """E-mail addresses, phone numbers and card numbers in a prompt or template."""
    findings: list[SecretFinding] = []
    for line_number, line in enumerate(text.splitlines() or [text], start=1):
        for match in _EMAIL.finditer(line):
            if not _NOT_PERSONAL_DOMAIN.search(match.group(0)):
                findings.append(SecretFinding(where, line_number, "e-mail address", mask(match.group(0))))
        for match in _CARD.finditer(line):
            if _luhn(re.sub(r"\D", "", match.group(0))):
                findings.append(
                    SecretFinding(where, line_number, "payment card number", mask(match.group(0)))
                )
        for match in _PHONE.finditer(line):
            digits = re.sub(r"\D", "", match.group(0))
            if 9 <= len(digits) <= 15 and not _luhn_card_like(digits):
                findings.append(SecretFinding(where, line_number, "phone number", mask(match.group(0))))
    return findings


def _luhn(digits: str) -> bool:
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _luhn_card_like(digits: str) -> bool:
    return len(digits) >= 13 and _luhn(digits)


def scan_paths(paths: Sequence[Path], *, secrets: dict[str, str] | None = None) -> list[SecretFinding]:
    """Scan files and folders (recursively); binary files are searched for the exact key values only."""
    findings: list[SecretFinding] = []
    for path in _files(paths):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:_BINARY_SNIFF]:  # a database or image: key values in any form are still a leak
            findings.extend(_binary_findings(path, data, secrets or {}))
            continue
        findings.extend(scan_text(data.decode("utf-8", "replace"), where=str(path), secrets=secrets))
    return findings


def scan_project(config: Any, paths: Sequence[Path] = ()) -> tuple[list[Path], list[SecretFinding]]:
    """`workbench scan`: `paths` (default: the project's reports/ and data/) for secrets, and the probe
    prompts for personal data; returns (what was scanned, the findings). A path that does not exist
    is a `ConfigError`: a typo must not read as "no secret" when nothing was scanned."""
    from workbench.core.errors import ConfigError

    for path in paths:
        if not path.exists():
            raise ConfigError("not found: nothing to scan there", path=path)
    defaults = (config.project / "reports", config.project / "data")
    targets = list(paths) or [path for path in defaults if path.exists()]
    findings = scan_paths(targets, secrets=config.key_values()) + personal_data_in_prompts(config)
    return targets, findings


def _binary_findings(path: Path, data: bytes, secrets: dict[str, str]) -> Iterator[SecretFinding]:
    """One finding per key variable found in a binary file, naming the first form seen."""
    reported: set[str] = set()
    for form, (name, label) in key_needles(secrets).items():
        if name not in reported and form.encode() in data:
            reported.add(name)
            detail = "binary file" if label == "raw" else f"{label}, binary file"
            yield SecretFinding(str(path), 0, f"value of ${name} ({detail})", mask(form))


def _files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from (child for child in sorted(path.rglob("*")) if child.is_file())
        elif path.is_file():
            yield path


def check_probe_prompts(environments: Iterable[Any], secrets: dict[str, str], *, source: Path | None) -> None:
    """Refuse to send a probe whose prompt or request template carries personal data or a secret.

    The checklist: a probe "does not include production user data" and uses "a sanitized prompt".
    Raises `ConfigError` naming the environment's field; the value itself is shown masked.
    """
    from workbench.core.errors import ConfigError

    for env in environments:
        if not env.app_request:
            continue
        text = json.dumps(env.app_request, ensure_ascii=False, indent=1)
        where = f"environments.{env.name}.app_request"
        findings = scan_personal_data(text, where=where) + scan_text(text, where=where, secrets=secrets)
        if findings:
            first = findings[0]
            raise ConfigError(
                f"probe requests must be sanitized, but this one holds a {first.kind} ({first.masked}); "
                "replace it with a neutral placeholder",
                path=source or "<built-in default>",
                field=where,
            )


def personal_data_in_prompts(config: Any) -> list[SecretFinding]:
    """Personal data in what probes send: each environment's `app_request` and its manifest's templates."""
    findings: list[SecretFinding] = []
    for env in config.environments.values():
        if env.app_request:
            text = json.dumps(env.app_request, ensure_ascii=False, indent=1)
            findings += scan_personal_data(
                text, where=f"{config.source or '<built-in default>'}: environments.{env.name}.app_request"
            )
        if env.manifest is not None and env.manifest.exists():
            findings += _template_findings(env.manifest)
    return findings


def _template_findings(manifest: Path) -> list[SecretFinding]:
    from workbench.core.errors import ConfigError
    from workbench.core.tomlfile import load_toml

    try:
        request = load_toml(manifest).get("request", {})
    except ConfigError:
        return []  # `bundle capture` reports a broken manifest; the scan looks only for personal data
    findings: list[SecretFinding] = []
    for key in ("payload_template", "prompt_template"):
        template = manifest.parent / str(request.get(key, ""))
        if request.get(key) and template.is_file():
            findings += scan_personal_data(
                template.read_text(encoding="utf-8", errors="replace"), where=str(template)
            )
    return findings
