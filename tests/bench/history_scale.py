"""Figure 5: a year of scheduled runs, 1,000,000 result rows in SQLite: the trends aggregation (in SQL)
and the size of the trends report, the same at 10,000 and at 1,000,000 rows; and what the upgrade to
project names (schema version 3) costs such a store: the migration (the rollups rebuilt with the
project in their keys, the results' indexes rebuilt), `workbench store claim` of every environment,
and a rebuild of every rollup from the results."""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.history import oldstores
from workbench.history.schema import results_table, runs_table
from workbench.history.store import HistoryStore
from workbench.probes.catalog import CATALOG

from ._common import Figure, median

ENVIRONMENTS = ("staging", "production", "eu-staging", "eu-production", "canary")
PROBES = tuple(CATALOG)
SYMPTOMS = ("transport", "auth", "validation", "rate_limit", "server", "parser", "quality")
PROJECT = "bench"  # the project name every row of these stores belongs to
CONFIG = f'[workbench]\nproject = "{PROJECT}"\n\n[environments.staging]\nbase_url = "embedded"\n'


def synthesize(url: str, rows: int, *, days: float = 365.0, seed: int = 7) -> None:
    """`rows` results of project `PROJECT` from runs spread evenly over `days` up to now, through the
    real schema."""
    store = HistoryStore(url, project_name=PROJECT)
    for run_rows, result_rows in _batches(rows, days, seed):
        with store.engine.begin() as connection:
            connection.execute(runs_table.insert(), [{**row, "project": PROJECT} for row in run_rows])
            connection.execute(results_table.insert(), [{**row, "project": PROJECT} for row in result_rows])
    store.rebuild_rollups()  # what every append keeps current; a bulk load rebuilds them once
    store.close()


def synthesize_v2(url: str, rows: int, *, days: float = 365.0, seed: int = 7) -> None:
    """The same history in a store as version 2 (before project names) left it; its rollups too."""
    oldstores.create_v2_store(url, {})
    engine = sa.create_engine(url)
    runs, results = oldstores.V2.tables["runs"], oldstores.V2.tables["results"]
    for run_rows, result_rows in _batches(rows, days, seed):
        with engine.begin() as connection:
            connection.execute(runs.insert(), run_rows)
            connection.execute(results.insert(), result_rows)
    engine.dispose()
    oldstores.fill_v2_rollups(url)


