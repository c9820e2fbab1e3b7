"""`store_url`: an empty history store of the test's own, on SQLite and on PostgreSQL.

Use it with `pytest_plugins = ("tests.pg",)` (not an import, so pytest rewrites its asserts).
The SQLite case is a file in the test's temporary folder. The PostgreSQL case needs
`WORKBENCH_TEST_POSTGRES_URL`, a server and a role that may create databases (`.ci/run` starts
one): each test module gets a fresh database, dropped after the module, and each test an empty
schema of its own in it (named by the URL's `search_path`), so tests never see each other's rows
or tables. Without the variable the PostgreSQL cases skip, unless `WORKBENCH_REQUIRE_POSTGRES=1`
(CI), where they fail. `module_store_url` is the same, shared by a module's tests;
`another_store_url(url)` makes one more empty store beside `url`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

POSTGRES_URL_ENV = "WORKBENCH_TEST_POSTGRES_URL"
REQUIRE_ENV = "WORKBENCH_REQUIRE_POSTGRES"

BACKENDS = (
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
)


def _server() -> sa.URL:
    raw = os.environ.get(POSTGRES_URL_ENV)
    if not raw:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {POSTGRES_URL_ENV} is not set")
        pytest.skip(f"set {POSTGRES_URL_ENV} to a PostgreSQL URL whose role may create databases")
    url = sa.make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


@pytest.fixture(scope="module")
def postgres_database(request: pytest.FixtureRequest) -> Iterator[sa.URL]:
    """A fresh database for this test module, dropped (with any connection left) after it."""
    with fresh_database(request.module.__name__.rpartition(".")[2]) as url:
        yield url


@pytest.fixture(scope="session")
def new_database() -> Callable[[str], AbstractContextManager[sa.URL]]:
    """`fresh_database`, for a test module that needs a second database (Airflow's metadata)."""
    return fresh_database


@contextmanager
def fresh_database(label: str) -> Iterator[sa.URL]:
    """A new database on the test server (named after `label`), dropped with its connections after."""
    server = _server()
    name = f"wb_{label}_{secrets.token_hex(4)}".lower()[:63]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _new_schema(database: sa.URL) -> str:
    schema = f"t_{secrets.token_hex(6)}"
    engine = sa.create_engine(database, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    url = database.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _store_url(request: pytest.FixtureRequest, folder: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'history.sqlite'}"
    return _new_schema(request.getfixturevalue("postgres_database"))


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store for this test (nothing created yet: the first `HistoryStore` creates it)."""
    return _store_url(request, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def module_store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty store shared by a module's tests (for an expensive fixture that fills it once)."""
    return _store_url(request, tmp_path_factory.mktemp("store"))


@pytest.fixture
def another_store_url(tmp_path: Path) -> Callable[[str], str]:
    """One more empty store beside a store URL: a new SQLite file, or a new schema in its database."""

    def make(store_url: str) -> str:
        if store_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'history-{secrets.token_hex(4)}.sqlite'}"
        return _new_schema(sa.make_url(store_url).difference_update_query(["options"]))

    return make
