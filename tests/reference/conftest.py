"""The reference endpoint's fixtures: endpoints started once per module, one plain HTTP client."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from openai import OpenAI

from tests.reference.exchange import KEY, Endpoints
from workbench.core.scenarios import Scenario
from workbench.reference.endpoint import EmbeddedEndpoint


@pytest.fixture(scope="module")
def endpoints() -> Iterator[Endpoints]:
    """Start each (scenarios, latency) combination once per module; stop them all at the end."""
    started: dict[tuple[frozenset[Scenario], float], EmbeddedEndpoint] = {}

    def get(*scenarios: Scenario, latency_ms: float = 0.0) -> EmbeddedEndpoint:
        key = (frozenset(scenarios or {Scenario.CONFORMANT}), latency_ms)
        if key not in started:
            started[key] = EmbeddedEndpoint(key[0], api_key=KEY, latency_ms=latency_ms).start()
        return started[key]

    yield get
    stoppers = [threading.Thread(target=endpoint.stop) for endpoint in started.values()]
    for thread in stoppers:
        thread.start()
    for thread in stoppers:
        thread.join()


@pytest.fixture(scope="module")
def conformant(endpoints: Endpoints) -> EmbeddedEndpoint:
    return endpoints()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:  # trust_env=False: no proxy, no netrc
        yield client


@pytest.fixture(scope="module")
def sdk(http: httpx.Client) -> Callable[[EmbeddedEndpoint], OpenAI]:
    """The official client for any endpoint, over the module's plain transport, never retrying."""
    return lambda endpoint: OpenAI(
        base_url=endpoint.base_url + "/v1", api_key=KEY, max_retries=0, http_client=http
    )