def _batches(
    rows: int, days: float, seed: int
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Runs and their results, about 50,000 results at a time."""
    rng = random.Random(seed)
    per_run = len(ENVIRONMENTS) * len(PROBES)
    runs = max(1, rows // per_run)
    now = datetime.now(UTC)
    step = timedelta(days=days) / runs
    run_rows: list[dict[str, Any]] = []
    result_rows: list[dict[str, Any]] = []
    for index in range(runs):
        started = now - timedelta(days=days) + step * index
        stamp = started.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{index:06x}"
        run_rows.append(
            {
                "run_id": run_id,
                "started_at": stamp,
                "finished_at": stamp,
                "status": "complete",
                "environments": json.dumps(ENVIRONMENTS),
                "config_digest": "0" * 64,
                "command": "audit",
                "workbench_version": "bench",
                "requests": "{}",
                "host": "bench",
                "pid": None,
            }
        )
        for env in ENVIRONMENTS:
            for probe in PROBES:
                failed = rng.random() < 0.06
                result_rows.append(
                    {
                        "run_id": run_id,
                        "env": env,
                        "probe": probe,
                        "area": "endpoint",
                        "outcome": "fail" if failed else "pass",
                        "symptom": rng.choice(SYMPTOMS) if failed else "none",
                        "retryable": False,
                        "http_status": 200,
                        "latency_ms": rng.lognormvariate(4.0, 0.6),
                        "ttft_ms": None,
                        "retry_after_s": None,
                        "detail": "synthetic",
                        "action": "",
                        "started_at": stamp,
                        "shape": "[]",
                        "facts": "{}",
                    }
                )
        if len(result_rows) >= 50_000 or index == runs - 1:
            yield run_rows, result_rows
            run_rows, result_rows = [], []


def upgrade(url: str, rows: int) -> dict[str, float]:
    """Seconds to migrate a version 2 store to project names, to claim every environment for one
    project, and to rebuild every rollup from the results."""
    started = time.perf_counter()
    store = HistoryStore(url, project_name=PROJECT)  # the migration runs as the store opens
    migrated = time.perf_counter()
    claimed = store.claim_legacy()
    adopted = time.perf_counter()
    store.rebuild_rollups()
    rebuilt = time.perf_counter()
    store.close()
    assert claimed.rows["results"] >= rows * 0.99, claimed.rows  # every result adopted
    return {"migration": migrated - started, "claim": adopted - migrated, "rollup rebuild": rebuilt - adopted}


def aggregate(url: str, since_days: float, config: Path) -> float:
    """Seconds to compute everything the trends report shows (counts, rates, latency, triggers)."""
    from workbench.render.trends_view import TrendsView

    started = time.perf_counter()
    TrendsView.load(since_days=since_days, store_url=url, config_path=str(config))
    return time.perf_counter() - started


def report_bytes(url: str, folder: Path, since_days: float, config: Path) -> int:
    """The symptom_trends report rendered exactly as `workbench audit` renders it; its HTML size."""
    from workbench.render.notebooks import execute_notebook, export_html
    from workbench.render.reportnames import REPORT_KERNEL_ENV

    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "symptom_trends.ipynb"
    output = folder / f"trends-{abs(hash(url))}.ipynb"
    execute_notebook(
        notebook,
        output,
        {"store_url": url, "since_days": since_days, "config_path": str(config)},
        cwd=Path.cwd(),
        kernel_env=REPORT_KERNEL_ENV,
    )
    html = export_html(output, output.with_suffix(".html"))
    output.unlink()
    return html.stat().st_size


def run(rounds: int = 3) -> list[Figure]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        config = folder / "environments.toml"
        config.write_text(CONFIG)
        small, large = f"sqlite:///{folder / 'small.sqlite'}", f"sqlite:///{folder / 'large.sqlite'}"
        started = time.perf_counter()
        synthesize(small, 10_000)
        synthesize(large, 1_000_000)
        built = time.perf_counter() - started
        aggregate(large, 366, config)  # warm-up: page cache, imports
        seconds = median([aggregate(large, 366, config) for _ in range(rounds)])
        sizes = {
            label: report_bytes(url, folder, 366, config) for label, url in (("10k", small), ("1M", large))
        }
        (folder / "large.sqlite").unlink()  # one million-row store on disk at a time
        old = f"sqlite:///{folder / 'v2.sqlite'}"
        synthesize_v2(old, 1_000_000)
        upgraded = upgrade(old, 1_000_000)
    return [
        Figure(
            "history scale: trends aggregation of 1M rows (a year)",
            seconds / 2.0,
            1.0,
            {"aggregation": seconds},
            unit="s",
            notes=f"ratio = seconds / 2 s target; history built in {built:.0f} s",
        ),
        Figure(
            "history scale: trends HTML at 1M rows",
            sizes["1M"] / (2 * 1024 * 1024),
            1.0,
            {"1M rows": sizes["1M"] / 1024 / 1024, "10k rows": sizes["10k"] / 1024 / 1024},
            unit="MiB",
            notes=f"ratio = size / 2 MiB target; 1M/10k size ratio {sizes['1M'] / sizes['10k']:.2f}",
        ),
        Figure(
            "history scale: upgrading a 1M-row store to project names (schema 3)",
            upgraded["migration"],
            1.0,
            upgraded,
            unit="s",
            notes="ratio = migration seconds; informational: paid once, when the first upgraded run opens it",
            informational=True,
        ),
    ]
