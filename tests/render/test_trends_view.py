"""The trends report's trigger chart and table (issue 13, finding 3).

Observed before the fix, in the default audit's symptom_trends report: the chart drew each
environment's overall failure rate (reference-drifted at 100 %: every one of its failing probes, of
any class) against the rate thresholds of single classes (transport 20 %, validation 10 %, ...), so
the line sat above every dashed threshold while the summary said "No trigger fired"; the table's
`action` column was empty for every rule that had not fired. Here each class is charted against its
own threshold, and the table names every rule's action.
"""

from __future__ import annotations

import pandas as pd
from bs4 import BeautifulSoup

from workbench.core.models import Symptom, action_for
from workbench.render.charts import static_svg
from workbench.render.trends_view import TrendsView
from workbench.signals.triggers import Firing, Rule

PARSER = Rule("parser-consecutive", Symptom.PARSER, consecutive=2)
VALIDATION = Rule("validation-rate", Symptom.VALIDATION, rate=0.1, window_minutes=60, min_samples=20)
TRANSPORT = Rule("transport-rate", Symptom.TRANSPORT, rate=0.2, window_minutes=60, min_samples=20)


def view() -> TrendsView:
    symptoms = pd.DataFrame(
        [
            ("2026-12-01T10", "drifted", "none", 5),
            ("2026-12-01T10", "drifted", "parser", 3),
            ("2026-12-01T10", "drifted", "validation", 2),
            ("2026-12-01T11", "drifted", "none", 6),
            ("2026-12-01T11", "drifted", "parser", 4),
            ("2026-12-01T11", "reference", "none", 10),
        ],
        columns=["bucket", "env", "symptom", "count"],
    )
    firings = (
        Firing(
            PARSER,
            "drifted",
            "endpoint.minimal",
            "run of 4 parser failures",
            action_for(Symptom.PARSER),
            True,
        ),
        Firing(VALIDATION, "drifted", "", "2 samples < min 20", action_for(Symptom.VALIDATION), False),
        Firing(TRANSPORT, "drifted", "", "0% transport", action_for(Symptom.TRANSPORT), False),
    )
    empty = pd.DataFrame()
    return TrendsView(symptoms, empty, empty, (PARSER, VALIDATION, TRANSPORT), firings, "2026-11-01", "hour")


def test_each_class_is_charted_as_its_own_share_of_the_samples() -> None:
    rates = view().class_rates()
    drifted = rates[(rates["env"] == "drifted") & (rates["bucket"] == "2026-12-01T10")]
    assert dict(zip(drifted["symptom"], drifted["rate"], strict=True)) == {
        "transport": 0.0,
        "validation": 0.2,
        "parser": 0.3,
    }  # catalog order; the overall failure rate (50 %) is never drawn against a class's threshold
    assert set(rates["symptom"]) == {"transport", "validation", "parser"}


def test_the_chart_has_a_panel_per_class_its_threshold_and_the_fired_rule_with_its_action() -> None:
    spec = view().failure_rate_chart().to_dict()
    assert spec["facet"]["row"]["field"] == "symptom"
    assert spec["facet"]["row"]["sort"] == ["transport", "validation", "parser"]
    values = spec["datasets"][spec["data"]["name"]]
    thresholds = {row["symptom"]: row["threshold"] for row in values if row["kind"] == "rule"}
    assert thresholds == {"parser": None, "validation": 0.1, "transport": 0.2}
    (fired,) = [row for row in values if row["kind"] == "fired"]
    assert fired["symptom"] == "parser" and fired["env"] == "drifted" and fired["bucket"] == "2026-12-01T11"
    assert fired["rate"] == 0.4 and fired["action"] == action_for(Symptom.PARSER)
    assert "<svg" in static_svg(spec)  # a valid spec: vl-convert draws it


def test_the_rules_table_says_yes_or_no_and_every_rule_s_action_in_catalog_order() -> None:
    page = BeautifulSoup(view().triggers().to_html(), "html.parser")
    header = [th.get_text() for th in page.select("thead th")]
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in page.select("tbody tr")]
    fired, action, rule = header.index("fired"), header.index("action"), header.index("rule")
    assert [row[rule] for row in rows] == ["transport-rate", "validation-rate", "parser-consecutive"]
    assert [row[fired] for row in rows] == ["no", "no", "yes"]
    assert all(row[action] for row in rows) and rows[2][action] == action_for(Symptom.PARSER)


def sixty() -> TrendsView:
    """Sixty environments over two hours, env-13 failing parser probes, env-41 slow."""
    envs = [f"env-{n:02d}" for n in range(1, 61)]
    symptoms = pd.DataFrame(
        [(hour, env, "none", 10) for hour in ("2026-12-01T10", "2026-12-01T11") for env in envs]
        + [("2026-12-01T11", "env-13", "parser", 3)],
        columns=["bucket", "env", "symptom", "count"],
    )
    latency = pd.DataFrame(
        [
            (hour, env, 900.0 if env == "env-41" else 100.0 + n, 1500.0 if env == "env-41" else 150.0 + n)
            for hour in ("2026-12-01T10", "2026-12-01T11")
            for n, env in enumerate(envs)
        ],
        columns=["bucket", "env", "p50_ms", "p95_ms"],
    )
    return TrendsView(symptoms, pd.DataFrame(), latency, (PARSER,), (), "2026-11-01", "hour")


def test_sixty_environments_share_panels_worst_first() -> None:
    """Issue 22: one panel per environment, sixty of them (8,400 px of chart)."""
    spec = sixty().symptom_chart().to_dict()
    assert spec["encoding"]["row"]["sort"] == ["env-13", "59 environments, each"]
    colours = dict(zip(*(spec["encoding"]["color"]["scale"][k] for k in ("domain", "range")), strict=True))
    assert colours["passes"] == "#4c9a5d" and colours["parser"] != colours["passes"]


def test_percentiles_get_distinct_marks_and_outliers_their_own_colour() -> None:
    """Issue 22: p50 and p95 were the same black circle; sixty environments shared ten colours."""
    spec = sixty().latency_chart().to_dict()
    middle, outliers = spec["layer"][1], spec["layer"][2]
    shape = middle["encoding"]["shape"]["scale"]
    assert dict(zip(shape["domain"], shape["range"], strict=True)) == {"p50": "circle", "p95": "triangle-up"}
    assert outliers["encoding"]["color"]["scale"]["domain"] == ["env-41"]
    assert "<svg" in static_svg(spec)


def test_past_twelve_panels_the_calmest_are_added_up_in_one() -> None:
    envs = [f"env-{n:02d}" for n in range(1, 61)]
    symptoms = pd.DataFrame(
        [("2026-12-01T10", env, "none", 10) for env in envs]
        + [("2026-12-01T10", env, "parser", n) for n, env in enumerate(envs[:20], start=1)],
        columns=["bucket", "env", "symptom", "count"],
    )
    spec = (
        TrendsView(symptoms, pd.DataFrame(), pd.DataFrame(), (), (), "2026-11-01", "hour")
        .symptom_chart()
        .to_dict()
    )
    panels = spec["encoding"]["row"]["sort"]
    assert len(panels) == 12 and panels[0] == "env-20"  # the most parser failures first
    assert panels[-1] == "49 other environments, together"  # 9 calm ones and the 40 that all passed
    values = spec["datasets"][spec["data"]["name"]]
    together = [row for row in values if row["env"] == panels[-1]]
    assert {row["symptom"]: row["count"] for row in together} == {"passes": 490, "parser": sum(range(1, 10))}
