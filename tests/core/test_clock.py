"""Timestamps: one exact form in files, one readable form in tables."""

from __future__ import annotations

from workbench.core import clock


def test_a_table_shows_a_time_to_the_second_and_provenance_keeps_the_exact_form() -> None:
    """Issue 22: tables showed `2026-12-06T23:25:20.635Z`."""
    assert clock.readable("2026-12-06T23:25:20.635Z") == "2026-12-06 23:25:20"
    assert clock.readable("2026-12-07T00:25:20+01:00") == "2026-12-06 23:25:20"  # in UTC
    assert clock.readable(None) == "-" and clock.readable("soon") == "soon"
