"""Running probes: hosts concurrently, one request at a time per host, each result stored as it comes.

`run_probes` is the one entry point the CLI and the notebooks share. It starts an embedded
reference endpoint for every `base_url = "embedded"` environment, probes, appends every result to
the history within milliseconds of its finding (before it is counted or reported), stops what it
started, and returns a `RunSummary`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import secrets
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from workbench import __version__
from workbench.core import clock
from workbench.core.config import Config, Environment, check_keys_present
from workbench.core.errors import UsageError
from workbench.core.models import (
    NOT_SENT,
    UNREACHABLE_ACTION,
    Outcome,
    ProbeResult,
    Symptom,
    Verdict,
    VerdictStatus,
    action_for,
)
from workbench.core.redaction import Redactor
from workbench.core.secrets import check_probe_prompts
from workbench.history.confirmations import Confirmation, current_by_item
from workbench.history.store import HistoryStore, RunRecord
from workbench.probes.catalog import CATALOG, Finding, Probe, ProbeContext, get_probe
from workbench.probes.fixtures import load_fixture_set
from workbench.probes.traffic import (
    EnvironmentPlan,
    HostGate,
    Spend,
    SpendCapReached,
    Tally,
    caps_for,
    origin_of,
    plan_environment,
)
from workbench.probes.verdict import in_catalog_order, verdicts_for
from workbench.wire.acceptance import Acceptance, default_acceptance
from workbench.wire.client import ProbeClient
from workbench.wire.parser import ResponseParser, load_callable, reference_parser

ProgressCallback = Callable[[ProbeResult, int, int], None]
_T = TypeVar("_T")
NOT_APPLICABLE = {"applicable": False}  # the app's contract has nothing this probe judges


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one run found, and how a scheduler should read it."""

    run_id: str
    environments: tuple[str, ...]
    results: tuple[ProbeResult, ...]
    verdicts: tuple[Verdict, ...]
    requests: dict[str, int] = field(default_factory=dict)
    status: str = "complete"

    @property
    def exit_code(self) -> int:
        """0 every environment ready; 1 one is not (a failure, or an operator confirmation pending);
        2 nothing could run anywhere."""
        statuses = {verdict.status for verdict in self.verdicts}
        if statuses and statuses <= {VerdictStatus.READY}:
            return 0
        if statuses and statuses <= {VerdictStatus.COULD_NOT_RUN}:
            return 2
        return 1


