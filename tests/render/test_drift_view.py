"""The drift explorer pairs what a person means when parameters are left empty (issue 12, finding 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.display import Markdown

from workbench import DriftExplorer, HistoryStore
from workbench.core.config import parse_config
from workbench.core.errors import StoreError, UsageError
from workbench.probes.engine import run_probes

CONFIG = (
    '[environments.reference]\nbase_url = "embedded"\n'
    '[environments.reference-drifted]\nbase_url = "embedded"\nscenario = "missing-usage"\n'
)


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    """Runs, oldest first: complete (both), complete (both), partial (reference only)."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    config = parse_config(CONFIG, source=None)
    with HistoryStore(url) as store:
        ids = [run_probes(config, store=store).run_id for _ in range(2)]
        ids.append(run_probes(config, ["reference"], ["endpoint.minimal"], store=store).run_id)
    return url, ids


def test_two_environments_without_runs_come_from_one_run(history: tuple[str, list[str]]) -> None:
    # Finding: with env_a=reference env_b=reference-drifted and no run ids, A and B came from
    # different runs.
    url, ids = history
    explorer = DriftExplorer.load(env_a="reference", env_b="reference-drifted", store_url=url)
    assert explorer.run_a == explorer.run_b == ids[1]  # the newest run holding both
    assert {r.env for r in explorer.results_a} == {"reference"}
    assert {r.env for r in explorer.results_b} == {"reference-drifted"}


def test_side_a_is_the_previous_complete_run_of_the_same_environment(history: tuple[str, list[str]]) -> None:
    url, ids = history
    explorer = DriftExplorer.load(store_url=url)
    assert (explorer.run_b, explorer.env_b) == (ids[2], "reference")  # the newest, partial run
    assert (explorer.run_a, explorer.env_a) == (ids[1], "reference")  # not another environment
    later = DriftExplorer.load(run_b=ids[1], env_b="reference-drifted", store_url=url)
    assert (later.run_a, later.env_a) == (ids[0], "reference-drifted")


def test_an_unknown_environment_or_run_lists_what_the_history_holds(history: tuple[str, list[str]]) -> None:
    # Finding: env_b=staging (in no run) gave "0 of 0 probes differ" and no error.
    url, _ = history
    with pytest.raises(UsageError, match="no environment 'staging' in the history") as caught:
        DriftExplorer.load(env_b="staging", store_url=url)
    assert "reference, reference-drifted" in str(caught.value)
    with pytest.raises(StoreError, match="workbench runs"):
        DriftExplorer.load(run_b="nope", store_url=url)


def test_with_nothing_to_compare_each_section_is_a_sentence_not_a_header_only_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: an empty comparison showed tables of column headers and no row."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    config = parse_config('[environments.reference]\nbase_url = "embedded"\n', source=None)
    with HistoryStore(url) as store:
        run_probes(config, store=store)
    explorer = DriftExplorer.load(store_url=url)
    assert explorer.note
    for section in (explorer.outcomes(), explorer.shape_drift()):
        assert isinstance(section, Markdown), section


def test_after_an_audit_the_drifted_environment_is_compared_with_the_reference(
    history: tuple[str, list[str]],
) -> None:
    """Issue 22: after `make audit` (twice) the explorer showed "A: reference / B: reference" and left
    out the drifted environment. An audit gives it only its run (`run_b`)."""
    url, ids = history
    explorer = DriftExplorer.load(run_b=ids[1], store_url=url)
    assert (explorer.run_a, explorer.env_a) == (ids[1], "reference")
    assert (explorer.run_b, explorer.env_b) == (ids[1], "reference-drifted")
    assert any(d.drifted for d in explorer.drifts)


def test_an_environment_that_drifted_since_its_baseline_is_shown_against_that_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    before = (
        '[environments.reference]\nbase_url = "embedded"\n[environments.gateway]\nbase_url = "embedded"\n'
    )
    after = before + 'scenario = "missing-usage"\n'
    with HistoryStore(url) as store:
        first = run_probes(parse_config(before, source=None), store=store).run_id
        second = run_probes(parse_config(after, source=None), store=store).run_id
    explorer = DriftExplorer.load(run_b=second, store_url=url)
    # as much drift against the reference in the same run: a tie goes to the environment's own history
    assert (explorer.run_a, explorer.env_a, explorer.run_b, explorer.env_b) == (
        first,
        "gateway",
        second,
        "gateway",
    )
