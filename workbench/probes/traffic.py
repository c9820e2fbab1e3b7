"""The workbench's own traffic: one slot per host, a spend cap per environment, each probe's tally.

These are the auditor's choices, so none of them may ever show up as the endpoint's fault. Probes
of one host (scheme, host, port) take turns: a one-slot server that drops the running request when
another arrives, a queueing server, or a provider with a low rate limit would otherwise answer the
workbench's own burst, and the verdict would depend on which probes happened to overlap. A host
that cannot be reached at all is tried once. Retries add billable requests, so every request is
charged against a per-run cap before it is sent.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.core.config import Environment

if TYPE_CHECKING:
    from workbench.probes.base import Probe

# Each planned request may be asked once more with another token parameter or without the
# sampling fields the workbench chose; each answer-judging probe once more with the larger budget.
RETRY_FACTOR = 2


def origin_of(base_url: str) -> str:
    """`scheme://host:port` with the scheme's default port made explicit: the unit of politeness."""
    url = urllib.parse.urlsplit(base_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.scheme}://{(url.hostname or '').lower()}:{port}"


@dataclass(slots=True)
class HostGate:
    """One host's turn-taking (`concurrency_per_env` at a time) and whether it was ever reached."""

    slot: asyncio.Semaphore
    reached: bool = False
    unreachable: str = ""  # why no request ever reached it, once one failed to connect


@dataclass(slots=True)
class Tally:
    """What one probe sent and what the auditor should know about its own choices (notes)."""

    sent: int = 0
    reached: int = 0  # requests that got an HTTP status back
    notes: list[str] = field(default_factory=list)


class SpendCapReached(Exception):
    """A request would pass the run's cap: it is not sent, and the probe could not judge."""


@dataclass(slots=True)
class Spend:
    """One environment's requests and requested tokens this run, against its caps."""

    env: str
    max_requests: int
    max_tokens: int
    requests: int = 0
    tokens: int = 0

    def charge(self, tokens: int) -> None:
        """Count one request asking for `tokens`, or raise without counting when it would pass a cap."""
        if self.requests + 1 > self.max_requests:
            raise SpendCapReached(
                f"spend cap reached: {self.max_requests} requests to {self.env} this run; nothing more "
                "was sent (raise [workbench] max_requests_per_env to allow more)"
            )
        if self.tokens + tokens > self.max_tokens:
            raise SpendCapReached(
                f"spend cap reached: {self.tokens} of {self.max_tokens} requested tokens used for "
                f"{self.env} this run and this request asks for {tokens}; nothing more was sent (raise "
                "[workbench] max_requested_tokens_per_env to allow more)"
            )
        self.requests += 1
        self.tokens += tokens


@dataclass(frozen=True, slots=True)
class PlannedProbe:
    """What one probe would send to one environment, before any retry."""

    probe: str
    requests: int
    tokens: int
    skipped: str  # why it sends nothing ("" when it sends)


def plan_probe(
    probe: Probe, env: Environment, *, requested: frozenset[str], allow_negatives: bool
) -> PlannedProbe:
    """The requests and requested tokens of `probe` on `env`, or why it is skipped."""
    skipped = probe.skip_reason(env, requested, allow_negatives)
    if skipped or probe.sends == 0:
        return PlannedProbe(probe.id, 0, 0, skipped or "sends nothing")
    return PlannedProbe(probe.id, probe.sends, probe.sends * probe.tokens_per_request(env), "")


def default_caps(env: Environment, catalog: Iterable[Probe]) -> tuple[int, int]:
    """(requests, requested tokens) that cover the whole catalog once with every retry it may make."""
    probes = list(catalog)
    sends = sum(probe.sends for probe in probes)
    rebudgeted = sum(1 for probe in probes if probe.judges_answer)
    requests = RETRY_FACTOR * sends + rebudgeted
    tokens = sum(RETRY_FACTOR * probe.sends * probe.tokens_per_request(env) for probe in probes)
    return requests, tokens + rebudgeted * env.max_tokens_retry


def caps_for(
    env: Environment, catalog: Sequence[Probe], max_requests: int | None, max_tokens: int | None
) -> tuple[int, int]:
    """The configured caps, each defaulting to what covers the catalog once."""
    requests, tokens = default_caps(env, catalog)
    return (max_requests or requests, max_tokens or tokens)


@dataclass(frozen=True, slots=True)
class EnvironmentPlan:
    """What a run would send to one environment (`workbench probe --dry-run`), before any retry."""

    env: str
    endpoint: str  # base URL and path, or "embedded"
    token_param: str
    max_tokens: int
    max_tokens_retry: int
    probes: tuple[PlannedProbe, ...]
    max_requests: int
    max_requested_tokens: int
    key_variable: str | None
    key_set: bool

    @property
    def requests(self) -> int:
        return sum(planned.requests for planned in self.probes)

    @property
    def tokens(self) -> int:
        return sum(planned.tokens for planned in self.probes)

    def to_json(self) -> dict[str, object]:
        return {
            "env": self.env,
            "endpoint": self.endpoint,
            "token_param": self.token_param,
            "max_tokens": self.max_tokens,
            "max_tokens_retry": self.max_tokens_retry,
            "requests": self.requests,
            "requested_tokens": self.tokens,
            "max_requests": self.max_requests,
            "max_requested_tokens": self.max_requested_tokens,
            "key_variable": self.key_variable,
            "key_set": self.key_set,
            "probes": [
                {"probe": p.probe, "requests": p.requests, "tokens": p.tokens, "skipped": p.skipped}
                for p in self.probes
            ],
        }


def plan_environment(
    env: Environment,
    probes: Sequence[Probe],
    catalog: Sequence[Probe],
    *,
    requested: frozenset[str],
    allow_negatives: bool,
    max_requests: int | None,
    max_tokens: int | None,
    key_set: bool,
) -> EnvironmentPlan:
    """The dry run of one environment: each probe's requests and tokens, and the caps that apply."""
    cap_requests, cap_tokens = caps_for(env, catalog, max_requests, max_tokens)
    return EnvironmentPlan(
        env=env.name,
        endpoint="embedded" if env.is_embedded else env.base_url + env.path,
        token_param=env.token_param,
        max_tokens=env.max_tokens,
        max_tokens_retry=env.max_tokens_retry,
        probes=tuple(
            plan_probe(probe, env, requested=requested, allow_negatives=allow_negatives) for probe in probes
        ),
        max_requests=cap_requests,
        max_requested_tokens=cap_tokens,
        key_variable=env.api_key_env,
        key_set=key_set,
    )
