"""Tests of workbench.history: the store on SQLite and PostgreSQL, shared by processes."""
