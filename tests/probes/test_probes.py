"""Every probe against every scenario of the embedded endpoint: the expected outcome and symptom class."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench import HistoryStore, Outcome, ProbeResult, RunSummary, Symptom, run_probes
from workbench.core.config import parse_config
from workbench.probes.catalog import CATALOG

PROBES = (
    "endpoint.minimal",
    "request.app_realistic",
    "auth.missing_key",
    "auth.invalid_key",
    "errors.malformed_json",
    "errors.missing_field",
    "errors.invalid_value",
    "response.optional_fields",
    "response.fixture_replay",
    "streaming.sse",
    "limits.operator_confirmation",
)

PASS = (Outcome.PASS, Symptom.NONE)
SKIP = (Outcome.SKIP, Symptom.NONE)
# Without fixtures there is nothing to replay; embedded endpoints have no quota or billing to confirm.
ALWAYS = {"response.fixture_replay": SKIP, "limits.operator_confirmation": SKIP}

# scenario -> {probe: (outcome, symptom)}; probes not listed must pass.
EXPECTED: dict[str, dict[str, tuple[Outcome, Symptom]]] = {
    "conformant": {},
    "missing-usage": {},
    "content-moved": {
        "endpoint.minimal": (Outcome.FAIL, Symptom.PARSER),
        "request.app_realistic": (Outcome.FAIL, Symptom.PARSER),
        "streaming.sse": (Outcome.FAIL, Symptom.PARSER),
        "response.optional_fields": SKIP,  # nothing mappable to ablate, no fixtures
    },
    "auth-not-enforced": {
        "auth.missing_key": (Outcome.FAIL, Symptom.AUTH),
        "auth.invalid_key": (Outcome.FAIL, Symptom.AUTH),
    },
    "lenient-validation": {
        "errors.missing_field": (Outcome.FAIL, Symptom.VALIDATION),
        "errors.invalid_value": (Outcome.FAIL, Symptom.VALIDATION),
    },
    "gateway-html-errors": {
        "auth.missing_key": (Outcome.FAIL, Symptom.TRANSPORT),
        "auth.invalid_key": (Outcome.FAIL, Symptom.TRANSPORT),
        "errors.malformed_json": (Outcome.FAIL, Symptom.TRANSPORT),
        "errors.missing_field": (Outcome.FAIL, Symptom.TRANSPORT),
        "errors.invalid_value": (Outcome.FAIL, Symptom.TRANSPORT),
    },
    "slow": {},
    "stream-without-done": {"streaming.sse": (Outcome.FAIL, Symptom.TRANSPORT)},
    "stream-error-in-200": {"streaming.sse": (Outcome.FAIL, Symptom.SERVER)},
    "usage-every-chunk": {},
    "flat-errors": {},  # vLLM/Mistral error bodies are read like the envelope
    "content-array": {},  # text parts are joined: valid drift
    # The workbench's own choices are never the endpoint's fault (issue 10): each passes, with a note.
    "reasoning-model": {},  # empty at the probe's 16-token budget: asked again with a larger one
    "max-completion-tokens-only": {},  # rejects max_tokens: asked again with max_completion_tokens
    "fixed-sampling": {},  # rejects the generic temperature/top_p: asked again without them
    "verbose-model": {},  # cut at the probe's own budget, content kept
    "done-without-blank-line": {},  # the final [DONE] lacks its blank line: still terminated
}
# Requests each environment sends for the catalog: 7 request probes (missing_field sends two), one
# fresh response to ablate, one stream; plus each retry the workbench owes to its own choices.
REQUESTS = dict.fromkeys(EXPECTED, 10) | {
    "reasoning-model": 13,  # minimal, app-realistic and the stream each asked once more
    "max-completion-tokens-only": 11,  # the first request learns the parameter for the rest
    "fixed-sampling": 11,  # app-realistic asked once more without temperature and top_p
}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunSummary, HistoryStore]]:
    """One run over one embedded environment per scenario (the slow one at 300 ms)."""
    text = "".join(
        f'[environments.{name}]\nbase_url = "embedded"\nscenario = "{name}"\nstream = true\n'
        + ("latency_ms = 300\n" if name == "slow" else "")
        + "\n"
        for name in EXPECTED
    )
    store = HistoryStore(f"sqlite:///{tmp_path_factory.mktemp('store') / 'history.sqlite'}")
    yield run_probes(parse_config(text, source=None), store=store), store
    store.close()


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_probe_outcome_per_scenario(
    matrix: tuple[RunSummary, HistoryStore], scenario: str, probe: str
) -> None:
    summary, _ = matrix
    (result,) = [r for r in summary.results if r.env == scenario and r.probe == probe]
    expected = EXPECTED[scenario].get(probe, ALWAYS.get(probe, PASS))
    assert (result.outcome, result.symptom) == expected, result.detail
    if result.outcome is Outcome.FAIL:
        assert result.action
        retryable_stream_failure = probe == "streaming.sse" and result.symptom in (
            Symptom.TRANSPORT,
            Symptom.SERVER,
        )
        assert result.retryable is retryable_stream_failure
    else:
        assert result.action == "" and not result.retryable
    if result.outcome is not Outcome.SKIP:
        assert result.http_status is not None and result.latency_ms is not None and result.latency_ms > 0


def test_verdicts_and_exit_code(matrix: tuple[RunSummary, HistoryStore]) -> None:
    summary, _ = matrix
    verdicts = {v.env: str(v.status) for v in summary.verdicts}
    failing = {name for name, expected in EXPECTED.items() if expected}
    assert verdicts == {name: "not_ready" if name in failing else "ready" for name in EXPECTED}
    assert summary.exit_code == 1


def test_every_result_is_in_the_store_with_the_run(matrix: tuple[RunSummary, HistoryStore]) -> None:
    summary, store = matrix
    stored = store.results([summary.run_id])
    assert sorted(r.to_dict()["probe"] + r.env for r in stored) == sorted(
        r.probe + r.env for r in summary.results
    )
    run = store.run(summary.run_id)
    assert run.status == "complete" and run.finished_at
    assert run.requests == summary.requests
    assert summary.requests == REQUESTS


def test_missing_usage_is_recorded_not_failed(matrix: tuple[RunSummary, HistoryStore]) -> None:
    summary, _ = matrix
    (minimal,) = [r for r in summary.results if r.env == "missing-usage" and r.probe == "endpoint.minimal"]
    assert minimal.facts["usage"] is False and "usage absent" in minimal.detail
    assert not any(entry.startswith("usage") for entry in minimal.shape)


def test_latency_reflects_the_slow_scenario(matrix: tuple[RunSummary, HistoryStore]) -> None:
    summary, _ = matrix
    slow = [r.latency_ms for r in summary.results if r.env == "slow" and r.latency_ms is not None]
    fast = [r.latency_ms for r in summary.results if r.env == "conformant" and r.latency_ms is not None]
    assert min(slow) >= 300
    assert sorted(fast)[len(fast) // 2] < 250  # the median: loopback is fast even on a busy machine


def test_only_the_named_probes_run(tmp_path: Path) -> None:
    config = parse_config('[environments.ref]\nbase_url = "embedded"\n', source=None)
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        summary = run_probes(config, probe_ids=["auth.missing_key"], store=store)
    assert [r.probe for r in summary.results] == ["auth.missing_key"]
    assert summary.exit_code == 0


def test_production_environments_skip_negative_probes_unless_allowed(tmp_path: Path) -> None:
    config = parse_config('[environments.prod]\nbase_url = "embedded"\nproduction = true\n', source=None)
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        guarded = run_probes(config, store=store)
        allowed = run_probes(config, store=store, allow_production_negatives=True)
    skipped = {r.probe for r in guarded.results if r.outcome is Outcome.SKIP}
    negatives = {p for p in PROBES if p.split(".")[0] in ("auth", "errors")}
    # no tools, no response_format, no stream: the app's contract has nothing these probes judge
    (prod,) = config.select()
    not_applicable = {p for p, probe in CATALOG.items() if not probe.applies_to(prod, frozenset())}
    assert not_applicable == {
        "request.tool_call",
        "request.tool_round_trip",
        "request.structured_output",
        "streaming.sse",
        "streaming.tool_call",
    }
    unchanged = not_applicable | {"response.fixture_replay", "limits.operator_confirmation"}
    assert skipped == negatives | unchanged
    assert all("--allow-production-negatives" in r.detail for r in guarded.results if r.probe in negatives)
    assert guarded.requests == {"prod": 3}  # minimal, app-realistic, one fresh response to ablate
    ran = {r.probe for r in allowed.results if r.outcome is Outcome.PASS}
    assert ran == set(CATALOG) - unchanged


def test_every_result_is_stored_before_it_is_counted(tmp_path: Path) -> None:
    """Results wait a few milliseconds to share a transaction with the rest of their wave, never to be
    stored: when the progress callback counts one, it is already in the store."""
    text = "".join(f'[environments.env{i}]\nbase_url = "embedded"\nstream = true\n\n' for i in range(3))
    unseen: list[str] = []
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:

        def progress(result: ProbeResult, done: int, total: int) -> None:
            if (result.env, result.probe) not in {(r.env, r.probe) for r in store.results([result.run_id])}:
                unseen.append(f"{result.env} {result.probe}")

        summary = run_probes(parse_config(text, source=None), store=store, progress=progress)
    assert len(summary.results) == 3 * len(CATALOG) and unseen == []


def test_a_run_hands_the_cycle_collector_back_as_it_found_it(tmp_path: Path) -> None:
    """A run freezes what was alive before it and collects less often while it lasts (issue 22):
    afterwards the thresholds and the frozen objects are what they were, even after a failed run."""
    import gc

    before = (gc.get_threshold(), gc.get_freeze_count())
    config = parse_config('[environments.ref]\nbase_url = "embedded"\n', source=None)
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        run_probes(config, probe_ids=["endpoint.minimal"], store=store)
        assert (gc.get_threshold(), gc.get_freeze_count()) == before

        def fail(result: ProbeResult, done: int, total: int) -> None:
            raise RuntimeError("a progress callback that fails")

        with pytest.raises(RuntimeError):
            run_probes(config, probe_ids=["endpoint.minimal"], store=store, progress=fail)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_a_failing_progress_report_stops_the_run_before_its_next_requests(tmp_path: Path) -> None:
    """A result that cannot be stored or reported stops the run, as it stopped the probe that met it
    when each probe awaited its own commit: the environments send no further probes."""
    text = "".join(
        f'[environments.env{i}]\nbase_url = "embedded"\nstream = true\nlatency_ms = 50\n\n' for i in range(2)
    )

    def fail(result: ProbeResult, done: int, total: int) -> None:
        raise RuntimeError("the terminal went away")

    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        with pytest.raises(RuntimeError, match="terminal went away"):
            run_probes(parse_config(text, source=None), store=store, progress=fail)
        (run,) = store.runs()
    assert run.status == "failed"
    assert run.requests is not None and all(sent <= 2 for sent in run.requests.values()), run.requests
