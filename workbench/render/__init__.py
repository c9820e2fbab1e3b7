"""What people read: the report notebooks' views (one per notebook), frames, charts and theme;
papermill execution in a warm kernel, offline HTML, the index, pruning, JUnit, and `run_audit`.

May import: every layer below it; nothing imports it but the CLI and the notebooks.
"""
