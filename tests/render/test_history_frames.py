"""`workbench.History`: the documented frames, read from a real store the probes wrote."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import workbench as wb
from workbench.core.config import parse_config
from workbench.core.errors import StoreError
from workbench.probes.catalog import CATALOG
from workbench.probes.engine import run_probes
from workbench.render.frames import RESULT_COLUMNS
from workbench.render.history_frames import RUN_COLUMNS, SHAPE_COLUMNS

CONFIG = '[environments.stage]\nbase_url = "embedded"\n[environments.prod]\nbase_url = "embedded"\n'


def test_runs_results_and_shapes_are_the_documented_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    config = parse_config(CONFIG, source=None)
    with wb.HistoryStore(url) as store:
        whole = run_probes(config, store=store).run_id
        partial = run_probes(config, ["prod"], ["endpoint.minimal"], store=store).run_id
    with wb.History(url) as history:
        runs = history.runs()
        assert list(runs.columns) == RUN_COLUMNS
        assert runs["run_id"].tolist() == [partial, whole]  # newest first
        assert runs["scope"].tolist() == ["partial", "complete"]
        assert history.runs(env="stage")["run_id"].tolist() == [whole]

        results = history.results(env="prod", probe="endpoint.minimal")
        assert list(results.columns) == RESULT_COLUMNS
        assert results["run_id"].tolist() == [whole, partial] and set(results["outcome"]) == {"pass"}
        assert len(history.results(run_id=whole)) == 2 * len(CATALOG)  # every probe x 2 environments
        assert history.results(since=datetime(2999, 1, 1, tzinfo=UTC)).empty
        assert len(history.results(since="2000-01-01")) == 2 * len(CATALOG) + 1  # and the partial run

        shapes = history.shapes(whole)
        assert list(shapes.columns) == SHAPE_COLUMNS
        minimal = shapes[(shapes["env"] == "prod") & (shapes["probe"] == "endpoint.minimal")]
        assert {"choices[].message.content", "usage.total_tokens"} <= set(minimal["field"])
        assert "hello" not in shapes.to_string()  # fields and types, never generated text
        with pytest.raises(StoreError, match="no run 'nope'"):
            history.shapes("nope")
