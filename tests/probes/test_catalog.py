"""The catalog is the one list of probes: each declares its traits, and the README's Probes table
says the same (issue 19: readiness, drift and the reports read probe ids from the catalog)."""

from __future__ import annotations

import re

from tests.paths import REPO
from workbench.core.appcontract import USES
from workbench.core.models import AREA_TITLES
from workbench.probes.catalog import CATALOG, steps_of
from workbench.rollback.readiness import STEP_PROBES, TITLES


def readme_probe_rows() -> dict[str, tuple[str, str]]:
    """Probe id -> (areas, steps) as the README's "Probes" table gives them."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Probes\n", 1)[1].strip().split("\n\n", 1)[0]
    rows = {}
    for line in section.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def test_every_probe_gates_a_readiness_step() -> None:
    for probe in CATALOG.values():
        assert probe.steps, f"{probe.id} gates no readiness step: declare steps=(...)"
        assert all(1 <= step <= len(TITLES) for step in probe.steps), probe.id


def test_readiness_reads_its_probes_from_the_catalog() -> None:
    assert steps_of() == STEP_PROBES
    assert set(STEP_PROBES[4]) == {p for p in CATALOG if p.startswith(("auth.", "errors."))}
    assert "streaming.sse" in STEP_PROBES[3] and "streaming.sse" in STEP_PROBES[5]


def test_every_probe_has_a_readme_row_with_its_steps() -> None:
    rows = readme_probe_rows()
    assert list(rows) == list(CATALOG), "the README's Probes table lists the catalog, in catalog order"
    for probe_id, (_areas, steps) in rows.items():
        declared = ", ".join(str(step) for step in CATALOG[probe_id].steps)
        assert steps == declared, f"README says {probe_id} gates {steps}, the catalog says {declared}"


def test_every_probe_declares_what_it_exercises_in_the_uses_vocabulary() -> None:
    for probe in CATALOG.values():
        assert probe.exercises <= set(USES), probe.id
        assert probe.version >= 1
    shaped = {p.id for p in CATALOG.values() if p.shaped}
    assert {"endpoint.minimal", "request.tool_call", "streaming.sse"} <= shaped
    assert not any(p.startswith(("auth.", "errors.")) for p in shaped)  # error envelopes


def test_areas_are_the_checklists_seven() -> None:
    titles = set(AREA_TITLES.values())
    assert len(titles) == 7
    for probe in CATALOG.values():
        assert {probe.area, *probe.also} <= set(AREA_TITLES), probe.id
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", probe.id), probe.id  # ids are interface: area.what
