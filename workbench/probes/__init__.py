"""The probe catalog, the engine that runs probes across environments, verdicts, known-good fixtures,
and drift between runs (judged with the catalog's traits: which shapes compare, probe versions).

May import: `workbench.history`, `workbench.wire`, `workbench.reference`, `workbench.core`.
"""
