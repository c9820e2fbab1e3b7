"""The history of every run: the store (schema, migrations, rollups) and operator confirmations.
Other layers use the store through `HistoryStore`'s methods only.

May import: `workbench.wire`, `workbench.core`.
"""
