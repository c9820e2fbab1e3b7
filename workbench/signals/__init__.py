"""Rollback triggers: rules and their evaluation, trends over the history, watching an app's log.

May import: `workbench.history`, `workbench.wire`, `workbench.core`.
"""
