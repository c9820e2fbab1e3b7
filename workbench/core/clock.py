"""UTC timestamps as the workbench writes them everywhere: ISO 8601 with a `Z` (`2026-11-27T04:35:03.123Z`).

The store, manifests, bundles and reports all compare times as text, which is exact only when every
writer uses this one form; so every timestamp is written and read here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def utc(moment: datetime) -> datetime:
    """The same moment in UTC; a naive time is taken as UTC (the store's zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def now() -> datetime:
    """The current moment, timezone-aware in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """The current UTC calendar day (what dated report folders are judged by)."""
    return now().date()


def iso(moment: datetime, timespec: str = "milliseconds") -> str:
    """`moment` in the workbench's form: UTC, `Z`, to `timespec` ("milliseconds" or "seconds")."""
    return utc(moment).isoformat(timespec=timespec).replace("+00:00", "Z")


def now_iso(timespec: str = "milliseconds") -> str:
    """The current moment in the workbench's form (what runs, results and manifests are stamped with)."""
    return iso(now(), timespec)


def from_epoch(seconds: float) -> datetime:
    """Seconds since the Unix epoch as an aware UTC time (OverflowError, OSError or ValueError
    when out of range, as `datetime.fromtimestamp` raises)."""
    return datetime.fromtimestamp(seconds, UTC)


def parse_iso(text: str) -> datetime:
    """A timestamp the workbench (or a log in ISO 8601, `Z` or offset) wrote, as an aware UTC time.

    Raises ValueError for text that is not ISO 8601, as `datetime.fromisoformat` does.
    """
    stripped = text.strip()
    if stripped[-1:] in ("Z", "z"):
        stripped = stripped[:-1] + "+00:00"
    return utc(datetime.fromisoformat(stripped))


def parse_day(text: str) -> date:
    """A UTC calendar day written `YYYY-MM-DD` (the day part of a timestamp, a dated folder's name).

    Raises ValueError for anything else, impossible days (`2026-02-30`) included.
    """
    return date.fromisoformat(text)


def readable(text: str | None) -> str:
    """A stored timestamp as a table shows it: `2026-12-06 23:25:20`, UTC (the column says so),
    to the second; the exact form stays for provenance. Text that is not a timestamp is shown as is."""
    if not text:
        return "-"
    try:
        return f"{parse_iso(text):%Y-%m-%d %H:%M:%S}"
    except ValueError:
        return text
