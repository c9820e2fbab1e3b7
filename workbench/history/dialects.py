"""Everything that differs between the stores the workbench speaks, SQLite and PostgreSQL, in one
place: which URLs are accepted, the engine each gets, the lock a schema change takes, upserts,
flooring in SQL and byte-ordered text. The rest of the history writes one SQL for both.

A URL naming any other database (`mysql://...`) is refused in one line naming the supported ones,
before a driver is looked for: a schema, a lock or an upsert that was never tested there would fail
somewhere deep instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError

from workbench.core.errors import StoreError
from workbench.core.locations import STORE_ENV_VAR, SUPPORTED_STORES

POSTGRES_EXTRA = "pip install 'contract-workbench[postgres]'"
IMMEDIATE = "workbench_write"  # execution option: on SQLite, begin with the write lock held
_SCHEMA_LOCK = 0x776F726B62656E63  # "workbenc": the PostgreSQL advisory lock taken to change the schema
_EXAMPLES = "sqlite:///data/history.sqlite or postgresql://user@host/db"


def parse_url(url: str) -> sa.URL:
    """A store URL of a supported backend, with PostgreSQL's driver made explicit (psycopg 3)."""
    try:
        parsed = sa.engine.make_url(url)
    except (ArgumentError, ValueError):
        raise StoreError(
            f"{STORE_ENV_VAR} / --store is not a database URL: expected e.g. {_EXAMPLES}"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in SUPPORTED_STORES:
        raise StoreError(
            f"{STORE_ENV_VAR} / --store: a {backend} store is not supported; the history store is one of "
            f"{', '.join(SUPPORTED_STORES)} ({_EXAMPLES})"
        )
    if backend == "sqlite" and (
        parsed.database in (None, "", ":memory:") or "memory" in str(parsed.query.get("mode", ""))
    ):
        raise StoreError(
            f"{STORE_ENV_VAR} / --store: an in-memory SQLite store keeps nothing once the command ends, "
            "and the report kernel cannot read it: use a file, e.g. sqlite:///data/history.sqlite"
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "postgresql+psycopg":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise StoreError(f"a PostgreSQL store needs psycopg 3: {POSTGRES_EXTRA}") from None
    return parsed


def create_engine(url: sa.URL, *, shown: str, create_folder: bool) -> Engine:
    """The engine for `url` (`shown`: the URL as it may be printed). SQLite: only a default
    location's folder is created, a folder named in a URL must exist."""
    if url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:":
            folder = Path(database).parent
            if create_folder:
                folder.mkdir(parents=True, exist_ok=True)
            elif not folder.is_dir():
                raise StoreError(
                    f"store folder {folder} does not exist (from {shown}): create it, or fix the URL"
                )
        engine = sa.create_engine(url, connect_args={"timeout": 60})
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10  # an unreachable host fails in seconds, not minutes
    try:
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except (ArgumentError, ImportError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(f"cannot use store URL {shown}: {reason}") from None


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and several writing runs share one file; busy_timeout waits instead of failing.

    pysqlite's own transaction handling is off (it would not put DDL in a transaction):
    `_sqlite_begin` emits BEGIN itself.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Writes take the write lock up front: waiting for it honours busy_timeout, upgrading does not."""
    immediate = connection.get_execution_options().get(IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def lock_schema(connection: Connection) -> None:
    """Hold the schema-change lock for this transaction: PostgreSQL's advisory lock (SQLite's
    `BEGIN IMMEDIATE`, taken by a write transaction, already is one)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK)))


def insert(dialect: str, table: sa.Table) -> Any:
    """An INSERT that can take ON CONFLICT clauses (both backends spell them alike)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def floor(value: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """floor() of a non-negative number: SQLite's CAST truncates (= floor there); PostgreSQL's rounds."""
    return sa.func.floor(value) if dialect == "postgresql" else sa.cast(value, sa.Integer)


def vacuum(engine: Engine, tables: list[str]) -> None:
    """Give back the space of deleted and rewritten rows, so their old bytes are gone from the files:
    SQLite rewrites the whole file, then empties its WAL; PostgreSQL rewrites each table (VACUUM FULL,
    which dead tuples would otherwise outlive). Both outside any transaction."""
    raw = engine.raw_connection()  # the driver's own: no transaction begun around these
    try:
        if engine.dialect.name == "postgresql":
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            statements = [f"VACUUM FULL {table}" for table in tables]
        else:  # pysqlite runs in autocommit here (`_sqlite_connect`)
            statements = ["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"]
        cursor = raw.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()
    finally:
        if engine.dialect.name == "postgresql":
            raw.driver_connection.autocommit = False  # type: ignore[union-attr]
        raw.close()


def add_column(connection: Connection, table: str, column: sa.Column[Any]) -> None:
    """`ALTER TABLE table ADD COLUMN ...`, the column's type and default spelled for this backend
    (PostgreSQL's byte-ordered text carries its collation)."""
    spelled = sa.schema.CreateColumn(column).compile(dialect=connection.dialect)
    connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {spelled}")


def ordered_text(length: int) -> sa.types.TypeEngine[str]:
    """Ids and ISO times: compared and ordered as bytes on every backend (PostgreSQL's "C" collation,
    whatever the server's default)."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")
