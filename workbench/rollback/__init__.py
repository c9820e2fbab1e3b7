"""Rollback readiness: bundles and manifests, verify/diff/plan, the ten-step readiness and its evidence.

May import: `workbench.probes`, `workbench.signals` (trigger evidence for step 9), `workbench.history`,
`workbench.wire`, `workbench.core`.
"""
