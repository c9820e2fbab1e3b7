"""`workbench fixtures capture`: save a passing release's responses as sanitized known-good fixtures.

Only a response that classifies clean and that the environment's parser maps is saved: a fixture
is evidence of a known-good contract, so capturing from a failing endpoint is refused.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from workbench.core.config import Config, Environment
from workbench.core.errors import CaptureRefused
from workbench.core.models import Symptom
from workbench.core.redaction import Redactor
from workbench.probes.catalog import ProbeContext
from workbench.probes.engine import open_endpoints, plan_run
from workbench.probes.fixtures import FixtureSet, check_release, sanitize_json, sse_text, write_fixture_set
from workbench.probes.parsing import EXTRACTED, try_parser
from workbench.probes.requests import GENERIC_APP_FIELDS
from workbench.wire.classify import classify_exchange
from workbench.wire.client import ProbeClient
from workbench.wire.parser import ResponseParser


def capture_fixtures(config: Config, env_name: str, release: str, *, force: bool = False) -> FixtureSet:
    """Probe `env_name` now and save its responses as release `release`'s fixtures."""
    check_release(release)
    plan = plan_run(config, [env_name])
    (env,) = plan.environments
    files = asyncio.run(_collect(config, env, plan.parsers[env.name]))
    return write_fixture_set(
        config.settings.fixtures_dir, env.name, release, files, model=env.model, force=force
    )


async def _collect(config: Config, env: Environment, parser: ResponseParser) -> dict[str, str]:
    with open_endpoints([env]) as endpoints:
        base_url, key = endpoints[env.name]
        async with ProbeClient(
            timeout_s=env.timeout_s,
            max_bytes=config.settings.max_body_bytes,
            trust_env=not env.is_embedded,
            redact=Redactor.for_keys(config.key_values()),
            headers=env.header_values,
        ) as client:
            ctx = ProbeContext(env=env, client=client, url=base_url + env.path, key=key, parser=parser)
            secrets = [key() or ""]
            files: dict[str, str] = {}
            requests: dict[str, dict[str, Any]] = {
                "chat_minimal.json": ctx.request_body(),
                "chat_app_realistic.json": ctx.request_body(**(dict(env.app_request) or GENERIC_APP_FIELDS)),
            }
            for name, body in requests.items():
                result = classify_exchange(await ctx.send(body))
                if result.symptom is not Symptom.NONE:
                    raise CaptureRefused(
                        f"{env.name} is not known-good now ({name}: {result.detail}); nothing saved"
                    )
                outcome, note = try_parser(parser, result.decoded)
                if outcome != EXTRACTED:
                    raise CaptureRefused(
                        f"{env.name}: the parser does not map {name} ({outcome} {note}); nothing saved"
                    )
                files[name] = json.dumps(sanitize_json(result.decoded, secrets), indent=2) + "\n"
            if env.stream:
                stream_body = ctx.request_body(stream=True, stream_options={"include_usage": True})
                exchange = await ctx.send(stream_body, stream=True)
                result = classify_exchange(exchange)
                if result.symptom is not Symptom.NONE:
                    raise CaptureRefused(
                        f"{env.name} is not known-good now (stream: {result.detail}); nothing saved"
                    )
                files["stream_minimal.sse"] = sse_text([(e.event, e.data) for e in exchange.events], secrets)
            return files
