"""Each report notebook is given what its parameters cell declares, as papermill reads that cell.

`REPORT_NOTEBOOKS` names the parameters the audit passes each notebook; these tests hold it to the
notebooks themselves, so a parameter added, renamed or retyped in a notebook fails here, not in a
scheduled audit.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.paths import REPO
from workbench import HistoryStore, default_config
from workbench.probes.engine import RunSummary
from workbench.render.audit import report_parameters
from workbench.render.reportnames import REPORT_NOTEBOOKS

NOTEBOOKS = REPO / "notebooks"


@pytest.fixture(scope="module")
def supplied(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Every value the audit can give a notebook, for an audit of the default configuration."""
    folder = tmp_path_factory.mktemp("store")
    summary = RunSummary(
        run_id="20261127T060000Z-abc123", environments=("reference",), results=(), verdicts=()
    )
    with HistoryStore(f"sqlite:///{folder}/h.sqlite") as store:
        return report_parameters(default_config(), summary, store)


def declared_by(name: str) -> dict[str, dict[str, Any]]:
    """The parameters cell as papermill reads it: name -> {default, inferred_type_name, ...}."""
    import papermill  # seconds to import: only these tests pay for it

    return papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))


def test_every_notebook_is_a_report_and_every_report_a_notebook() -> None:
    reports = [name for name, _, _ in REPORT_NOTEBOOKS]
    assert sorted(reports) == sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize(("name", "passed"), [pytest.param(n, p, id=n) for n, _, p in REPORT_NOTEBOOKS])
def test_a_notebook_is_passed_exactly_the_declared_parameters_the_audit_can_supply(
    name: str, passed: tuple[str, ...], supplied: dict[str, object]
) -> None:
    declared = declared_by(name)
    assert set(passed) <= set(declared), f"{name} does not declare {set(passed) - set(declared)}"
    assert set(passed) == set(declared) & set(supplied)  # the rest keep the notebook's defaults


@pytest.mark.parametrize(("name", "passed"), [pytest.param(n, p, id=n) for n, _, p in REPORT_NOTEBOOKS])
def test_a_notebook_s_defaults_have_the_type_of_what_the_audit_passes(
    name: str, passed: tuple[str, ...], supplied: dict[str, object]
) -> None:
    declared = declared_by(name)
    for parameter in passed:
        assert declared[parameter]["inferred_type_name"] == type(supplied[parameter]).__name__, parameter
    for parameter, cell in declared.items():
        assert cell["default"], f"{name}: {parameter} has no default"  # runs top to bottom as it is
