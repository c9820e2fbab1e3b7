"""Sixty environments read as few: identical rows grouped, wide tables folded (issue 22, item 2)."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt

from workbench.render.grouping import fold, group_rows, named

SIXTY = [f"env-{n:02d}" for n in range(1, 61)]


def test_a_label_names_a_few_environments_and_counts_many() -> None:
    assert named(["env-13"]) == "env-13"
    assert named(["env-41", "env-48"]) == "env-41, env-48"
    assert named(SIXTY, 60) == "all 60 environments"
    assert named(SIXTY[:55], 60) == "55 environments"
    assert named(SIXTY[:55], 60, examples=True) == "55 environments: env-01, env-02, env-03 and 52 more"


def test_rows_identical_but_for_the_environment_are_one_row() -> None:
    """Observed before: "Not run, and why" had 151 rows at sixty environments, mostly the same."""
    frame = pd.DataFrame(
        [{"environment": env, "probe": "response.fixture_replay", "why": "no fixtures"} for env in SIXTY]
        + [{"environment": "env-13", "probe": "streaming.sse", "why": "stream = false"}]
    )
    grouped = group_rows(frame, "environment", total=60)
    assert grouped.to_dict("records") == [
        {"environment": "all 60 environments", "probe": "response.fixture_replay", "why": "no fixtures"},
        {"environment": "env-13", "probe": "streaming.sse", "why": "stream = false"},
    ]


def test_a_wide_table_keeps_up_to_twelve_environments_as_they_are() -> None:
    frame = pd.DataFrame({env: ["pass"] for env in SIXTY[:12]}, index=pd.Index(["auth"], name="area"))
    assert fold(frame) is frame


def test_past_twelve_identical_columns_share_one_headed_by_their_environments() -> None:
    cells = {env: ["pass", "pass"] for env in SIXTY}
    cells["env-13"] = ["fail: parser", "pass"]
    cells["env-27"] = ["pass", "fail: auth"]
    frame = pd.DataFrame(cells, index=pd.Index(["Endpoint paths", "Auth headers"], name="contract area"))
    expected = pd.DataFrame(
        {
            "58 environments": ["pass", "pass"],
            "env-13": ["fail: parser", "pass"],
            "env-27": ["pass", "fail: auth"],
        },
        index=frame.index,
    )
    pdt.assert_frame_equal(fold(frame), expected)


def test_with_many_distinct_columns_a_wide_table_turns_to_long_form() -> None:
    cells = {env: [f"{n} ms" if n < 20 else "fast"] for n, env in enumerate(SIXTY)}
    frame = pd.DataFrame(cells, index=pd.Index(["latency"], name="probe"))
    long = fold(frame)
    assert list(long.columns) == ["probe", "result", "environments"]
    assert long.iloc[0].tolist() == ["latency", "fast", "40 environments: env-21, env-22, env-23 and 37 more"]
    assert len(long) == 21  # the 40 alike first, then each of the others
