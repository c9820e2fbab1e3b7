"""pandas frames of results: the tables every report shows, computed from `ProbeResult`s only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from workbench.core.models import AREA_TITLES, Area, Outcome, ProbeResult, Symptom
from workbench.probes.catalog import CATALOG
from workbench.probes.drift import ProbeDrift
from workbench.probes.parsing import ABLATIONS
from workbench.rollback.headline import Headline, State, worst_first

RESULT_COLUMNS = [
    "run_id",
    "env",
    "probe",
    "area",
    "outcome",
    "symptom",
    "retryable",
    "http_status",
    "latency_ms",
    "ttft_ms",
    "retry_after_s",
    "detail",
    "action",
    "started_at",
]


def results_frame(results: Sequence[ProbeResult]) -> pd.DataFrame:
    """One row per result with the stored columns (no shape or facts)."""
    rows = [{name: record[name] for name in RESULT_COLUMNS} for record in (r.to_dict() for r in results)]
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    return frame.astype(
        {
            "http_status": "Int64",
            "latency_ms": "Float64",
            "ttft_ms": "Float64",
            "retry_after_s": "Float64",
            "retryable": "boolean",
        }
    )


def catalog_order(results: Sequence[ProbeResult], envs: Sequence[str]) -> tuple[ProbeResult, ...]:
    """Results by environment (as configured) then probe (catalog order), whatever order they
    finished in: every table of every report lists them the same way."""
    probes = {probe: index for index, probe in enumerate(CATALOG)}
    places = {env: index for index, env in enumerate(envs)}
    return tuple(
        sorted(results, key=lambda r: (places.get(r.env, len(places)), probes.get(r.probe, len(probes))))
    )


def verdict_frame(lines: Sequence[Headline], *, listed: int = 12) -> pd.DataFrame:
    """Each environment's one verdict and what blocks it, worst first, by exception: past `listed`
    environments, those that are fine are one row ("55 environments")."""
    fine = [h for h in lines if h.state in (State.READY, State.CONTRACT_PASSES)]
    shown = worst_first(h for h in lines if h not in fine or len(lines) <= listed)
    rows = [{"environment": h.env, "verdict": h.words, "what blocks it": h.reason or "-"} for h in shown]
    if len(lines) > listed and fine:
        rows.append(
            {"environment": f"{len(fine)} environments", "verdict": fine[0].words, "what blocks it": "-"}
        )
    return pd.DataFrame(rows, columns=["environment", "verdict", "what blocks it"])


def area_cell(results: Sequence[ProbeResult]) -> str:
    """Summarise one contract area in one environment: failures name their symptom classes."""
    if not results:
        return "not probed"
    failed = sorted({str(r.symptom) for r in results if r.outcome is Outcome.FAIL})
    if failed:
        return "fail: " + ", ".join(failed)
    outcomes = {r.outcome for r in results}
    if Outcome.ERROR in outcomes:
        return "could not run"
    if Outcome.NEEDS_OPERATOR in outcomes:
        return "needs operator"
    if outcomes == {Outcome.SKIP}:
        return "skipped"
    return "pass"


def area_matrix(
    results: Sequence[ProbeResult], envs: Sequence[str], areas: Mapping[str, Sequence[Area]] | None = None
) -> pd.DataFrame:
    """Contract area (rows, checklist order) x environment (columns); `areas`: probe id -> areas covered."""
    covers = areas or {}

    def in_area(result: ProbeResult, area: Area) -> bool:
        return result.area is area or area in covers.get(result.probe, ())

    data = {
        env: [area_cell([r for r in results if r.env == env and in_area(r, area)]) for area in Area]
        for env in envs
    }
    frame = pd.DataFrame(data, index=[AREA_TITLES[area] for area in Area], columns=list(envs))
    frame.index.name = "contract area"
    return frame


# The "What your app uses" table: column -> the `uses` value it stands for (core.appcontract.USES).
APP_USES_COLUMNS = {
    "tool calls": "tool_calls",
    "structured output": "json",
    "stream usage": "usage",
    "reasoning": "reasoning",
}


def app_uses_frame(results: Sequence[ProbeResult], envs: Sequence[str]) -> pd.DataFrame:
    """Per environment: each part of the app contract it uses and how the probes that judge it
    fared (from the catalog's `exercises` traits), and the count of spec deviations seen."""
    rows = []
    for env in envs:
        mine = [r for r in results if r.env == env]
        uses = set(next((r.facts["uses"] for r in mine if r.facts.get("uses")), ["content"]))
        row: dict[str, object] = {"environment": env}
        for column, use in APP_USES_COLUMNS.items():
            judged = [r for r in mine if use in _exercised(r.probe) and r.outcome is not Outcome.SKIP]
            if use == "usage":  # stream usage: the streamed probes
                judged = [r for r in judged if r.area is Area.STREAMING]
            if use == "reasoning":
                row[column] = _reasoning_cell(mine, use in uses)
            elif use not in uses:
                row[column] = "not used"
            else:
                row[column] = _uses_cell(judged, use)
        row["spec deviations"] = sum(
            int(d.get("count", 1)) for r in mine for d in r.facts.get("spec_deviations", ())
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=["environment", *APP_USES_COLUMNS, "spec deviations"])


def _exercised(probe: str) -> frozenset[str]:
    found = CATALOG.get(probe)
    return found.exercises if found is not None else frozenset()


def _uses_cell(judged: Sequence[ProbeResult], use: str) -> str:
    if not judged:
        return "not run"
    failed = [r for r in judged if r.outcome is Outcome.FAIL]
    if failed:
        return "fail: " + ", ".join(sorted({f"{r.symptom} ({r.probe})" for r in failed}))
    if any(r.outcome is Outcome.ERROR for r in judged):
        return "could not run"
    return "pass"


def _reasoning_cell(results: Sequence[ProbeResult], used: bool) -> str:
    fields = sorted(
        {
            note.removeprefix("reasoning in ")
            for r in results
            for note in r.facts.get("notes", ())
            if isinstance(note, str) and note.startswith("reasoning in ")
        }
    )
    seen = f"seen in {', '.join(fields)}" if fields else "none seen"
    if not used:
        return f"not used ({seen})" if fields else "not used"
    failed = [r for r in results if r.outcome is Outcome.FAIL and "reasoning" in r.detail]
    return ("fail: " + ", ".join(sorted({r.probe for r in failed}))) if failed else seen


def failures_frame(results: Sequence[ProbeResult]) -> pd.DataFrame:
    """Every failed or errored probe with its class, retry advice and the checklist's action."""
    columns = ["env", "probe", "symptom", "retry helps", "HTTP", "detail", "action"]
    rows = [
        {
            "env": r.env,
            "probe": r.probe,
            "symptom": str(r.symptom),
            "retry helps": r.retryable,
            "HTTP": r.http_status,
            "detail": r.detail,
            "action": r.action or "Fix the workbench setup and re-run (the probe could not run).",
        }
        for r in results
        if r.outcome in (Outcome.FAIL, Outcome.ERROR)
    ]
    return pd.DataFrame(rows, columns=columns).astype({"HTTP": "Int64"})


def symptom_counts(results: Sequence[ProbeResult]) -> pd.DataFrame:
    """Counts per environment, symptom class and outcome: the outcomes chart's input (already small)."""
    frame = pd.DataFrame(
        [{"env": r.env, "symptom": str(r.symptom), "outcome": str(r.outcome)} for r in results],
        columns=["env", "symptom", "outcome"],
    )
    return (
        frame.groupby(["env", "symptom", "outcome"], as_index=False).size().rename(columns={"size": "count"})
    )


def latency_frame(results: Sequence[ProbeResult]) -> pd.DataFrame:
    """Latency per environment and probe, for probes that sent a request."""
    rows = [
        {"env": r.env, "probe": r.probe, "latency_ms": r.latency_ms, "outcome": str(r.outcome)}
        for r in results
        if r.latency_ms is not None
    ]
    return pd.DataFrame(rows, columns=["env", "probe", "latency_ms", "outcome"])


def streaming_frame(results: Sequence[ProbeResult]) -> pd.DataFrame:
    """The streaming probes per environment (the catalog's streaming area): how each stream arrived
    and how it ended."""
    columns = [
        "env",
        "probe",
        "outcome",
        "symptom",
        "chunks",
        "first token (ms)",
        "latency (ms)",
        "finish reason",
        "usage",
        "[DONE]",
        "detail",
    ]
    rows = [
        {
            "env": r.env,
            "probe": r.probe,
            "outcome": str(r.outcome),
            "symptom": str(r.symptom),
            "chunks": r.facts.get("chunks"),
            "first token (ms)": r.ttft_ms,
            "latency (ms)": r.latency_ms,
            "finish reason": r.facts.get("finish_reason"),
            "usage": r.facts.get("usage"),
            "[DONE]": r.facts.get("done"),
            "detail": r.detail,
        }
        for r in results
        if r.area is Area.STREAMING and r.facts.get("applicable") is not False
    ]
    return pd.DataFrame(rows, columns=columns).astype(
        {"chunks": "Int64", "first token (ms)": "Float64", "latency (ms)": "Float64"}
    )


_SEVERITY = {"extracted": 0, "no content": 1, "classified failure": 2, "unhandled": 3}


def ablation_matrix(results: Sequence[ProbeResult], envs: Sequence[str]) -> pd.DataFrame:
    """Field (and how it was ablated) x environment: what the parser did, the worst case over sources."""
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for r in results:
        if r.probe != "response.optional_fields":
            continue
        for row in r.facts.get("ablation", ()):
            key = (str(row["field"]), str(row["mode"]))
            previous = cells.setdefault(key, {}).get(r.env)
            outcome = str(row["result"]) + (f": {row['note']}" if row["result"] == "unhandled" else "")
            if previous is None or _SEVERITY[str(row["result"])] > _SEVERITY[previous.split(":")[0]]:
                cells[key][r.env] = outcome
    keys = sorted(cells, key=_ablation_place)  # catalog order, whatever order the sources came in
    index = pd.MultiIndex.from_tuples(keys, names=["field", "ablation"]) if cells else None
    frame = pd.DataFrame(
        [[cells[key].get(env, "-") for env in envs] for key in keys], index=index, columns=list(envs)
    )
    return frame


_FIELDS = {label: index for index, (label, _path) in enumerate(ABLATIONS)}
_MODES = {"removed": 0, "null": 1, "empty": 2}


def _ablation_place(key: tuple[str, str]) -> tuple[int, int]:
    """Where an ablation row goes: the probe's field order (`ABLATIONS`), removed before null."""
    field, mode = key
    return _FIELDS.get(field, len(_FIELDS)), _MODES.get(mode, len(_MODES))


def symptom_crosstab(results: Sequence[ProbeResult], envs: Sequence[str]) -> pd.DataFrame:
    """Symptom class x environment: how many failed probes fell in each class."""
    failed = [r for r in results if r.outcome is Outcome.FAIL]
    frame = pd.DataFrame({"symptom": [str(r.symptom) for r in failed], "env": [r.env for r in failed]})
    classes = [str(s) for s in Symptom if s is not Symptom.NONE]
    table = pd.crosstab(
        pd.Categorical(frame["symptom"], categories=classes),
        pd.Categorical(frame["env"], categories=list(envs)),
        dropna=False,
    )
    table.index.name, table.columns.name = "symptom class", "environment"
    return table


def drift_frame(drifts: Sequence[ProbeDrift]) -> pd.DataFrame:
    """Only what changed: environment (or pair), probe, and the change in words."""
    rows = [
        {"from": d.env_a, "to": d.env_b, "probe": d.probe, "change": d.summary()} for d in drifts if d.changed
    ]
    return pd.DataFrame(rows, columns=["from", "to", "probe", "change"])
