"""Many environments read as few: environments that agree share one row or one column, named for them.

At sixty environments a table with a row or a column per environment is mostly the same row sixty
times (151 rows of "not run, and why", a 60-column area table scrolling sideways). Here rows that
are identical but for the environment become one row naming the environments it applies to, and a
table with a column per environment folds its identical columns into one; with too many distinct
columns it turns to long form (one row per row label and value, with its environments).
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Sequence
from typing import Any

import pandas as pd

from workbench.rollback.headline import LISTED

NAMED = 4  # environments a label names one by one; past it, it counts them
GROUPS = 6  # distinct columns a folded table keeps side by side; past it, long form


def named(envs: Sequence[str], total: int = 0, *, examples: bool = False) -> str:
    """`env-13`, `env-41, env-48`, `all 60 environments` or `55 environments` (with `examples`:
    `55 environments: env-01, env-02, env-03 and 52 more`, for a row whose group is not obvious)."""
    count = len(envs)
    if count <= NAMED:
        return ", ".join(envs)
    if total and count == total:
        return f"all {count} environments"
    if examples:
        return f"{count} environments: {', '.join(envs[:3])} and {count - 3} more"
    return f"{count} environments"


def group_rows(
    frame: pd.DataFrame, column: str, *, total: int = 0, medians: Sequence[str] = ()
) -> pd.DataFrame:
    """Rows identical but for `column` (the environment) and the measures in `medians` (timings,
    which differ from one environment to the next) become one row, whose `column` names them
    (`named`, with examples) and whose measures are the group's median; groups in the order they
    first appear, dtypes kept."""
    if frame.empty:
        return frame
    others = [name for name in frame.columns if name != column and name not in medians]
    groups: dict[tuple[Hashable, ...], list[int]] = {}
    for position, row in enumerate(frame[others].itertuples(index=False, name=None)):
        groups.setdefault(tuple(_key(value) for value in row), []).append(position)
    envs = [str(env) for env in frame[column]]
    grouped = frame.iloc[[positions[0] for positions in groups.values()]].reset_index(drop=True)
    grouped[column] = [
        named([envs[p] for p in positions], total, examples=True) for positions in groups.values()
    ]
    for measure in medians:
        values = frame[measure]
        grouped[measure] = pd.array(
            [values.iloc[positions].median() for positions in groups.values()], dtype=values.dtype
        )
    return grouped


def fold(
    frame: pd.DataFrame, *, listed: int = LISTED, groups: int = GROUPS, value: str = "result"
) -> pd.DataFrame:
    """A table with one column per environment, for more than `listed` environments: identical
    columns share one, headed by the environments it stands for; with more than `groups` distinct
    columns, long form instead: per row label, one row per `value` with the environments it applies
    to, the most common first. Up to `listed` environments the table is returned as it is."""
    if len(frame.columns) <= listed:
        return frame
    total = len(frame.columns)
    columns: dict[tuple[Hashable, ...], list[str]] = {}
    for env in frame.columns:
        columns.setdefault(tuple(_key(cell) for cell in frame[env]), []).append(str(env))
    if len(columns) <= groups:
        labels: list[str] = []
        for envs in columns.values():
            label = named(envs, total)
            labels.append(label if label not in labels else f"{label} ({envs[0]} \u2026)")
        folded = pd.DataFrame(
            {label: frame[envs[0]].to_numpy() for label, envs in zip(labels, columns.values(), strict=True)},
            index=frame.index,
        )
        folded.columns.name = frame.columns.name
        return folded
    names = [str(name) if name is not None else "row" for name in frame.index.names]
    rows = []
    for label, cells in frame.iterrows():
        by_value: dict[Hashable, tuple[Any, list[str]]] = {}
        for env, cell in cells.items():
            by_value.setdefault(_key(cell), (cell, []))[1].append(str(env))
        parts = label if isinstance(label, tuple) else (label,)
        for cell, envs in sorted(by_value.values(), key=lambda item: -len(item[1])):
            rows.append([*parts, cell, named(envs, total, examples=True)])
    return pd.DataFrame(rows, columns=[*names, value, "environments"])


def alike(frame: pd.DataFrame, column: str) -> list[list[str]]:
    """The values of `column` (environments) whose rows are the same but for it, grouped: each
    environment's series over time, say; groups in the order they first appear."""
    others = [name for name in frame.columns if name != column]
    rows: dict[str, list[tuple[Hashable, ...]]] = {}
    for env, *cells in frame[[column, *others]].itertuples(index=False, name=None):
        rows.setdefault(str(env), []).append(tuple(_key(cell) for cell in cells))
    groups: dict[tuple[tuple[Hashable, ...], ...], list[str]] = {}
    for env, series in rows.items():
        groups.setdefault(tuple(sorted(series, key=repr)), []).append(env)
    return list(groups.values())


def _key(value: Any) -> Hashable:
    """A cell as a dictionary key: mappings and lists as JSON, every missing value alike."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return value if isinstance(value, Hashable) else repr(value)
