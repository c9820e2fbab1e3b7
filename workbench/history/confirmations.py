"""Operator confirmations: the facts software must not infer, recorded with who, when and until when.

A successful response proves nothing about rate limits, quotas or billing; the checklist asks for
an explicit operator confirmation instead. An expired confirmation counts as missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from workbench.core import clock
from workbench.core.errors import UsageError

# item id (interface) -> what the operator confirms
OPERATOR_ITEMS: Mapping[str, str] = {
    "rate-limits": "rate limits and quotas for this integration are known and sufficient",
    "billing": "billing impact and cost controls are in place",
    "docs-reviewed": "the current API documentation was read: endpoint, auth, fields, envelope, errors",
    "traffic-shift": "a small traffic shift was done and watched (step 8)",
}

LIMITS_ITEMS = ("rate-limits", "billing")


@dataclass(frozen=True, slots=True)
class Confirmation:
    """One operator statement about one environment."""

    env: str
    item: str
    by: str
    note: str
    confirmed_at: str  # ISO 8601 UTC
    expires_at: str | None = None

    def is_current(self, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return True
        return clock.parse_iso(self.expires_at) > (now or clock.now())

    def describe(self) -> str:
        expiry = f", expires {self.expires_at[:10]}" if self.expires_at else ""
        note = f": {self.note}" if self.note else ""
        return f"{self.item} confirmed by {self.by} on {self.confirmed_at[:10]}{expiry}{note}"


def new_confirmation(
    env: str,
    item: str,
    *,
    by: str,
    note: str = "",
    expires_days: float | None = None,
    now: datetime | None = None,
) -> Confirmation:
    """Validate and stamp a confirmation (an unknown item is a usage error listing the known ones)."""
    if item not in OPERATOR_ITEMS:
        raise UsageError(f"unknown confirmation item {item!r} (known: {', '.join(OPERATOR_ITEMS)})")
    if not by.strip():
        raise UsageError("--by must name who confirms")
    if expires_days is not None and expires_days <= 0:
        raise UsageError("--expires must be a positive number of days")
    stamp = now or clock.now()
    expires = stamp + timedelta(days=expires_days) if expires_days is not None else None
    return Confirmation(
        env,
        item,
        by.strip(),
        note.strip(),
        clock.iso(stamp, "seconds"),
        clock.iso(expires, "seconds") if expires else None,
    )


def current_by_item(
    confirmations: Iterable[Confirmation], now: datetime | None = None
) -> dict[str, Confirmation]:
    """The newest current confirmation per item (an expired newest one hides nothing older: it is gone)."""
    latest: dict[str, Confirmation] = {}
    for confirmation in sorted(confirmations, key=lambda c: c.confirmed_at):
        latest[confirmation.item] = confirmation
    return {item: c for item, c in latest.items() if c.is_current(now)}
