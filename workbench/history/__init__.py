"""The history of every run: the store (schema, migrations, rollups), operator confirmations, and
drift between runs. Other layers use the store through `HistoryStore`'s methods only.

May import: `workbench.wire`, `workbench.core`.
"""
