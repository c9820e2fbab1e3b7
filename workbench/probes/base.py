"""What every probe is made of: its context, its finding, and the judgement of a completion.

A probe sends (or replays) something, classifies what came back, and says whether that meets its
expectation. It never asserts generated text. It returns a `Finding`; the engine adds the run,
the environment and the checklist's action and stores it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.config import TOKEN_PARAMS, Environment
from workbench.core.errors import ParserError
from workbench.core.models import Area, Outcome, Symptom
from workbench.history.confirmations import Confirmation
from workbench.probes.answers import STRUCTURED_BUDGET, Asked, judge_answer
from workbench.probes.traffic import HostGate, Spend, Tally
from workbench.wire.acceptance import Acceptance
from workbench.wire.classify import Classification, classify_exchange, classify_off_loop, rejected_field
from workbench.wire.client import Exchange, Failure, ProbeClient, events_for
from workbench.wire.parser import ResponseParser
from workbench.wire.shape import MAX_ENTRIES, truncated

# The checklist's sanitized probe prompt: no production data, no exact phrase expected back.
PROBE_PROMPT = "Return a short acknowledgement for a contract probe."
NOTHING_ASKED = Asked()  # a request that asks for no tool call, format or usage chunk

# Top-level, choice and message fields the spec marks required; absence is noted, not failed,
# because real providers omit several of them (see contract/SUMMARY.md section C).
_REQUIRED = {
    "": ("id", "object", "created", "model", "choices"),
    "choices[0].": ("index", "message", "finish_reason", "logprobs"),
    "choices[0].message.": ("role", "content", "refusal"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """A probe's conclusion before the engine stamps run, environment and action on it."""

    outcome: Outcome
    symptom: Symptom
    detail: str
    retryable: bool = False
    http_status: int | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    retry_after_s: float | None = None
    shape: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Learned:
    """What one environment's probes learned of their own choices: the token parameter it takes
    (configured, or learned from a rejection) and the chosen fields it rejected."""

    param: str
    dropped: set[str] = field(default_factory=set)
    tool_names: list[str] | None = None  # the tools a non-streamed forced call called (streams compare)


