"""Shared fixtures: no test reaches anything but loopback, and none sees the developer's credentials."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ambient import NO_AMBIENT_AWS
from tests.paths import REPO

_OUTSIDE_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "COMETAPI_API_KEY",
    "WORKBENCH_CONFIG",
    "WORKBENCH_STORE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clear proxies, provider keys and workbench settings so tests are hermetic and loopback-only."""
    for name in _OUTSIDE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in NO_AMBIENT_AWS.items():
        monkeypatch.setenv(name, value)
    yield


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project-like working directory (defaults such as data/ and reports/ land here)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("XDG_CACHE_HOME", str(REPO / ".venv" / "cache"))
