"""Where reports are written and what each report notebook is given: names, not rendering.

`reports/YYYY-MM-DD/HHMMSS-<notebook>.ipynb` (UTC), a second audit in the same second taking
`HHMMSS-2`, with one `HHMMSS-audit.json` manifest per audit (claimed exclusively: `reserve_stem`)
that the index lists. `workbench audit`, `workbench reports prune|html`, the index and the Airflow
recipe (`workbench.recipes.airflow`) all name reports and their parameters through this module,
so they cannot drift apart. It imports nothing heavy: the Airflow DAG file imports it on the
scheduler.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core import clock
from workbench.core.locations import url_has_password

if TYPE_CHECKING:
    from workbench.render.reportstore import ReportStore

CONTRACT_AUDIT = "contract_audit"
RENDER_ENV_VAR = "WORKBENCH_RENDER"  # "report": the kernel renders charts for exported HTML
# What every report kernel gets through its environment (`workbench audit` and the Airflow recipe):
# charts rendered as static SVG plus the offline interactive view, as the exported HTML needs.
REPORT_KERNEL_ENV: Mapping[str, str] = {RENDER_ENV_VAR: "report"}


@contextmanager
def environment_set(values: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` holds `values` for the block (a kernel started in it inherits them), then again
    exactly what it held before: papermill starts its kernel from this process's environment."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# (notebook, title, the parameters the audit passes it) in the order reports are written and listed.
# They are the ones its parameters cell declares that the audit can supply (the others keep their
# defaults); tests/render/test_report_notebooks.py holds every notebook to this with papermill.
REPORT_NOTEBOOKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (CONTRACT_AUDIT, "Contract audit", ("run_id", "environments", "config_path", "store_url")),
    ("rollback_readiness", "Rollback readiness", ("run_id", "environments", "config_path", "store_url")),
    ("symptom_trends", "Symptom trends", ("environments", "config_path", "store_url", "triggers_path")),
    ("drift_explorer", "Drift explorer", ("run_b", "config_path", "store_url")),
)
MANIFEST_SUFFIX = "-audit.json"  # one per audit: `HHMMSS-audit.json`, what the index is built from
_MAX_ATTEMPTS = 999
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_STEM = re.compile(r"\d{6}(-\d{1,3})?")


def declared_parameters(notebook: str) -> tuple[str, ...]:
    """The parameters `workbench audit` passes a report notebook (all of them declared there)."""
    for name, _title, parameters in REPORT_NOTEBOOKS:
        if name == notebook:
            return parameters
    raise KeyError(f"no report notebook {notebook!r}")


def parameter_values(
    *, run_id: str, environments: Sequence[str], config_path: str, store_url: str, triggers_path: str = ""
) -> dict[str, Any]:
    """Every value a report notebook may be given, none of them a secret: a store URL that carries a
    password becomes "" (the kernel then reads $WORKBENCH_STORE from its environment), because
    papermill writes parameters into the output notebook (and a scheduler keeps them)."""
    return {
        "run_id": run_id,
        "run_b": run_id,
        "environments": list(environments),
        "config_path": config_path,
        "store_url": "" if url_has_password(store_url) else store_url,
        "triggers_path": triggers_path,
    }


def parameters_for(notebook: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters report notebook `notebook` is passed: exactly those it declares (`REPORT_NOTEBOOKS`)."""
    return {name: values[name] for name in declared_parameters(notebook)}


def reserve_stem(day_dir: Path, hhmmss: str, **placeholder: Any) -> tuple[str, Path]:
    """`claim_stem` in a local reports folder (`day_dir` is one of its dated folders)."""
    from workbench.render.reportstore import LocalReportStore

    stem, _key = claim_stem(LocalReportStore(day_dir.parent), day_dir.name, hhmmss, **placeholder)
    return stem, audit_manifest(day_dir, stem)


def claim_stem(store: ReportStore, day: str, hhmmss: str, **placeholder: Any) -> tuple[str, str]:
    """A report stem no other audit or scheduler task in this second has taken, claimed by creating
    its manifest `DAY/STEM-audit.json` only if none exists (`ReportStore.claim`: `O_EXCL` in a
    folder, `If-None-Match: *` in a bucket), holding `placeholder` until the reports are written.
    Returns the stem and the manifest's key."""
    record = {
        "status": "running",
        "time": f"{hhmmss[:2]}:{hhmmss[2:4]}:{hhmmss[4:]}",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        **placeholder,
    }
    body = json.dumps(record).encode("utf-8")
    for stem in stems(hhmmss):
        key = manifest_key(day, stem)
        if store.claim(key, body):
            return stem, key
    raise FileExistsError(f"no free report name in {store.url(day)} for {hhmmss}")


def manifest_key(day: str, stem: str) -> str:
    """The key of an audit's manifest under the reports root: `YYYY-MM-DD/HHMMSS[-N]-audit.json`."""
    return f"{day}/{stem}{MANIFEST_SUFFIX}"


def day_folder(reports_dir: Path, moment: datetime) -> Path:
    """`reports/YYYY-MM-DD`: the UTC day of `moment`."""
    return reports_dir / f"{clock.utc(moment):%Y-%m-%d}"


def time_stem(moment: datetime) -> str:
    """`HHMMSS`: the UTC time of `moment`, the first choice of a report stem."""
    return f"{clock.utc(moment):%H%M%S}"


def stems(first: str) -> Iterator[str]:
    """The stems to try in turn: `HHMMSS`, then `HHMMSS-2`, `HHMMSS-3`, ... (another audit took it)."""
    yield first
    for attempt in range(2, _MAX_ATTEMPTS + 1):
        yield f"{first}-{attempt}"


def report_notebook(day_dir: Path, stem: str, notebook: str) -> Path:
    """The executed notebook `HHMMSS[-N]-<notebook>.ipynb` (its HTML has the same name, `.html`)."""
    return day_dir / f"{stem}-{notebook}.ipynb"


def audit_manifest(day_dir: Path, stem: str) -> Path:
    return day_dir / f"{stem}{MANIFEST_SUFFIX}"


def report_of(notebook: Path) -> tuple[str, str, str] | None:
    """(stem, notebook name, title) of an executed report `HHMMSS[-N]-<notebook>.ipynb`, else None."""
    for name, title, _parameters in REPORT_NOTEBOOKS:
        stem = notebook.name.removesuffix(f"-{name}.ipynb")
        if stem != notebook.name and _STEM.fullmatch(stem):
            return stem, name, title
    return None


def folder_day(name: str) -> date | None:
    """The date a folder name stands for, or None (`2026-02-30`, `latest`, `2026-1-2` are not dates)."""
    if not _DAY.fullmatch(name):
        return None
    try:
        return clock.parse_day(name)
    except ValueError:
        return None
