"""Known-good response fixtures: captured sanitized from a passing release, replayed against the parser.

Layout: `data/fixtures/<env>/<release>/` holds `manifest.json` and one file per captured response
(`chat_minimal.json`, `chat_app_realistic.json`, `stream_minimal.sse`). Volatile values (ids,
timestamps, fingerprints) are normalised so fixtures diff cleanly; keys never appear.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench import __version__
from workbench.core import clock
from workbench.core.errors import ConfigError, UsageError
from workbench.core.locations import confined

MANIFEST = "manifest.json"
_RELEASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")  # a fixture file: a name, never a path
_NORMALISED: Mapping[str, Any] = {
    "id": "chatcmpl-fixture",
    "created": 1700000000,
    "system_fingerprint": "fp_fixture",
}


@dataclass(frozen=True, slots=True)
class FixtureSet:
    """One release's known-good responses for one environment."""

    env: str
    release: str
    directory: Path
    captured_at: str
    files: tuple[str, ...]

    def read(self, name: str) -> bytes:
        """One fixture file of the set, read only inside its folder (see `_read_set`)."""
        path = confined(self.directory, name) if _FILE_NAME.match(name) else None
        if path is None:
            raise ConfigError(f"fixture {name!r} is not a file of this folder", path=self.directory)
        return path.read_bytes()

    @property
    def label(self) -> str:
        return f"{self.env}/{self.release}"


def check_release(release: str) -> str:
    if not _RELEASE.match(release):
        raise UsageError(f"release {release!r}: use letters, digits, '.', '_', '+' or '-' (at most 64)")
    return release


def sanitize_json(body: Any, secrets: Sequence[str] = ()) -> Any:
    """Normalise volatile top-level values and tool-call ids; drop any secret that slipped in."""
    text = json.dumps(body)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    value = json.loads(text)
    if isinstance(value, dict):
        for name, replacement in _NORMALISED.items():
            if isinstance(value.get(name), str | int) and not isinstance(value.get(name), bool):
                value[name] = replacement
        _normalise_tool_call_ids(value)
    return value


def _normalise_tool_call_ids(value: Any, counter: list[int] | None = None) -> None:
    counter = counter if counter is not None else [0]
    if isinstance(value, dict):
        if isinstance(value.get("tool_calls"), list):
            for call in value["tool_calls"]:
                if isinstance(call, dict) and isinstance(call.get("id"), str) and call["id"]:
                    counter[0] += 1
                    call["id"] = f"call_fixture_{counter[0]}"
        for child in value.values():
            _normalise_tool_call_ids(child, counter)
    elif isinstance(value, list):
        for child in value:
            _normalise_tool_call_ids(child, counter)


def sse_text(events: Sequence[tuple[str, str]], secrets: Sequence[str] = ()) -> str:
    """Re-serialise (event, data) pairs as an SSE body, each JSON chunk sanitised."""
    lines = []
    for event, data in events:
        if event and event != "message":
            lines.append(f"event: {event}")
        try:
            data = json.dumps(sanitize_json(json.loads(data), secrets), separators=(",", ":"))
        except ValueError:
            for secret in secrets:
                data = data.replace(secret, "[REDACTED]") if secret else data
        lines.append(f"data: {data}")
        lines.append("")
    return "\n".join(lines) + "\n"


def write_fixture_set(
    root: Path, env: str, release: str, files: Mapping[str, str], *, model: str | None, force: bool = False
) -> FixtureSet:
    """Write a release's fixtures atomically (a temporary folder renamed into place)."""
    check_release(release)
    target = root / env / release
    if target.exists() and not force:
        raise UsageError(f"fixtures for {env}/{release} exist at {target}; pass --force to replace them")
    staging = root / env / f".{release}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    captured_at = clock.now_iso("seconds")
    for name, text in files.items():
        (staging / name).write_text(text, encoding="utf-8")
    manifest = {
        "env": env,
        "release": release,
        "captured_at": captured_at,
        "model": model,
        "workbench_version": __version__,
        "files": {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()},
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return FixtureSet(env, release, target, captured_at, tuple(files))


def load_fixture_set(
    root: Path, env: str, baseline: str | None = None, *, source: Path | str | None = None
) -> FixtureSet | None:
    """The baseline's fixtures (`RELEASE` or `ENV/RELEASE`), else this environment's newest; None if none.

    A missing baseline names `source` (the configuration file that set it) and its field."""
    if baseline:
        owner, _, release = baseline.rpartition("/")
        inside = confined(root, Path(owner or env) / release)
        if inside is None or not _RELEASE.match(release) or (owner and not _RELEASE.match(owner)):
            raise ConfigError(
                f"{baseline!r} is not a release in the fixtures folder {root} (RELEASE or ENV/RELEASE)",
                path=source,
                field=f"environments.{env}.baseline",
            )
        directory = inside
        if not (directory / MANIFEST).exists():
            raise ConfigError(
                f"no fixtures at {directory} (capture them with `workbench fixtures capture`)",
                path=source,
                field=f"environments.{env}.baseline",
            )
        return _read_set(directory)
    folder = confined(root, env)
    releases = sorted(folder.glob("*/")) if folder is not None else []
    candidates = [
        _read_set(d) for d in releases if confined(root, d.relative_to(root)) and (d / MANIFEST).exists()
    ]
    return max(candidates, key=lambda s: s.captured_at, default=None)


def _read_set(directory: Path) -> FixtureSet:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = tuple(manifest["files"])
        for name in files:  # a name, in this folder: never `../`, a path, or a link out of it
            if not isinstance(name, str) or not _FILE_NAME.match(name) or confined(directory, name) is None:
                raise ConfigError(f"names {name!r}, which is not a file of this folder", path=path)
        return FixtureSet(
            str(manifest["env"]), str(manifest["release"]), directory, str(manifest["captured_at"]), files
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"unreadable fixture manifest ({type(exc).__name__}: {exc})", path=path) from None
