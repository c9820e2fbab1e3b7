"""An old key's material removed from a store that already holds it, and the space it held reclaimed.

Versions before the redaction of issue 20 could store an echoed key, whole or in pieces, in any of
the forms `core.redaction` knows. After the key is rotated, `workbench store scrub --key-env OLD_VAR`
reads every text column of every project's rows, replaces what the redactor would replace (the same
forms and fragments, JSON values redacted inside their structure so they stay JSON), and then
vacuums the store, so the old bytes are not left in free pages, the WAL or dead tuples.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from workbench.core.redaction import Redactor
from workbench.history.dialects import vacuum
from workbench.history.schema import confirmations_table, readiness_table, results_table, runs_table

# The tables whose text a run writes from what endpoints and people send (the secret search's too),
# with the columns that hold JSON: redacted value by value, so they stay JSON.
SCRUBBED = (results_table, runs_table, confirmations_table, readiness_table)
JSON_COLUMNS = frozenset(
    {"results.shape", "results.facts", "runs.environments", "runs.requests", "readiness.steps"}
)
_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class Scrubbed:
    """What `scrub` changed: rows per `table.column` (empty: the store held none of it)."""

    columns: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.columns.values())


def scrub(engine: Engine, redactor: Redactor) -> Scrubbed:
    """Redact every text column of `SCRUBBED` with `redactor` in one transaction, then vacuum."""
    changed: dict[str, int] = {}
    with engine.begin() as connection:
        for table in SCRUBBED:
            updates = list(_changed_rows(connection, table, redactor))
            for key, values in updates:
                connection.execute(table.update().where(*_match(table, key)).values(**values))
                for name in values:
                    changed[f"{table.name}.{name}"] = changed.get(f"{table.name}.{name}", 0) + 1
    vacuum(engine, [table.name for table in SCRUBBED])
    return Scrubbed(dict(sorted(changed.items())))


def _changed_rows(
    connection: Connection, table: sa.Table, redactor: Redactor
) -> Iterator[tuple[tuple[Any, ...], dict[str, str]]]:
    """(primary key, the text columns that change) for every row holding the key, read in batches."""
    keys = list(table.primary_key.columns)
    texts = [
        column for column in table.columns if isinstance(column.type, sa.String) and not column.primary_key
    ]
    query = sa.select(*keys, *texts).order_by(*keys).execution_options(yield_per=_BATCH)
    for row in connection.execute(query):
        key = tuple(row[: len(keys)])
        values = {}
        for column, text in zip(texts, row[len(keys) :], strict=True):
            if not text:
                continue
            clean = _redacted(f"{table.name}.{column.name}", text, redactor)
            if clean != text:
                values[column.name] = clean
        if values:
            yield key, values


def _redacted(column: str, text: str, redactor: Redactor) -> str:
    if column in JSON_COLUMNS:
        try:
            value = json.loads(text)
        except ValueError:
            return redactor(text)
        clean = redactor.deep(value)
        return text if clean == value else json.dumps(clean)
    return redactor(text)


def _match(table: sa.Table, key: tuple[Any, ...]) -> list[sa.ColumnElement[bool]]:
    return [column == value for column, value in zip(table.primary_key.columns, key, strict=True)]
