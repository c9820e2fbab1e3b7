"""Canary keys: realistic-looking, unique per test session, built at run time so none is ever committed."""

from __future__ import annotations

import secrets


def canary_key(label: str) -> str:
    """An OpenAI-shaped key (`sk-<label>-<32 hex>`) that scanners and leak checks will recognise."""
    return "sk-" + f"{label}-canary-" + secrets.token_hex(16)