@dataclass(frozen=True, slots=True)
class Budget:
    """Whose token budget a request carried: the workbench's own (never a finding) or the app's."""

    param: str
    value: int
    owner: str  # "workbench" or "app"

    def __str__(self) -> str:
        return f"{self.param} = {self.value}"


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """Everything a probe may use; the key is a callable so it is read only when a request is sent.

    One context per probe run: `tally` is the probe's own; `tokens`, `spend` and `gate` are shared
    by the environment's (and, for `gate`, the host's) probes.
    """

    env: Environment
    client: ProbeClient
    url: str
    key: Callable[[], str | None]
    parser: ResponseParser
    acceptance: Acceptance | None = None
    requested: frozenset[str] = frozenset()  # probe ids asked for explicitly with --probe
    fixtures_dir: Path = Path("data/fixtures")
    confirmations: Mapping[str, Confirmation] = field(default_factory=dict)  # current ones, by item
    learned: Learned | None = None  # None: start from the environment's configured `token_param`
    spend: Spend | None = None  # None: no cap (fixture capture)
    gate: HostGate | None = None
    tally: Tally = field(default_factory=Tally)

    def __post_init__(self) -> None:
        if self.learned is None:
            object.__setattr__(self, "learned", Learned(self.env.token_param))

    @property
    def token_param(self) -> str:
        """The token parameter this environment's requests carry now."""
        assert self.learned is not None
        return self.learned.param

    def request_body(self, **overrides: Any) -> dict[str, Any]:
        """The minimal valid request of the checklist, with `overrides` applied (None removes a field)."""
        body: dict[str, Any] = {
            "model": self.env.model,
            "messages": [{"role": "user", "content": PROBE_PROMPT}],
            "stream": False,
            self.token_param: self.env.max_tokens,
        }
        if any(name in overrides for name in TOKEN_PARAMS):
            del body[self.token_param]  # a budget given here (the app's, a larger one) replaces ours
        for name, value in overrides.items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
        return body

    def note(self, text: str) -> None:
        """Something the auditor should know about the workbench's own choices (added to the detail)."""
        if text not in self.tally.notes:
            self.tally.notes.append(text)

    async def send(
        self,
        body: Mapping[str, Any] | bytes,
        *,
        key: Callable[[], str | None] | None = None,
        stream: bool = False,
        ours: Iterable[str] | None = None,
    ) -> Exchange:
        """POST to the chat-completions endpoint; `key` replaces the environment's key source.

        `ours` names the request fields the workbench chose (default: its token parameter). A 400
        that rejects one of them is our choice, not the endpoint's fault: the request is asked once
        more with the other token parameter, or without the chosen sampling fields, and a note
        says what to configure. The app's own fields are never changed.
        """
        if isinstance(body, bytes):
            return await self._post(body, key, stream)
        assert self.learned is not None
        chosen = [name for name in (self.token_param,) if ours is None] + list(ours or ())
        body = {
            name: value
            for name, value in body.items()
            if name not in self.learned.dropped or name not in chosen
        }
        exchange = await self._post(body, key, stream)
        rejected = rejected_field(exchange, [name for name in chosen if name in body])
        if rejected is None:
            return exchange
        retry = dict(body)
        if rejected in TOKEN_PARAMS:
            other = next(param for param in TOKEN_PARAMS if param != rejected)
            retry[other] = retry.pop(rejected)
            self.learned.param = other  # the environment's later requests send the other one
            self.note(
                f"the endpoint rejected {rejected} (the workbench's choice, not a finding): asked again "
                f'with {other}; set token_param = "{other}" for this environment'
            )
        else:
            dropped = [name for name in chosen if name in retry and name not in TOKEN_PARAMS]
            for name in dropped:
                del retry[name]
            self.learned.dropped.update(dropped)
            self.note(
                f"the endpoint rejected {rejected}, a field the workbench chose (not a finding): asked "
                f"again without {', '.join(dropped)}; configure app_request with the fields your app sends"
            )
        return await self._post(retry, key, stream)

    async def _post(
        self, body: Mapping[str, Any] | bytes, key: Callable[[], str | None] | None, stream: bool
    ) -> Exchange:
        """One request: charged against the spend cap, counted, and telling the host gate what happened."""
        tokens = 0
        if not isinstance(body, bytes):
            tokens = sum(value for name in TOKEN_PARAMS if isinstance(value := body.get(name), int))
        if self.spend is not None:
            self.spend.charge(tokens)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = self.client.build(
            self.url,
            content=content,
            key=self.key if key is None else key,
            accept="text/event-stream" if stream else "application/json",
        )
        self.tally.sent += 1
        exchange = await self.client.exchange(request, max_events=events_for(tokens))
        await classify_off_loop(exchange)  # judged once, off the loop when large; probes read it back
        if exchange.status is not None:
            self.tally.reached += 1
            if self.gate is not None:
                self.gate.reached = True
        elif exchange.failure is Failure.CONNECT and self.gate is not None and not self.gate.reached:
            self.gate.unreachable = exchange.failure_detail
        return exchange

    def budget(self, app_fields: Mapping[str, Any] = {}, *, structured: bool = False) -> Budget:
        """The budget a request built from `app_fields` carries, and whose choice it was: the app's
        when it sets one; else the workbench's, larger for a tool call or a JSON answer."""
        for name in TOKEN_PARAMS:
            value = app_fields.get(name)
            if isinstance(value, int):
                return Budget(name, value, "app")
        return Budget(self.token_param, STRUCTURED_BUDGET if structured else self.env.max_tokens, "workbench")

    def budget_fields(self, app_fields: Mapping[str, Any], asked: Asked) -> dict[str, Any]:
        """The token field a request adds for `asked`: the larger structured budget when the
        workbench picks it (the app's own budget is already among its fields)."""
        budget = self.budget(app_fields, structured=asked.structured)
        return {budget.param: budget.value} if budget.owner == "workbench" and asked.structured else {}


def app_budget(env: Environment, *, structured: bool) -> int:
    """Tokens a request built from the app's fields asks for (the dry run and the spend cap count it)."""
    for name in TOKEN_PARAMS:
        value = env.app_request.get(name)
        if isinstance(value, int):
            return value
    return STRUCTURED_BUDGET if structured else env.max_tokens