def stored_summary(store: HistoryStore, run_id: str) -> RunSummary:
    """A finished run read back from the store, as `run_probes` returned it: what a report stage in
    another process (a scheduler's task) judges and renders. Raises StoreError for an unknown id."""
    run = store.run(run_id)
    results = tuple(in_catalog_order(store.results([run_id])))
    verdicts = tuple(verdicts_for(run.environments, results))
    return RunSummary(run_id, run.environments, results, verdicts, dict(run.requests or {}), run.status)


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and unique across concurrent runs: UTC timestamp plus random suffix."""
    now = now or clock.now()
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def plan_probes(probe_ids: Sequence[str] = ()) -> list[Probe]:
    """The probes to run: the named ones (validated), or the whole catalog in catalog order."""
    if not probe_ids:
        return list(CATALOG.values())
    return [get_probe(probe_id) for probe_id in dict.fromkeys(probe_ids)]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """A validated request: environments, probes, and each environment's parser and acceptance check.

    Built before anything is written, so a bad name or an unimportable parser is exit 2, not a run.
    """

    environments: tuple[Environment, ...]
    probes: tuple[Probe, ...]
    explicit: frozenset[str]
    parsers: Mapping[str, ResponseParser]
    acceptances: Mapping[str, Acceptance]


def plan_run(
    config: Config, env_names: Sequence[str] = (), probe_ids: Sequence[str] = (), *, check_keys: bool = True
) -> RunPlan:
    """Validate environment names, probe ids, key variables and plug-ins; raises before any side effect.

    `check_keys=False` for a dry run, which sends nothing and so needs no key.
    """
    envs = tuple(config.select(env_names))
    if check_keys:
        check_keys_present(config, envs)
    secrets_now = config.key_values()
    check_probe_prompts(envs, secrets_now, source=config.source)
    source = config.source or "<built-in default>"
    for env in envs:  # a named baseline that is missing, or a damaged fixture manifest, is bad input
        load_fixture_set(config.settings.fixtures_dir, env.name, env.baseline, source=source)
    parsers = {
        env.name: load_callable(
            env.parser, default=reference_parser, field=f"environments.{env.name}.parser", source=source
        )
        for env in envs
    }
    acceptances = {
        env.name: load_callable(
            env.acceptance,
            default=default_acceptance,
            field=f"environments.{env.name}.acceptance",
            source=source,
        )
        for env in envs
    }
    return RunPlan(envs, tuple(plan_probes(probe_ids)), frozenset(probe_ids), parsers, acceptances)


def dry_run(
    config: Config,
    env_names: Sequence[str] = (),
    probe_ids: Sequence[str] = (),
    *,
    allow_negatives: bool = False,
) -> list[EnvironmentPlan]:
    """What a run would send to each environment, sending nothing (no key needed, no store written)."""
    plan = plan_run(config, env_names, probe_ids, check_keys=False)
    settings = config.settings
    return [
        plan_environment(
            env,
            plan.probes,
            list(CATALOG.values()),
            requested=plan.explicit,
            allow_negatives=allow_negatives,
            max_requests=settings.max_requests_per_env,
            max_tokens=settings.max_requested_tokens_per_env,
            key_set=env.api_key_env is None or bool(env.api_key()),
        )
        for env in plan.environments
    ]


def run_probes(
    config: Config,
    env_names: Sequence[str] = (),
    probe_ids: Sequence[str] = (),
    *,
    store: HistoryStore,
    command: str = "probe",
    progress: ProgressCallback | None = None,
    allow_production_negatives: bool = False,
    run_id: str | None = None,
) -> RunSummary:
    """Probe the selected environments and store every result; safe to call inside Jupyter.

    The run is recorded before its event loop starts and finished after the loop has stopped,
    whatever stopped it: `complete`, `interrupted` (Ctrl-C, a kernel interrupt) or `failed`.
    """
    plan = plan_run(config, env_names, probe_ids)
    run = _Run(
        config,
        plan,
        store=store,
        command=command,
        progress=progress,
        allow_negatives=allow_production_negatives,
        run_id=run_id or new_run_id(),
    )
    run.begin()
    status = "failed"
    try:
        with _COLLECTOR:
            summary = _drive(run)
        status = "complete"
        return summary
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    finally:
        run.finish(status)


class _Collector:
    """While runs last, the cycle collector leaves out what was alive before them (modules,
    configuration, a notebook's frames) and runs a tenth as often; both are handed back after.

    With 200 environments (tests/bench/concurrency.py) it spent 260-390 ms a run, 160 young passes
    and one or two full ones that walked every object of the process and stopped the event loop for
    85-127 ms each (every response waiting meanwhile was timed as the endpoint's): now 15-75 ms. A
    run's garbage is freed by reference counting; the few cycles it leaves (tasks and their
    exceptions) wait a little longer, and what was frozen is collected after the run as before.
    Runs in several threads at once: the first to start sets the collector, the last hands it back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._thresholds = gc.get_threshold()

    def __enter__(self) -> None:
        with self._lock:
            if self._runs == 0:
                self._thresholds = gc.get_threshold()
                gc.freeze()
                gc.set_threshold(self._thresholds[0] * 10, *self._thresholds[1:])
            self._runs += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._runs -= 1
            if self._runs == 0:
                gc.set_threshold(*self._thresholds)
                gc.unfreeze()


_COLLECTOR = _Collector()


def _drive(run: _Run) -> RunSummary:
    """The run's probes on an event loop of their own; an interrupt stops them and waits until they have."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # asyncio.run turns the first Ctrl-C into a cancellation of the run, waits for it to unwind
        # (endpoints stopped, results in flight stored), then raises KeyboardInterrupt.
        asyncio.run(run.execute())
        return run.summary()
    # Inside a running loop (a Jupyter kernel): a worker thread with a loop of its own. An interrupt
    # lands here, in the calling thread: cancel the run over there and wait for it to unwind.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(asyncio.run, run.execute())
        try:
            future.result()
            return run.summary()
        except KeyboardInterrupt:
            run.cancel()
            concurrent.futures.wait([future])
            raise


class _Run:
    """One run: hosts concurrently; the probes of one host take turns (`concurrency_per_env` at a time)."""

    def __init__(
        self,
        config: Config,
        plan: RunPlan,
        *,
        store: HistoryStore,
        command: str,
        progress: ProgressCallback | None,
        allow_negatives: bool,
        run_id: str,
    ) -> None:
        self.config = config
        self.plan = plan
        self.store = store
        self.command = command
        self.progress = progress
        self.allow_negatives = allow_negatives
        self.run_id = run_id
        self.names = tuple(env.name for env in plan.environments)
        # every key value set now: what the endpoint echoes is redacted on arrival, and each result
        # again before it is stored or shown (a parser's or the workbench's own exception text)
        self.redact = Redactor.for_keys(config.key_values())
        self.results: list[ProbeResult] = []
        self.requests = dict.fromkeys(self.names, 0)
        self.total = len(plan.environments) * len(plan.probes)
        self._cancelled = False
        self._failed: Exception | None = None  # what a result's commit or progress report raised
        self._probing = set(self.names)  # environments whose probes are not all judged yet
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        """Record the run as running (the store first marks this host's dead runs interrupted)."""
        self.store.begin_run(
            RunRecord(
                run_id=self.run_id,
                started_at=clock.now_iso(),
                status="running",
                environments=self.names,
                config_digest=self.config.digest,
                command=self.command,
                workbench_version=__version__,
                complete={probe.id for probe in self.plan.probes} >= set(CATALOG),
                config_path=str(self.config.source.resolve()) if self.config.source else "",
            )
        )

    def finish(self, status: str) -> None:
        """Record how the run ended; a second Ctrl-C waits for this short write."""
        with _sigint_deferred():
            self.store.finish_run(
                self.run_id, status=status, finished_at=clock.now_iso(), requests=self.requests
            )

    def cancel(self) -> None:
        """From another thread: stop the run; what is stored stays stored."""
        self._cancelled = True
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed: nothing to stop
                loop.call_soon_threadsafe(task.cancel)

    async def execute(self) -> None:
        """Probe everything; the summary is `summary()` afterwards. Not the task's result: asyncio.run
        restoring the Ctrl-C handler (Python 3.11's signal.getsignal) formats its task's repr, result
        included, and the repr of a summary of 750 results took 20-25 ms of every 50-environment run."""
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        if self._cancelled:
            raise asyncio.CancelledError
        recorded = await asyncio.to_thread(self.store.confirmations, self.names)
        # One writer thread: results are committed in order, never contending with each other for
        # the store's write lock (six pool threads on SQLite spent most of their time in its busy
        # handler), and the event loop never waits on disk.
        self._writer = _BatchWriter(self.store)
        try:
            await self._probe_all(recorded)
        finally:
            self._writer.close()

    def summary(self) -> RunSummary:
        """The finished run: its results in catalog order, and each environment's verdict."""
        ordered = _catalog_order(self.results, self.names, self.plan.probes)
        verdicts = tuple(verdicts_for(self.names, ordered))
        return RunSummary(self.run_id, self.names, tuple(ordered), verdicts, self.requests, "complete")

    async def _probe_all(self, recorded: Sequence[Confirmation]) -> None:
        with open_endpoints(self.plan.environments) as endpoints:
            # one gate per host: environments behind one gateway share its turn-taking
            gates: dict[str, HostGate] = {}
            for base_url, _key in endpoints.values():
                origin = origin_of(base_url)
                if origin not in gates:
                    gates[origin] = HostGate(asyncio.Semaphore(self.config.settings.concurrency_per_env))
            await asyncio.gather(
                *(
                    self._probe_env(
                        env,
                        *endpoints[env.name],
                        current_by_item(c for c in recorded if c.env == env.name),
                        gates[origin_of(endpoints[env.name][0])],
                    )
                    for env in self.plan.environments
                )
            )

    async def _probe_env(
        self,
        env: Environment,
        base_url: str,
        key: Callable[[], str | None],
        confirmations: Mapping[str, Confirmation],
        gate: HostGate,
    ) -> None:
        settings = self.config.settings
        max_requests, max_tokens = caps_for(
            env, list(CATALOG.values()), settings.max_requests_per_env, settings.max_requested_tokens_per_env
        )
        async with ProbeClient(
            timeout_s=env.timeout_s,
            max_bytes=settings.max_body_bytes,
            max_connections=settings.concurrency_per_env,
            trust_env=not env.is_embedded,
            redact=self.redact,
            headers=env.header_values,
        ) as client:
            ctx = ProbeContext(
                env=env,
                client=client,
                url=base_url + env.path,
                key=key,
                parser=self.plan.parsers[env.name],
                acceptance=self.plan.acceptances[env.name],
                requested=self.plan.explicit,
                fixtures_dir=settings.fixtures_dir,
                confirmations=confirmations,
                spend=Spend(env.name, max_requests, max_tokens),
                gate=gate,
            )
            pending = deque(self.plan.probes)  # catalog order; each worker takes the next
            counting: list[asyncio.Task[None]] = []

            async def worker() -> None:
                """Probes one after another in one task: the next request leaves in the very step
                that judged the previous one. Handed over through the gate to another task instead,
                it left one loop iteration later, after every response that had arrived with it was
                judged: a wave of 200 environments went out together again, 200 judgements late."""
                while pending:
                    if self._failed is not None:  # a result could not be stored or reported: stop
                        raise self._failed
                    probe = pending.popleft()
                    result = await self._one(replace(ctx, tally=Tally()), probe)
                    stored = self._writer.submit(result)  # the finding is the writer's now
                    counting.append(asyncio.create_task(self._count(result, stored)))

            try:
                await asyncio.gather(*(worker() for _ in range(max(settings.concurrency_per_env, 1))))
            except BaseException:
                for task in counting:
                    task.cancel()  # what was submitted is stored all the same (`_BatchWriter.close`)
                raise
            self._probing.discard(env.name)
            if not self._probing:  # the last results of the run: nothing else will share their commit
                self._writer.hurry()
            await asyncio.gather(*counting)

    async def _one(self, ctx: ProbeContext, probe: Probe) -> ProbeResult:
        """One probe's result: skipped at once, or checked when the host gives this environment a turn."""
        started = clock.now_iso()
        skipped = probe.skip_reason(ctx.env, ctx.requested, self.allow_negatives)
        if skipped:
            applicable = probe.applies_to(ctx.env, ctx.requested)
            finding = Finding(Outcome.SKIP, Symptom.NONE, skipped, facts={} if applicable else NOT_APPLICABLE)
        else:
            assert ctx.gate is not None
            async with ctx.gate.slot:
                started = clock.now_iso()
                finding = await _check(probe, ctx)
        if ctx.tally.notes:
            notes = list(ctx.tally.notes)
            finding = replace(
                finding,
                detail="; ".join([finding.detail, *notes]),
                facts={**finding.facts, "notes": notes},
            )
        if _found_unreachable(finding, ctx):
            finding = replace(finding, facts={**finding.facts, "unreachable": True})
        uses = tuple(sorted(ctx.env.app.uses))
        result = _result(self.run_id, ctx.env.name, probe, finding, started, self.redact, uses)
        self.requests[ctx.env.name] += ctx.tally.reached
        return result

    async def _count(self, result: ProbeResult, stored: asyncio.Future[None]) -> None:
        """Count a result once it is durable, and report it; a store or progress failure stops the
        run's workers before their next probe, as it stopped the probe that met it before."""
        try:
            await stored
            self.results.append(result)
            if self.progress is not None:
                self.progress(result, len(self.results), self.total)
        except Exception as exc:
            self._failed = self._failed or exc
            raise


_WINDOW_S = 0.01  # a result waits at most this long for others to share its transaction
_BATCH_ROWS = 256  # ... or until this many are waiting


class _BatchWriter:
    """Each result committed within a few milliseconds: one transaction for whatever arrived in
    `_WINDOW_S` after it, or while the previous one was committing (fifty environments' results
    arrive in waves; one transaction per result cost more CPU than the request that produced it,
    and a transaction costs about 0.45 ms of CPU before its first row, 0.07 ms a row after).

    The window delays no request: a host's next probe starts when the previous one has its
    finding; only that finding's count and progress line wait for its commit."""

    def __init__(self, store: HistoryStore) -> None:
        self._store = store
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="workbench-store"
        )
        self._pending: list[tuple[ProbeResult, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._window: asyncio.Future[None] | None = None  # the wait for the rest of a wave
        self._hurried = False

    def submit(self, result: ProbeResult) -> asyncio.Future[None]:
        """Queue `result`; the future is done once it is committed (or has what the store raised)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((result, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return done

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            if len(self._pending) < _BATCH_ROWS and not self._hurried:
                await self._wait_for_the_wave()
            batch, self._pending = self._pending, []
            try:
                await loop.run_in_executor(self._pool, self._store.append_many, [r for r, _ in batch])
            except asyncio.CancelledError:
                raise  # this batch was handed to the thread and commits; `close` stores the rest
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _wait_for_the_wave(self) -> None:
        """`_WINDOW_S`, or less if `hurry` is called meanwhile: the rest of the wave joins this commit."""
        loop = asyncio.get_running_loop()
        window = self._window = loop.create_future()
        timer = loop.call_later(_WINDOW_S, _release, window)
        try:
            await window
        finally:
            timer.cancel()
            self._window = None

    def hurry(self) -> None:
        """No more results are coming: commit what waits now, and what comes next at once."""
        self._hurried = True
        if self._window is not None:
            _release(self._window)

    def close(self) -> None:
        """Wait for the commit in flight, then store what is still pending (an interrupted run)."""
        self._pool.shutdown(wait=True)
        pending, self._pending = self._pending, []
        if pending:
            self._store.append_many([result for result, _ in pending])


async def _check(probe: Probe, ctx: ProbeContext) -> Finding:
    """Run one probe's check; a workbench fault becomes an `error` finding, never a crash.

    A host that no request ever reached is tried once: the probes after the first are not sent.
    """
    assert ctx.gate is not None
    if ctx.gate.unreachable and probe.sends:
        return Finding(
            Outcome.SKIP,
            Symptom.NONE,
            f"{NOT_SENT}{ctx.gate.unreachable} (an earlier probe found the host unreachable; nothing has "
            "reached it this run)",
        )
    try:
        return await probe.check(ctx)
    except UsageError:
        raise
    except SpendCapReached as exc:
        return Finding(Outcome.ERROR, Symptom.NONE, str(exc))
    except Exception as exc:
        return Finding(
            Outcome.ERROR, Symptom.NONE, f"workbench fault in {probe.id}: {type(exc).__name__}: {exc}"
        )


def _found_unreachable(finding: Finding, ctx: ProbeContext) -> bool:
    """This failure is the host being unreachable (nothing ever reached it), not a bad answer."""
    gate = ctx.gate
    return (
        gate is not None
        and bool(gate.unreachable)
        and not gate.reached
        and finding.outcome is Outcome.FAIL
        and finding.symptom is Symptom.TRANSPORT
        and finding.http_status is None
        and ctx.tally.sent > 0
        and ctx.tally.reached == 0
    )


def _result(
    run_id: str,
    env: str,
    probe: Probe,
    finding: Finding,
    started: str,
    redact: Redactor,
    uses: tuple[str, ...] = ("content",),
) -> ProbeResult:
    """The stored form of a finding: the one place every result is made, so the last redaction."""
    facts = dict(finding.facts)
    if probe.version != 1:
        facts["probe_version"] = probe.version  # drift compares results of equal versions only
    if uses != ("content",):
        facts["uses"] = list(uses)  # what the app reads: drift judges a reasoning rename by it
    return ProbeResult(
        run_id=run_id,
        env=env,
        probe=probe.id,
        area=probe.area,
        outcome=finding.outcome,
        symptom=finding.symptom,
        retryable=finding.retryable,
        http_status=finding.http_status,
        latency_ms=finding.latency_ms,
        detail=redact(finding.detail),
        action=_action(finding),
        started_at=started,
        ttft_ms=finding.ttft_ms,
        retry_after_s=finding.retry_after_s,
        shape=redact.deep(finding.shape),
        facts=redact.deep(facts),
    )


def _action(finding: Finding) -> str:
    """The checklist's action for a failure; an unreachable host is first the auditor's to check."""
    if finding.outcome is not Outcome.FAIL:
        return ""
    if finding.facts.get("unreachable"):
        return UNREACHABLE_ACTION
    return action_for(finding.symptom, retryable=finding.retryable)


def _catalog_order(
    results: Sequence[ProbeResult], envs: Sequence[str], probes: Sequence[Probe]
) -> list[ProbeResult]:
    env_rank = {name: index for index, name in enumerate(envs)}
    probe_rank = {probe.id: index for index, probe in enumerate(probes)}
    return sorted(results, key=lambda result: (env_rank[result.env], probe_rank[result.probe]))


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C (main thread only) until the block ends, then deliver it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)


@contextmanager
def open_endpoints(envs: Sequence[Environment]) -> Iterator[dict[str, tuple[str, Callable[[], str | None]]]]:
    """Base URL and key source per environment, starting an embedded endpoint where configured."""
    from workbench.reference.endpoint import (
        EmbeddedEndpoint,  # the server stack loads only when a run needs it
    )

    resolved: dict[str, tuple[str, Callable[[], str | None]]] = {}
    with ExitStack() as stack:
        embedded = [env for env in envs if env.is_embedded]
        starters: dict[str, tuple[EmbeddedEndpoint, str]] = {}
        for env in embedded:
            key = (env.api_key() if env.api_key_env else None) or secrets.token_urlsafe(24)
            endpoint = EmbeddedEndpoint(
                env.scenarios, api_key=key, latency_ms=env.latency_ms, models=(env.model or "wb-reference-1",)
            )
            starters[env.name] = (endpoint, key)
        endpoints = [endpoint for endpoint, _key in starters.values()]
        # registered first: stops whatever did start if one fails; all at once, as they start: each
        # waits for its server's next tick (~0.1 s) and its shutdown, ten seconds for sixty in turn
        stack.callback(_each_at_once, EmbeddedEndpoint.stop, endpoints)
        _each_at_once(EmbeddedEndpoint.start, endpoints)
        for env in envs:
            if env.name in starters:
                endpoint, key = starters[env.name]
                resolved[env.name] = (endpoint.base_url, _constant(key))
            else:
                resolved[env.name] = (env.base_url, env.api_key)
        yield resolved


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _each_at_once(method: Callable[[_T], object], items: Sequence[_T]) -> None:
    """`method(item)` for every item, each in a thread of its own; raises the first failure."""
    if items:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(items)) as pool:
            list(pool.map(method, items))


def _constant(value: str) -> Callable[[], str | None]:
    return lambda: value
