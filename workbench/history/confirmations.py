"""Operator confirmations: the facts software must not infer, recorded with who, when and until when.

A successful response proves nothing about rate limits, quotas or billing; the checklist asks for
an explicit operator confirmation instead. An expired confirmation counts as missing. `--by` is
what the person declares, and anyone can type any name: so beside it every confirmation records
what the machine saw (the OS user, the host, the configuration's digest), and the store keeps it
under the project that recorded it (`core.projectname`).
"""

from __future__ import annotations

import getpass
import os
import socket
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
    os_user: str = ""  # who the machine says ran `workbench confirm` ("" in rows from before version 3)
    host: str = ""  # where it ran
    config_digest: str = ""  # sha256 of the environments file it read ("" for the built-in default)

    def is_current(self, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return True
        return clock.parse_iso(self.expires_at) > (now or clock.now())

    def describe(self) -> str:
        expiry = f", expires {self.expires_at[:10]}" if self.expires_at else ""
        note = f": {self.note}" if self.note else ""
        when = f"on {self.confirmed_at[:10]}{expiry}"
        return f"{self.item} confirmed by {self.by} ({self.recorded()}) {when}{note}"

    def recorded(self) -> str:
        """What the machine recorded beside the declared name."""
        if not (self.os_user or self.host):
            return "declared; no OS user or host recorded (before version 3)"
        config = f"config {self.config_digest[:12]}" if self.config_digest else "built-in default config"
        return f"declared; OS user {self.os_user or '?'} on {self.host or '?'}, {config}"


def new_confirmation(
    env: str,
    item: str,
    *,
    by: str,
    note: str = "",
    expires_days: float | None = None,
    now: datetime | None = None,
    config_digest: str = "",
) -> Confirmation:
    """Validate and stamp a confirmation (an unknown item is a usage error listing the known ones),
    with the OS user and host running this, and `config_digest` (the environments file's sha256)."""
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
        os_user=_os_user(),
        host=socket.gethostname(),
        config_digest=config_digest,
    )


def _os_user() -> str:
    """The login name of this process (its uid when the system has no name for it)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def current_by_item(
    confirmations: Iterable[Confirmation], now: datetime | None = None
) -> dict[str, Confirmation]:
    """The newest current confirmation per item (an expired newest one hides nothing older: it is gone)."""
    latest: dict[str, Confirmation] = {}
    for confirmation in sorted(confirmations, key=lambda c: c.confirmed_at):
        latest[confirmation.item] = confirmation
    return {item: c for item, c in latest.items() if c.is_current(now)}