@dataclass(frozen=True, slots=True)
class Probe:
    """A named check in one contract area, with the traits every other part reads from the catalog:
    the readiness steps it gates, whether its shape is an answer's (compared between environments),
    what of the app's contract it exercises, and its version. Adding a probe edits no list elsewhere.

    `negative` probes never run on production by default.
    """

    id: str
    area: Area
    title: str
    expectation: str
    check: Callable[[ProbeContext], Awaitable[Finding]]
    negative: bool = False
    also: tuple[Area, ...] = ()  # further contract areas this probe gives evidence for
    sends: int = 1  # requests it sends, before any retry (the dry run and the spend cap count them)
    carries_budget: bool = True  # its requests ask for the token budget (a malformed body does not)
    judges_answer: bool = False  # may ask once more with the larger budget (an empty, cut answer)
    # why it does not apply to an environment (given the ids asked for explicitly), or None
    applies: Callable[[Environment, frozenset[str]], str | None] | None = None
    steps: tuple[int, ...] = ()  # the readiness steps (1-10) whose evidence it is
    shaped: bool = False  # its shape is an answer's (a body or stream chunks), compared between environments
    exercises: frozenset[str] = frozenset()  # what of the app's contract it judges (core.appcontract.USES)
    version: int = 1  # bumped when what it sends or judges changes: drift compares equal versions only
    # tokens each of its requests asks for (default: the environment's max_tokens)
    budget: Callable[[Environment], int] | None = None

    def tokens_per_request(self, env: Environment) -> int:
        if not self.carries_budget:
            return 0
        return self.budget(env) if self.budget is not None else env.max_tokens

    def skip_reason(self, env: Environment, requested: frozenset[str], allow_negatives: bool) -> str:
        """Why this probe is skipped on `env` ("" when it runs): the one home of every skip rule."""
        if self.negative and env.production and not allow_negatives:
            return "production environment: negative probes run only with --allow-production-negatives"
        if self.applies is not None:
            return self.applies(env, requested) or ""
        return ""

    def applies_to(self, env: Environment, requested: frozenset[str]) -> bool:
        """Whether the app's contract on `env` has what this probe judges (a skip otherwise is no gap:
        the readiness steps it gates do not wait for it)."""
        return self.applies is None or self.applies(env, requested) is None


