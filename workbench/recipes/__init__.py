"""What a team's own repository runs the workbench with: `workbench init`'s starter project, and the
scheduler recipe (an Airflow DAG) that calls the package instead of re-implementing it.

Import-light on purpose: an Airflow DAG processor imports `recipes.airflow` at parse time in a
Python that lacks the workbench's dependencies, so it may import only standard-library modules
of the workbench (`core.locations`, `core.clock`, `render.reportnames`); import-linter holds it to
that. May import: `workbench.render.reportnames`, `workbench.core`; only the CLI imports it.
"""
