"""`limits.operator_confirmation`: rate limits, quotas and billing are never inferred from a success."""

from __future__ import annotations

from workbench.core.models import Area, Outcome, Symptom
from workbench.history.confirmations import LIMITS_ITEMS, OPERATOR_ITEMS
from workbench.probes.base import Finding, Probe, ProbeContext


async def operator_confirmation(ctx: ProbeContext) -> Finding:
    if ctx.env.is_embedded:
        return Finding(
            Outcome.SKIP,
            Symptom.NONE,
            "embedded reference endpoint: it has no quota or billing to confirm",
        )
    confirmed = {item: ctx.confirmations[item] for item in LIMITS_ITEMS if item in ctx.confirmations}
    missing = [item for item in LIMITS_ITEMS if item not in confirmed]
    facts = {"confirmed": {item: c.describe() for item, c in confirmed.items()}, "missing": missing}
    if missing:
        commands = "; ".join(
            f"`workbench confirm {item} --env {ctx.env.name} --by NAME` ({OPERATOR_ITEMS[item]})"
            for item in missing
        )
        return Finding(
            Outcome.NEEDS_OPERATOR,
            Symptom.NONE,
            f"not inferred from any response; an operator must confirm: {commands}",
            facts=facts,
        )
    return Finding(
        Outcome.PASS,
        Symptom.NONE,
        "; ".join(c.describe() for c in confirmed.values()),
        facts=facts,
    )


PROBES = (
    Probe(
        "limits.operator_confirmation",
        Area.LIMITS,
        "Rate limits and billing",
        "never inferred: needs_operator until an operator confirms them",
        operator_confirmation,
        sends=0,
        steps=(8,),
    ),
)