def finding_from(
    exchange: Exchange,
    classification: Classification,
    outcome: Outcome,
    *,
    symptom: Symptom | None = None,
    detail: str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> Finding:
    """A finding carrying the exchange's status and timings and the classification's advice, and every
    departure from the pinned spec seen in it (information, unless a judge made it a problem)."""
    facts = dict(facts or {})
    if classification.deviations:
        facts.setdefault("spec_deviations", [d.to_fact() for d in classification.deviations])
    shape = classification.shape
    detail = classification.detail if detail is None else detail
    if truncated(shape):
        facts["shape_truncated"] = True
        detail += (
            f"; shape signature cut at {MAX_ENTRIES:,} fields (the workbench's bound: the rest not compared)"
        )
    return Finding(
        outcome=outcome,
        symptom=classification.symptom if symptom is None else symptom,
        detail=detail,
        retryable=classification.retryable if outcome is not Outcome.PASS else False,
        http_status=exchange.status,
        latency_ms=round(exchange.elapsed_ms, 3),
        retry_after_s=classification.retry_after_s,
        shape=shape,
        facts=facts,
    )


def answer_is_cut_empty(result: Classification) -> bool:
    """Cut at the token limit before any visible output: what a reasoning model does with a small budget."""
    if result.stream is not None:
        choice = result.stream.choices.get(0)
        if choice is None or choice.finish_reason != "length":
            return False
        return not (choice.content.strip() or choice.tool_calls or choice.refusal)
    completion = result.completion
    if completion is None or completion.finish_reason != "length":
        return False
    return not ((completion.content or "").strip() or completion.tool_calls or completion.refusal)


def answer_is_cut(result: Classification) -> bool:
    """The answer stopped at the token limit (finish_reason length), whatever it carried."""
    if result.stream is not None:
        return result.stream.finish_reason == "length"
    return result.completion is not None and result.completion.finish_reason == "length"


async def ask_within_budget(
    ctx: ProbeContext,
    overrides: Mapping[str, Any],
    *,
    app_fields: Mapping[str, Any] = {},
    ours: Iterable[str] | None = None,
    stream: bool = False,
    asked: Asked = NOTHING_ASKED,
) -> tuple[Exchange, Budget, Finding | None]:
    """Send a request that must be answered; an answer cut at the workbench's own budget before any
    visible output, or cut inside a tool call or a JSON answer the request asked for, is asked once
    more with `max_tokens_retry`. Returns the exchange to judge and its budget, or a `quality`
    finding when the answer is still empty at the larger budget."""
    exchange = await ctx.send(ctx.request_body(**overrides), ours=ours, stream=stream)
    # after the send: the token parameter may have been learned
    budget = ctx.budget(app_fields, structured=asked.structured)
    if budget.owner != "workbench":
        return exchange, budget, None
    first = classify_exchange(exchange)
    cut_structure = asked.structured and answer_is_cut(first)
    if not (answer_is_cut_empty(first) or cut_structure):
        return exchange, budget, None
    larger = Budget(budget.param, ctx.env.max_tokens_retry, "workbench")
    exchange = await ctx.send(
        ctx.request_body(**{**overrides, larger.param: larger.value}), ours=ours, stream=stream
    )
    result = classify_exchange(exchange)
    if answer_is_cut_empty(result):
        detail = (
            f"the answer is empty, cut at the token limit (finish_reason length) at {budget.param} = "
            f"{budget.value} and {larger.value}: the model spends the whole budget before any visible "
            "output; raise max_tokens_retry if it is a reasoning model, else check the model and route"
        )
        return (
            exchange,
            larger,
            finding_from(exchange, result, Outcome.FAIL, symptom=Symptom.QUALITY, detail=detail),
        )
    why = "inside a tool call or JSON answer" if cut_structure else "empty"
    ctx.note(
        f"cut {why} at {budget} (finish_reason length), the workbench's own budget: asked again with {larger}"
    )
    return exchange, larger, None


def judge_completion(
    ctx: ProbeContext,
    exchange: Exchange,
    what: str,
    budget: Budget | None = None,
    asked: Asked = NOTHING_ASKED,
) -> Finding:
    """A request that must succeed: 200, the documented envelope, content the app's parser extracts,
    and whatever the app uses of it (tool calls, JSON, reasoning, usage: `probes.answers`).

    An answer cut at the workbench's own budget passes (with a note): the probe asked for few
    tokens, the endpoint obliged. Cut at the app's own budget it is a `quality` finding. The
    acceptance check judges every other answer.
    """
    budget = budget or ctx.budget()
    result = classify_exchange(exchange)
    if result.symptom is not Symptom.NONE:
        return finding_from(exchange, result, Outcome.FAIL, detail=f"{what}: {result.detail}")
    decoded = result.decoded
    finish_reason = result.completion.finish_reason if result.completion else None
    facts: dict[str, Any] = {
        "missing_required": missing_required(decoded),
        "usage": result.completion is not None and result.completion.usage is not None,
        "finish_reason": finish_reason,
        "budget": str(budget),
        "tool_calls": result.completion.tool_calls if result.completion else 0,
    }
    try:
        content = ctx.parser(decoded)
    except ParserError as exc:
        return finding_from(
            exchange,
            result,
            Outcome.FAIL,
            symptom=Symptom.PARSER,
            detail=f"{what}: the parser reported: {exc}",
            facts=facts,
        )
    except Exception as exc:
        return finding_from(
            exchange,
            result,
            Outcome.FAIL,
            symptom=Symptom.PARSER,
            detail=f"{what}: the parser raised {type(exc).__name__} (unhandled): {exc}",
            facts=facts,
        )
    if content is None and not (
        result.completion and (result.completion.tool_calls or result.completion.refusal)
    ):
        return finding_from(
            exchange,
            result,
            Outcome.FAIL,
            symptom=Symptom.PARSER,
            detail=f"{what}: the parser extracted no assistant content",
            facts=facts,
        )
    notes: list[str] = []
    cut = finish_reason == "length"
    if cut and budget.owner == "app":
        detail = (
            f"{what}: the answer was cut at the app's own {budget} (finish_reason length): the app's users "
            "would get cut answers; raise it in app_request, or check the prompt and model"
        )
        return finding_from(
            exchange, result, Outcome.FAIL, symptom=Symptom.QUALITY, detail=detail, facts=facts
        )
    judged = judge_answer(result, asked, ctx.env.app, cut=cut, strict=ctx.env.strict_schema)
    for note in judged.notes:
        ctx.note(note)
    if judged.problems:
        facts["problems"] = judged.facts()
        return finding_from(
            exchange,
            result,
            Outcome.FAIL,
            symptom=judged.symptom,
            detail=f"{what}: {judged.detail()}",
            facts=facts,
        )
    if cut:
        notes.append(
            f"cut at the workbench's own budget ({budget}): not a finding, acceptance not judged on a "
            "cut answer (set app_request.max_tokens to judge whole answers)"
        )
    elif ctx.acceptance is not None:
        rejection = ctx.acceptance(decoded, content)
        if rejection:
            return finding_from(
                exchange,
                result,
                Outcome.FAIL,
                symptom=Symptom.QUALITY,
                detail=f"{what}: acceptance check failed: {rejection}",
                facts=facts,
            )
    missing = facts["missing_required"]
    if missing:
        notes.append(f"spec-required fields absent: {', '.join(missing)}")
    detail = f"{what}: HTTP {exchange.status} in {exchange.elapsed_ms:.0f} ms, {result.detail}"
    detail += "".join(f"; {note}" for note in notes)
    return finding_from(exchange, result, Outcome.PASS, detail=detail, facts=facts)


def judge_rejection(
    exchange: Exchange, *, expected: Symptom, what: str, accepted_means: str, strict: bool = False
) -> Finding:
    """A request that must fail in a known-safe way: the `expected` class and non-retryable.

    A pass records symptom `none` (nothing is wrong); the class the server answered with is kept
    in `facts["observed"]`. A 2xx means the bad request was accepted, whatever its body looked like;
    but a status whose body never completed (our deadline, a dropped connection, the byte cap) is
    no answer to judge: the probe says it could not tell, rather than pass or blame the endpoint.
    """
    result = classify_exchange(exchange)
    observed = {"observed": str(result.symptom)}
    if exchange.status is not None and exchange.failure is not None:
        detail = (
            f"{what}: HTTP {exchange.status} arrived but its body did not complete "
            f"({exchange.failure_detail}): whether the request was accepted cannot be judged"
        )
        return finding_from(
            exchange, result, Outcome.ERROR, symptom=Symptom.NONE, facts=observed, detail=detail
        )
    if exchange.status is not None and 200 <= exchange.status < 300:
        return finding_from(
            exchange,
            result,
            Outcome.FAIL,
            symptom=expected,
            facts=observed,
            detail=f"{what}: HTTP {exchange.status}, accepted: {accepted_means}",
        )
    if result.symptom is expected and not result.retryable:
        if strict and result.deviations:
            detail = (
                f"{what}: rejected as expected, but the error body departs from the spec (strict_schema): "
            )
            return finding_from(
                exchange,
                result,
                Outcome.FAIL,
                symptom=Symptom.PARSER,
                facts=observed,
                detail=detail + "; ".join(d.describe() for d in result.deviations[:3]),
            )
        return finding_from(
            exchange,
            result,
            Outcome.PASS,
            symptom=Symptom.NONE,
            facts=observed,
            detail=f"{what}: rejected as expected: {result.detail}",
        )
    if result.symptom is expected:
        detail = (
            f"{what}: {result.detail}; but it reads as retryable, so clients would retry a request "
            "that cannot succeed"
        )
        return finding_from(exchange, result, Outcome.FAIL, detail=detail, facts=observed)
    return finding_from(
        exchange,
        result,
        Outcome.FAIL,
        facts=observed,
        detail=f"{what}: expected the {expected} class, got {result.symptom}: {result.detail}",
    )


def missing_required(body: Any) -> list[str]:
    """Spec-required envelope fields absent from a completion body (for the record, not a failure)."""
    if not isinstance(body, Mapping):
        return []
    missing = [name for name in _REQUIRED[""] if name not in body]
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], Mapping) else None
    if first is not None:
        missing += [f"choices[0].{name}" for name in _REQUIRED["choices[0]."] if name not in first]
        message = first.get("message")
        if isinstance(message, Mapping):
            missing += [
                f"choices[0].message.{name}"
                for name in _REQUIRED["choices[0].message."]
                if name not in message
            ]
    return missing
