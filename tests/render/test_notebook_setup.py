"""What every report notebook's first cell does: charts for the right front end, the project folder."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pytest

from workbench import setup_notebook


def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "environments.toml").write_text('[environments.r]\nbase_url = "embedded"\n')
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def test_a_kernel_started_in_notebooks_works_from_the_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root / "notebooks")  # where JupyterLab starts the kernel
    setup_notebook()
    assert Path.cwd() == root


def test_elsewhere_the_working_folder_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    setup_notebook()
    assert Path.cwd() == tmp_path


@pytest.mark.parametrize(
    ("mode", "mimetype"), [("report", "text/html"), ("lab", "application/vnd.vegalite.v5+json")]
)
def test_charts_render_for_reports_or_for_jupyterlab(
    mode: str, mimetype: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_RENDER", mode)
    setup_notebook()
    bundle = alt.Chart(alt.Data(values=[{"x": 1}])).mark_point().encode(x="x:Q")._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert mimetype in data
    assert ("image/svg+xml" in data) == (mode == "lab")  # the lab bundle carries the static fallback
