"""The probe catalog, the engine that runs probes across environments, verdicts, known-good fixtures.

May import: `workbench.history`, `workbench.wire`, `workbench.reference`, `workbench.core`.
"""
