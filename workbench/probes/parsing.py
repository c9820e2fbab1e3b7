"""Parser robustness: optional-field ablation and known-good fixture replay, against the app's parser.

`response.optional_fields` takes a fresh minimal response and every known-good fixture, removes
each optional field in turn (and sets it to null), and checks the parser *degrades safely*: it
extracts the content, or reports a classified `ParserError`, never an unhandled exception.
`response.fixture_replay` checks that known-good responses of the baseline release still map.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from workbench.core.errors import ConfigError, ParserError
from workbench.core.models import Area, Outcome, Symptom
from workbench.probes.base import Finding, Probe, ProbeContext
from workbench.probes.fixtures import FixtureSet, load_fixture_set
from workbench.wire.classify import classify, classify_exchange
from workbench.wire.parser import ResponseParser
from workbench.wire.shape import shape_of

Path_ = tuple[str | int, ...]

# The fields a safe parser must not depend on: optional or deprecated in the spec, or omitted by
# real providers (contract/SUMMARY.md section C). `choices: []` and a null content are included.
ABLATIONS: tuple[tuple[str, Path_], ...] = (
    ("usage", ("usage",)),
    ("system_fingerprint", ("system_fingerprint",)),
    ("service_tier", ("service_tier",)),
    ("id", ("id",)),
    ("created", ("created",)),
    ("model", ("model",)),
    ("object", ("object",)),
    ("choices[0].logprobs", ("choices", 0, "logprobs")),
    ("choices[0].finish_reason", ("choices", 0, "finish_reason")),
    ("choices[0].index", ("choices", 0, "index")),
    ("choices[0].message.refusal", ("choices", 0, "message", "refusal")),
    ("choices[0].message.role", ("choices", 0, "message", "role")),
    ("choices[0].message.content", ("choices", 0, "message", "content")),
)

EXTRACTED, NO_CONTENT, CLASSIFIED, UNHANDLED = "extracted", "no content", "classified failure", "unhandled"


def variants(body: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(field, mode, variant) for every ablation that applies to `body`, plus `choices: []`."""
    text = json.dumps(body)  # once: each variant is decoded from it
    for label, path in ABLATIONS:
        parent = _parent(body, path)
        if parent is None:
            continue
        key = path[-1]
        if isinstance(parent, dict) and key in parent:
            removed = _copy(text)
            del _parent(removed, path)[key]
            yield label, "removed", removed
        nulled = _copy(text)
        _parent(nulled, path)[key] = None
        yield label, "null", nulled
    if isinstance(body.get("choices"), list):
        yield "choices", "empty", {**_copy(text), "choices": []}


def _copy(text: str) -> dict[str, Any]:
    """A deep copy per variant (a parser under test may mutate what it gets); the body is JSON, and
    decoding its JSON text copies it several times faster than `copy.deepcopy`."""
    copied: dict[str, Any] = json.loads(text)
    return copied


def _parent(body: Any, path: Path_) -> Any:
    node = body
    for step in path[:-1]:
        if isinstance(step, int):
            if not isinstance(node, list) or len(node) <= step:
                return None
        elif not isinstance(node, dict) or step not in node:
            return None
        node = node[step]
    return node if isinstance(node, dict) else None


def try_parser(parser: ResponseParser, body: Any) -> tuple[str, str]:
    """What the parser did with `body`: (outcome, note)."""
    try:
        content = parser(body)
    except ParserError as exc:
        return CLASSIFIED, str(exc)[:160]
    except Exception as exc:
        return UNHANDLED, f"{type(exc).__name__}: {str(exc)[:120]}"
    return (EXTRACTED, "") if content is not None else (NO_CONTENT, "")


def _fixtures(ctx: ProbeContext) -> FixtureSet | None:
    return load_fixture_set(ctx.fixtures_dir, ctx.env.name, ctx.env.baseline)


def _fixture_bodies(fixtures: FixtureSet | None) -> Iterator[tuple[str, Any]]:
    if fixtures is None:
        return
    for name in fixtures.files:
        if name.endswith(".json"):
            yield f"{fixtures.label}/{name}", json.loads(fixtures.read(name))


