"""Contract Workbench in Apache Airflow 3: the daily audit as three DAGs (see data/schedules/README.md).

Copy this file into the dags folder of workers that have the project folder (WORKBENCH_PROJECT, with
the workbench installed in its .venv: `make install` in a clone, or `pip install contract-workbench`
there; `workbench init` writes this file into a new project). Every rule lives in the package
(`workbench.recipes.airflow`, under the project's lint, types and layers): this file only finds it
and builds the DAGs. It imports in milliseconds: nothing heavy is loaded at parse time.

`contract_audit_papermill`: probe -> contract_audit_notebook -> contract_audit_html -> gate
`contract_audit_cli`: `workbench audit` in one task
`contract_audit_workers`: environments -> probe (mapped, one per environment) -> render -> gate: for
several workers sharing no disk (WORKBENCH_STORE a PostgreSQL store, `[workbench] reports` an
s3://bucket/prefix); the gate is every environment's readiness
All three take the environments to audit as the DAG parameter `environments` (empty: every one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Where the project lives on the workers: set WORKBENCH_PROJECT in the workers' environment.
PROJECT = Path(os.environ.get("WORKBENCH_PROJECT", "/srv/contract-workbench"))

try:
    from workbench.recipes import airflow as recipe
except ImportError:  # Airflow's own Python: the workbench of the project's .venv (or its clone)
    sys.path.extend(str(p) for p in (*sorted(PROJECT.glob(".venv/lib/python3*/site-packages")), PROJECT))
    from workbench.recipes import airflow as recipe

try:
    import airflow  # noqa: F401  (only to know whether this runs inside Airflow)
except ImportError:  # imported by the tests, or by a worker without Airflow: no DAG
    pass
else:
    contract_audit_papermill, contract_audit_cli, contract_audit_workers = recipe.build_dags(
        PROJECT, recipe.__doc__ or ""
    )
