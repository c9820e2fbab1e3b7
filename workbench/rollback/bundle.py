"""The bundle file: the whole integration contract of one release, so a rollback restores all of it.

Teams roll back code and leave a new prompt template, parser, feature flag or endpoint override in
place. A bundle records every part of one release's contract in one readable JSON file,
`data/bundles/<env>/<release>.json`, committed next to the release; `format` is interface::

    {"format": "contract-workbench-bundle/1", "env": "reference", "release": "r42",
     "captured_at": "2026-05-10T12:00:00Z", "workbench_version": "0.1.0",
     "manifest": "data/integration/manifest.toml",   # relative to the project folder, or null
     "parts": {
       "client": {"package": "openai", "version": "1.40.0"},
       "endpoint": {"base_url": "https://... or embedded", "path": "/v1/chat/completions", "model": "..."},
       "secret_reference": {"api_key_env": "COMETAPI_API_KEY"},          # never the value
       "request_template": {"file": "request.json", "sha256": "..."},    # or {"inline": {...}, "sha256": ...}
       "prompt_template": {"file": "system_prompt.txt", "sha256": "..."},
       "parser": {"ref": "pkg.mod:func", "file": "pkg/mod.py", "sha256": "...", "version": "pkg 1.2.3"},
       "timeouts": {"timeout_s": 30, "max_retries": 2},
       "feature_flags": {"file": "flags.json", "sha256": "...", "values": {"routing": "v2"}},
       "token_budget": {"max_tokens": 256},
       "observability": {"labels": {"service": "chat"}},
       "known_good": {"run_id": "...", "verdict": "ready", "summary": {"pass": 8, "skip": 3},
                      "started_at": "..."},                # the env's last passing run in the store
       "operator_notes": {"text": "..."}}}

A part nobody recorded is `{"missing": true, "hint": "what to do"}`, so verify fails until the team
writes it down. A bundle is shared, so it never holds a key (`SecretInBundle`). Capturing is in
`_manifest`; verify, diff and rollback plans are in `_rollback`.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench import __version__
from workbench.core.errors import ConfigError, UsageError, WorkbenchError
from workbench.core.locations import BUNDLES_DIR, confined
from workbench.core.references import IMPORT_REF

FORMAT = "contract-workbench-bundle/1"
DEFAULT_BUNDLES_DIR = BUNDLES_DIR
PARTS: tuple[str, ...] = (
    "client",
    "endpoint",
    "secret_reference",
    "request_template",
    "prompt_template",
    "parser",
    "timeouts",
    "feature_flags",
    "token_budget",
    "observability",
    "known_good",
    "operator_notes",
)
# What a rollback restores, by the kind of thing the release system holds; known_good and
# operator_notes are evidence and instructions, read during a rollback but never "restored".
KINDS: Mapping[str, str] = {
    "client": "artifact",
    "endpoint": "configuration",
    "secret_reference": "configuration",
    "request_template": "templates",
    "prompt_template": "templates",
    "parser": "parser",
    "timeouts": "configuration",
    "feature_flags": "configuration",
    "token_budget": "configuration",
    "observability": "configuration",
}


class SecretInBundle(WorkbenchError):
    """A bundle is committed and shared: one that would hold a key is never written."""

    exit_code = 1

    def __init__(self, message: str, *, part: str, path: str) -> None:
        self.part = part
        self.path = path
        super().__init__(message)


@dataclass(frozen=True)
class Bundle:
    """The whole integration contract of one release of one environment."""

    env: str
    release: str
    captured_at: str
    parts: Mapping[str, Mapping[str, Any]]
    path: Path | None = None
    manifest: str | None = None
    workbench_version: str = __version__

    @property
    def label(self) -> str:
        return f"{self.env}/{self.release}"

    def manifest_folder(self, project: Path) -> Path:
        """The folder the recorded manifest's file parts are relative to, wherever the shell is.

        A relative manifest path is relative to the project folder; bundles captured before that
        rule recorded it relative to the folder they were captured from, so the folders above the
        bundle file are tried next (a capture from a parent of the project). No manifest: the project.
        """
        if not self.manifest:
            return project
        recorded = Path(self.manifest)
        if recorded.is_absolute():
            return recorded.parent
        above = self.path.resolve().parents if self.path is not None else ()
        for base in (project, *above):
            if (base / recorded).is_file():
                return (base / recorded).parent
        return (project / recorded).parent

    def to_json(self) -> str:
        record = {
            "format": FORMAT,
            "env": self.env,
            "release": self.release,
            "captured_at": self.captured_at,
            "workbench_version": self.workbench_version,
            "manifest": self.manifest,
            "parts": {name: dict(value) for name, value in self.parts.items()},
        }
        return json.dumps(record, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def load(cls, path: Path | str) -> Bundle:
        """Read a bundle file; anything unreadable is one `ConfigError` naming the file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("bundle file not found (capture it first)", path=path) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the bundle ({type(exc).__name__}: {exc})", path=path) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=path
            ) from None
        if not isinstance(data, dict):
            raise ConfigError("not a bundle: expected a JSON object", path=path)
        if data.get("format") != FORMAT:
            raise ConfigError(
                f"unsupported format {data.get('format')!r}: expected {FORMAT!r} (capture it again)",
                path=path,
                field="format",
            )
        for key in ("env", "release", "captured_at"):
            if not isinstance(data.get(key), str):
                raise ConfigError("must be a string", path=path, field=key)
        manifest = data.get("manifest")
        if manifest is not None and not isinstance(manifest, str):
            raise ConfigError("must be a string or null", path=path, field="manifest")
        parts = data.get("parts")
        if not isinstance(parts, dict):
            raise ConfigError("must be an object of parts", path=path, field="parts")
        for name, value in parts.items():
            if not isinstance(value, dict):
                raise ConfigError("must be an object", path=path, field=f"parts.{name}")
        return cls(
            env=data["env"],
            release=data["release"],
            captured_at=data["captured_at"],
            parts=parts,
            path=path,
            manifest=manifest,
            workbench_version=str(data.get("workbench_version", "")),
        )


