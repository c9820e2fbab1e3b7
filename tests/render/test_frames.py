"""Tables and charts from results: small expected frames, charts checked through `to_dict()`."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pandas.testing as pdt

from workbench import Area, Outcome, ProbeResult, Symptom
from workbench.probes.catalog import areas_of
from workbench.render.charts import latency_chart, outcomes_chart, render_html
from workbench.render.frames import (
    ablation_matrix,
    area_matrix,
    catalog_order,
    failures_frame,
    latency_outliers,
    outcome_counts,
)
from workbench.render.readiness_view import recorded
from workbench.render.theme import OUTCOME_COLOURS, SYMPTOM_COLOURS


def result(
    env: str, probe: str, area: Area, outcome: Outcome, symptom: Symptom = Symptom.NONE
) -> ProbeResult:
    return ProbeResult(
        run_id="r1",
        env=env,
        probe=probe,
        area=area,
        outcome=outcome,
        symptom=symptom,
        retryable=False,
        http_status=200,
        latency_ms=12.0,
        detail=f"{probe} detail",
        action="roll back X" if outcome == "fail" else "",
        started_at="2026-11-27T00:00:00Z",
    )


RESULTS = [
    result("a", "endpoint.minimal", Area.ENDPOINT, Outcome.PASS),
    result("a", "auth.missing_key", Area.AUTH, Outcome.PASS),
    result("b", "endpoint.minimal", Area.ENDPOINT, Outcome.FAIL, Symptom.PARSER),
    result("b", "auth.missing_key", Area.AUTH, Outcome.FAIL, Symptom.AUTH),
    result("b", "errors.missing_field", Area.ERRORS, Outcome.SKIP),
]


def test_area_matrix_summarises_each_area_per_environment() -> None:
    frame = area_matrix(RESULTS, ["a", "b"], areas_of())
    expected = pd.DataFrame(
        {
            "a": ["pass", "pass", "not probed", "pass", "not probed", "not probed", "not probed"],
            "b": [
                "fail: parser",
                "fail: auth",
                "skipped",
                "fail: parser",
                "skipped",
                "not probed",
                "not probed",
            ],
        },
        index=pd.Index(
            [
                "Endpoint paths",
                "Auth headers",
                "Request fields",
                "Response fields",
                "Error behavior",
                "Rate-limit or billing assumptions",
                "Streaming behavior",
            ],
            name="contract area",
        ),
    )
    pdt.assert_frame_equal(frame, expected)


def test_failures_frame_lists_only_failures_with_their_action() -> None:
    frame = failures_frame(RESULTS)
    assert frame[["env", "probe", "symptom"]].values.tolist() == [
        ["b", "endpoint.minimal", "parser"],
        ["b", "auth.missing_key", "auth"],
    ]
    assert (frame["action"] == "roll back X").all()


def test_outcome_counts_feed_a_chart_of_counts_not_rows_worst_first() -> None:
    counts = outcome_counts(RESULTS, ["a", "b"])
    assert counts.to_dict("records") == [
        {"environment": "b", "result": "skipped", "count": 1, "environments": 1},
        {"environment": "b", "result": "auth", "count": 1, "environments": 1},
        {"environment": "b", "result": "parser", "count": 1, "environments": 1},
        {"environment": "a", "result": "passes", "count": 2, "environments": 1},
    ]
    spec = outcomes_chart(counts).to_dict()
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["y"]["sort"] == ["b", "a"]
    scale = spec["encoding"]["color"]["scale"]
    colours = dict(zip(scale["domain"], scale["range"], strict=True))
    # Issue 22: skipped probes (symptom class none) were drawn green, like passes
    assert colours["skipped"] == OUTCOME_COLOURS["skip"] != colours["passes"] == OUTCOME_COLOURS["pass"]
    assert colours["auth"] == SYMPTOM_COLOURS["auth"] and colours["parser"] == SYMPTOM_COLOURS["parser"]


def test_past_twelve_environments_those_with_the_same_counts_are_one_bar() -> None:
    envs = [f"env-{n:02d}" for n in range(1, 61)]
    results = [dataclasses.replace(RESULTS[0], env=env) for env in envs]
    results.append(dataclasses.replace(RESULTS[2], env="env-13"))
    counts = outcome_counts(results, envs)
    assert list(dict.fromkeys(counts["environment"])) == ["env-13", "59 environments, each"]


def test_latency_outliers_are_named_and_the_rest_is_a_range() -> None:
    envs = [f"env-{n:02d}" for n in range(1, 61)]
    latency = pd.DataFrame(
        [
            {"env": env, "probe": "endpoint.minimal", "latency_ms": 100.0 + n, "outcome": "pass"}
            for n, env in enumerate(envs)
        ]
    )
    latency.loc[12, "latency_ms"] = 900.0  # env-13: nine times slower
    latency.loc[40, "latency_ms"] = 200.0  # slower than most, but not twice the median: not an outlier
    spread, outliers = latency_outliers(latency)
    assert outliers["env"].tolist() == ["env-13"]
    assert spread.to_dict("records") == [
        {"probe": "endpoint.minimal", "low": 100.0, "median": 130.0, "high": 200.0, "environments": 59}
    ]
    fast = pd.DataFrame(
        {"env": ["a", "b", "c"], "probe": "p", "latency_ms": [20.0, 21.0, 45.0], "outcome": "pass"}
    )
    assert latency_outliers(fast)[1].empty  # twice the median, but only 24 ms over it: jitter
    spec = latency_chart(latency).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["bar", "tick", "point", "text"]
    few = latency_chart(latency[latency["env"].isin(envs[:12])]).to_dict()
    colours = few["encoding"]["color"]["scale"]["range"]
    assert len(colours) == len(set(colours)) == 12  # never one colour for two environments


def test_rendered_chart_is_a_static_image_plus_its_spec_as_inert_json() -> None:
    html = render_html(outcomes_chart(outcome_counts(RESULTS, ["a", "b"])).to_dict())
    assert html.startswith('<div class="wb-chart"')
    assert 'src="data:image/svg+xml;base64,' in html
    assert '<script type="application/json" class="wb-chart-spec"' in html and "</script>" in html
    assert "vegaEmbed" not in html  # the page's loader draws it: no script of its own
    assert html.count("</script") == 1  # the embedded spec cannot close the script early


def test_parser_robustness_rows_follow_the_catalog_not_the_order_they_came_in() -> None:
    """Issue 13: "usage null" came first and "usage removed" last (rows in the order sources were seen)."""
    rows = [
        {"field": "usage", "mode": "null", "result": "extracted", "note": ""},
        {"field": "choices", "mode": "empty", "result": "classified failure", "note": ""},
        {"field": "choices[0].message.content", "mode": "null", "result": "no content", "note": ""},
        {"field": "id", "mode": "removed", "result": "extracted", "note": ""},
        {"field": "usage", "mode": "removed", "result": "extracted", "note": ""},
    ]
    probe = result("a", "response.optional_fields", Area.RESPONSE, Outcome.PASS)
    probe = dataclasses.replace(probe, facts={"ablation": rows})
    frame = ablation_matrix([probe], ["a"])
    assert list(frame.index) == [
        ("usage", "removed"),
        ("usage", "null"),
        ("id", "removed"),
        ("choices[0].message.content", "null"),
        ("choices", "empty"),
    ]


def test_results_are_listed_in_catalog_order_whatever_order_they_finished_in() -> None:
    finished = [
        result("b", "errors.missing_field", Area.ERRORS, Outcome.PASS),
        result("a", "auth.missing_key", Area.AUTH, Outcome.PASS),
        result("b", "endpoint.minimal", Area.ENDPOINT, Outcome.PASS),
        result("a", "endpoint.minimal", Area.ENDPOINT, Outcome.PASS),
    ]
    ordered = [(r.env, r.probe) for r in catalog_order(finished, ["a", "b"])]
    assert ordered == [
        ("a", "endpoint.minimal"),
        ("a", "auth.missing_key"),
        ("b", "endpoint.minimal"),
        ("b", "errors.missing_field"),
    ]


def test_a_bundle_part_is_shown_as_settings_not_json() -> None:
    """Issue 13: the bundle's "recorded" column showed raw JSON (`{"max_retries":2,...}`)."""
    assert recorded("timeouts", {"timeout_s": 30, "retry": {"max": 2}}) == {"timeout_s": 30, "retry.max": 2}
    assert recorded("request_template", {"path": "t.json", "sha256": "0123456789abcdef"}) == "sha256 01234567"
    assert recorded("client", {"package": "openai", "version": "1.2"}) == "openai 1.2"
