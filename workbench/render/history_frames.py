"""The history as pandas frames, for your own questions in JupyterLab: `workbench.History`.

Reports answer the questions the checklist asks; a team has others ("which probes of prod were
slow on Mondays?"). `History` reads the store through its public methods only and hands back
documented frames, so nobody needs a private module to slice the history:

    import workbench as wb
    history = wb.History()                      # $WORKBENCH_STORE, else data/history.sqlite;
                                                # this project's evidence ([workbench] project)
    history.runs(env="prod")                    # run_id, started_at, status, scope, ...
    history.results(env="prod", since="2026-11-01", probe="endpoint.minimal")
    history.shapes(run_id)                      # env, probe, field, type
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType

import pandas as pd

from workbench.core import clock
from workbench.history.store import open_for_report
from workbench.render.frames import results_frame

RUN_COLUMNS = [
    "run_id",
    "started_at",
    "finished_at",
    "status",
    "scope",
    "command",
    "config_path",
    "environments",
]
SHAPE_COLUMNS = ["env", "probe", "field", "type"]


class History:
    """Read-only frames of a history store (any store URL `workbench --store` takes)."""

    def __init__(self, store_url: str = "", *, config_path: str = "") -> None:
        """The store `store_url` (empty: as `--store` defaults), read for the project the
        configuration `config_path` names (empty: as `--config` defaults)."""
        self._store = open_for_report(config_path, store_url)

    @property
    def project(self) -> str:
        """Whose evidence these frames hold (`[workbench] project`, or derived: then it says so)."""
        return self._store.project_name.describe()

    @property
    def store(self) -> str:
        """The store, as it may be shown (no password)."""
        return self._store.display_url

    def runs(self, *, env: str | None = None, limit: int | None = 100) -> pd.DataFrame:
        """Runs, newest first: `RUN_COLUMNS`; `scope` is "complete" (a baseline candidate) or
        "partial" (a --probe selection); `environments` is a comma-separated list."""
        rows = [
            {
                "run_id": run.run_id,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "status": run.status,
                "scope": "complete" if run.complete else "partial",
                "command": run.command,
                "config_path": run.config_path,
                "environments": ", ".join(run.environments),
            }
            for run in self._store.runs(limit=limit, env=env)
        ]
        return pd.DataFrame(rows, columns=RUN_COLUMNS)

    def results(
        self,
        *,
        env: str | Sequence[str] = (),
        probe: str | Sequence[str] = (),
        since: str | datetime | None = None,
        run_id: str | Sequence[str] = (),
    ) -> pd.DataFrame:
        """One row per probe result, oldest first: `workbench.render.frames.RESULT_COLUMNS` (run_id,
        env, probe, area, outcome, symptom, retryable, http_status, latency_ms, ttft_ms,
        retry_after_s, detail, action, started_at). `since`: an ISO 8601 time or date, or a datetime."""
        start = clock.iso(since) if isinstance(since, datetime) else since
        return results_frame(
            self._store.results(_names(run_id), _names(env), probes=_names(probe), since=start)
        )

    def shapes(self, run_id: str) -> pd.DataFrame:
        """The response shape each probe of run `run_id` saw, one row per field: `SHAPE_COLUMNS`."""
        self._store.run(run_id)  # an unknown run is an error naming the store, not an empty frame
        rows = [
            {"env": result.env, "probe": result.probe, "field": field, "type": kind}
            for result in self._store.results([run_id])
            for field, _, kind in (entry.rpartition(":") for entry in result.shape)
        ]
        return pd.DataFrame(rows, columns=SHAPE_COLUMNS)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> History:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _names(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