def resolve_bundle(reference: str, bundles_dir: Path = DEFAULT_BUNDLES_DIR) -> Path:
    """A bundle file from "path/to/x.json" or "ENV/RELEASE" (under `bundles_dir`)."""
    candidate = Path(reference)
    if reference.endswith(".json") or candidate.is_file():
        if not candidate.is_file():
            raise UsageError(f"no bundle file at {candidate}: check the path, or give ENV/RELEASE")
        return candidate
    env, _, release = reference.partition("/")
    if not env or not release or "/" in release:
        raise UsageError(f"bundle {reference!r}: give ENV/RELEASE (e.g. reference/r42) or a .json path")
    path = confined(bundles_dir, Path(env) / f"{release}.json")
    if path is None:
        raise UsageError(f"bundle {reference!r} is not in the bundles folder {bundles_dir}: give ENV/RELEASE")
    if not path.is_file():
        raise UsageError(f"no bundle {reference} at {path}: capture it first, or check the bundles folder")
    return path


# Shared by capture (`_manifest`) and verify (`_rollback`): both must hash and resolve a part the same way.


def file_sha256(path: Path) -> str:
    """The sha256 a bundle records for a file (templates, feature flags, the parser's source)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class RefError(ValueError):
    """A parser ref that does not resolve to a function (the message says why)."""


_MODULE_FILE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*\.py$")


def find_source(relative: str) -> Path | None:
    """The file a bundle recorded for its parser (`pkg/mod.py`, as `source_of` names it), looked up
    on this Python's path the way the import system looks, without importing anything: `find_spec`
    of `pkg.mod` would run `pkg/__init__.py`, code an edited bundle could choose. None: not a module
    path, or not on the path here."""
    if not _MODULE_FILE.match(relative):
        return None
    for entry in sys.path:
        folder = Path(entry or ".")
        candidate = confined(folder, relative) if folder.is_dir() else None
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def import_ref(ref: str) -> Callable[..., Any]:
    """The function a parser ref ("package.module:function") names; `RefError` says why it cannot."""
    if not IMPORT_REF.match(ref):
        raise RefError(f"must look like 'package.module:function', got {ref!r}")
    module_name, _, attribute = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an import that raises anything is just as unusable
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RefError(
            f"cannot import module {module_name!r} ({reason}): install it or fix the ref"
        ) from None
    target = getattr(module, attribute, None)
    if not callable(target):
        raise RefError(f"module {module_name!r} has no function {attribute!r}: fix the ref")
    return target  # type: ignore[no-any-return]


def source_of(target: Callable[..., Any]) -> tuple[Path | None, str | None]:
    """The file defining `target`, and its path as the module layout names it ("pkg/mod.py")."""
    module = inspect.getmodule(target)
    try:
        filename = inspect.getsourcefile(target)
    except TypeError:  # a builtin
        filename = None
    filename = filename or getattr(module, "__file__", None)
    if filename is None or module is None:
        return None, None
    path = Path(filename)
    names = module.__name__.split(".")
    if path.stem != "__init__":
        names = names[:-1]
    return path, "/".join([*names, path.name])


def latest_bundle(env: str, bundles_dir: Path = DEFAULT_BUNDLES_DIR) -> Bundle | None:
    """The environment's most recently captured bundle: its last known-good release, or None."""
    folder = confined(bundles_dir, env)
    files = sorted(folder.glob("*.json")) if folder is not None else []
    bundles = [Bundle.load(path) for path in files if confined(folder or bundles_dir, path.name) is not None]
    return max(bundles, key=lambda bundle: bundle.captured_at, default=None)