async def optional_fields(ctx: ProbeContext) -> Finding:
    exchange = await ctx.send(ctx.request_body())
    fresh = classify_exchange(exchange)
    sources: list[tuple[str, Any]] = []
    notes: list[str] = []
    if fresh.symptom is Symptom.NONE and isinstance(fresh.decoded, Mapping):
        sources.append(("fresh response", fresh.decoded))
    else:
        notes.append(f"the fresh response is not mappable ({fresh.symptom}): ablated fixtures only")
    try:
        sources.extend(_fixture_bodies(_fixtures(ctx)))
    except ConfigError as exc:
        notes.append(str(exc))
    if not sources:
        return Finding(
            Outcome.SKIP,
            Symptom.NONE,
            "nothing mappable to ablate: " + "; ".join(notes) + "; capture fixtures from a passing "
            "release with `workbench fixtures capture`",
            http_status=exchange.status,
            latency_ms=round(exchange.elapsed_ms, 3),
        )
    rows = []
    for source, body in sources:
        for field, mode, variant in variants(body):
            outcome, note = try_parser(ctx.parser, variant)
            rows.append({"source": source, "field": field, "mode": mode, "result": outcome, "note": note})
    counts = Counter(row["result"] for row in rows)
    unhandled = sorted(
        {f"{row['field']} {row['mode']} ({row['note']})" for row in rows if row["result"] == UNHANDLED}
    )
    summary = ", ".join(f"{counts[name]} {name}" for name in (EXTRACTED, NO_CONTENT, CLASSIFIED, UNHANDLED))
    base = f"{len(rows)} variants of {len(sources)} response(s): {summary}"
    facts = {"ablation": rows, "sources": [source for source, _ in sources]}
    if unhandled:
        return Finding(
            Outcome.FAIL,
            Symptom.PARSER,
            f"{base}; the parser throws on: {'; '.join(unhandled[:4])}",
            http_status=exchange.status,
            latency_ms=round(exchange.elapsed_ms, 3),
            facts=facts,
        )
    detail = f"{base}; the parser degrades safely" + (f" ({'; '.join(notes)})" if notes else "")
    return Finding(
        Outcome.PASS,
        Symptom.NONE,
        detail,
        http_status=exchange.status,
        latency_ms=round(exchange.elapsed_ms, 3),
        facts=facts,
    )


async def fixture_replay(ctx: ProbeContext) -> Finding:
    try:
        fixtures = _fixtures(ctx)
    except ConfigError as exc:
        return Finding(Outcome.ERROR, Symptom.NONE, str(exc))
    if fixtures is None:
        return Finding(
            Outcome.SKIP,
            Symptom.NONE,
            f"no known-good fixtures for {ctx.env.name}: capture them from a passing release with "
            f"`workbench fixtures capture --env {ctx.env.name} --release R`",
        )
    rows: list[dict[str, str]] = []
    failures: list[str] = []
    minimal_shape: tuple[str, ...] = ()
    for name in fixtures.files:
        body = fixtures.read(name)
        if name.endswith(".sse"):
            verdict = classify(200, body, content_type="text/event-stream")
            outcome = EXTRACTED if verdict.symptom is Symptom.NONE else CLASSIFIED
            note = "" if outcome == EXTRACTED else verdict.detail
        else:
            decoded = json.loads(body)
            if name == "chat_minimal.json":  # compared with the fresh minimal response for drift
                minimal_shape = shape_of(decoded)
            outcome, note = try_parser(ctx.parser, decoded)
        rows.append({"fixture": name, "result": outcome, "note": note})
        if outcome != EXTRACTED:
            failures.append(f"{name}: {outcome}{f' ({note})' if note else ''}")
    facts = {"release": fixtures.label, "captured_at": fixtures.captured_at, "fixtures": rows}
    if failures:
        detail = f"known-good responses of {fixtures.label} no longer map: {'; '.join(failures)}"
        return Finding(Outcome.FAIL, Symptom.PARSER, detail, shape=minimal_shape, facts=facts)
    captured = fixtures.captured_at[:10]
    detail = f"{len(rows)} known-good response(s) of {fixtures.label} (captured {captured}) still map"
    return Finding(Outcome.PASS, Symptom.NONE, detail, shape=minimal_shape, facts=facts)


PROBES = (
    Probe(
        "response.optional_fields",
        Area.RESPONSE,
        "Optional-field ablation",
        "the parser degrades safely when each optional field is absent or null",
        optional_fields,
        steps=(5,),
    ),
    Probe(
        "response.fixture_replay",
        Area.RESPONSE,
        "Known-good fixture replay",
        "known-good fixtures of the baseline release still parse with the current parser",
        fixture_replay,
        sends=0,
        steps=(5,),
        shaped=True,
    ),
)
