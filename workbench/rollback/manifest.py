"""The manifest and `capture_bundle`: what the team writes down about a release, resolved into a bundle.

The workbench config knows only part of a release's contract; the rest (client, prompt template,
feature flags, ...) lives with the team, so the team names it in a manifest. TOML, every table
optional, file paths relative to the manifest's folder::

    [client]                  # the API client package or internal HTTP wrapper (required: package)
    package = "openai"        # version = "1.40.0"; else the installed version (not installed: error)
    [request]
    payload_template = "templates/request.json"       # file, recorded with its sha256
    prompt_template = "templates/system_prompt.txt"   # file, recorded with its sha256
    [parser]
    ref = "package.module:function"   # must import; the defining source file is hashed
    [timeouts]                # scalars: timeout_s = 30, max_retries = 2, backoff = "exponential"
    [feature_flags]           # file = "flags.json" (hashed) and/or scalars: streaming = false
    [token_budget]            # scalars: max_tokens = 512
    [observability]
    labels = { service = "chat", integration = "cometapi" }   # string values
    [notes]
    operator = "Check the CometAPI dashboard token limit before rollback."

A table left out falls back to the config, exactly as with no manifest at all (endpoint, key
variable, `timeout_s`, parser ref, `max_tokens`, `app_request` inline); what nobody knows is recorded
as missing. A malformed manifest is a `ConfigError` naming the file and the key (or line), and a
secret anywhere is refused: in both cases nothing is written.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core import clock
from workbench.core.errors import ConfigError, UsageError
from workbench.core.files import write_atomic
from workbench.core.locations import confined
from workbench.core.secrets import SecretFinding, scan_text
from workbench.core.tomlfile import load_toml
from workbench.probes.fixtures import check_release
from workbench.probes.verdict import verdict_for
from workbench.rollback.bundle import (
    DEFAULT_BUNDLES_DIR,
    PARTS,
    Bundle,
    RefError,
    SecretInBundle,
    file_sha256,
    import_ref,
    source_of,
)

if TYPE_CHECKING:
    from workbench.core.config import Config, Environment
    from workbench.history.store import HistoryStore

DEFAULT_PARSER_REF = "workbench:reference_parser"
# Where each part is written in a manifest: what a "missing" hint tells the team to add.
_MANIFEST_KEYS: Mapping[str, str] = {
    "client": "[client] package",
    "request_template": "[request] payload_template",
    "prompt_template": "[request] prompt_template",
    "parser": "[parser] ref",
    "timeouts": "[timeouts]",
    "feature_flags": "[feature_flags]",
    "token_budget": "[token_budget]",
    "observability": "[observability] labels",
    "operator_notes": "[notes] operator",
}
# table -> allowed keys; None: any scalar key
_MANIFEST_TABLES: Mapping[str, frozenset[str] | None] = {
    "client": frozenset({"package", "version"}),
    "request": frozenset({"payload_template", "prompt_template"}),
    "parser": frozenset({"ref"}),
    "timeouts": None,
    "feature_flags": None,
    "token_budget": None,
    "observability": frozenset({"labels"}),
    "notes": frozenset({"operator"}),
}


def capture_bundle(
    config: Config,
    env_name: str,
    release: str,
    *,
    manifest: Path | None,
    store: HistoryStore,
    bundles_dir: Path = DEFAULT_BUNDLES_DIR,
    force: bool = False,
    write: bool = True,
) -> Bundle:
    """Resolve the manifest (or the config alone) into a bundle and write it atomically.

    `write=False` resolves only: the deployed state a rollback plan is checked against, or the
    current state a readiness report diffs with the last known-good bundle.
    """
    (env,) = config.select([env_name])
    check_release(release)
    target = bundles_dir / env.name / f"{release}.json"
    if write and target.exists() and not force:
        raise _exists(env.name, release, target)
    parsed = _Manifest.load(manifest) if manifest is not None else None
    now = clock.now()
    parts, origins, files = _resolve_parts(config, env, parsed)
    parts["known_good"] = _known_good(env.name, store, clock.iso(now, "milliseconds"))
    origins["known_good"] = store.display_url
    parts = {name: parts[name] for name in PARTS}
    secrets = config.key_values()
    _refuse_secrets(parts, origins, files, secrets)
    bundle = Bundle(
        env=env.name,
        release=release,
        captured_at=clock.iso(now, "seconds"),
        parts=parts,
        path=target,
        manifest=_display(manifest, config.project) if manifest is not None else None,
    )
    text = bundle.to_json()
    findings = scan_text(text, where=str(target), secrets=secrets)  # in a name, say: last line of defence
    if findings:
        raise _secret_error("bundle", findings[0], f"{findings[0]}")
    if write:
        write_atomic(target, text, force=force, exists=lambda: _exists(env.name, release, target))
    return bundle


def manifest_for(config: Config, env_name: str, explicit: Path | None) -> Path:
    """The manifest a bundle of `env_name` is captured from (`--manifest`, else the environment's),
    read and resolved: none, or a bad one, is a `ConfigError` before any side effect. A bundle of
    the config alone would miss parts that `bundle verify` then rejects."""
    (environment,) = config.select([env_name])
    manifest = explicit or environment.manifest
    if manifest is None:
        raise ConfigError(
            f"no integration manifest for environment {env_name!r}: pass --manifest FILE, or set manifest = "
            f'"FILE" in [environments.{env_name}] (README, "Rollback bundles"); nothing was written',
            path=config.source or "<built-in default>",
            field=f"environments.{env_name}.manifest",
        )
    validate_manifest(manifest)
    return manifest


def validate_manifest(path: Path) -> None:
    """Read and resolve a manifest (files, parser, client) so bad input fails before any side effect."""
    _manifest_parts(_Manifest.load(path), [])


def deployed_bundle(state: Path, config: Config, env_name: str, *, store: str | None = None) -> Bundle:
    """What is deployed now, for a rollback plan: a manifest (.toml) resolved as a bundle, or a bundle file.

    Only a manifest needs the history (for its known-good part): the store at URL `store` is
    opened then and only then, so checking against a bundle file never creates a store. Nothing is
    written. A bad manifest or bundle is one `ConfigError` naming the file.
    """
    if state.suffix != ".toml":
        return Bundle.load(state)
    from workbench.history.store import HistoryStore  # SQLAlchemy loads only when it is needed

    with HistoryStore.for_config(config, store) as history:
        return capture_bundle(
            config,
            env_name,
            "deployed-now",
            manifest=state,
            store=history,
            bundles_dir=config.settings.bundles_dir,
            write=False,
        )


@dataclass(frozen=True)
class _Manifest:
    path: Path
    tables: Mapping[str, Mapping[str, Any]]

    @classmethod
    def load(cls, path: Path) -> _Manifest:
        data = load_toml(path, not_found="manifest not found (check the path)")
        for name, table in data.items():
            if name not in _MANIFEST_TABLES:
                known = ", ".join(f"[{t}]" for t in _MANIFEST_TABLES)
                raise ConfigError(f"unknown table or key (known tables: {known})", path=path, field=name)
            if not isinstance(table, dict):
                raise ConfigError(f"must be a table: write it as [{name}]", path=path, field=name)
            allowed = _MANIFEST_TABLES[name]
            for key in table:
                if allowed is not None and key not in allowed:
                    raise ConfigError(
                        f"unknown key (known in [{name}]: {', '.join(sorted(allowed))})",
                        path=path,
                        field=f"{name}.{key}",
                    )
        return cls(path, data)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def error(self, message: str, key: str) -> ConfigError:
        return ConfigError(message, path=self.path, field=key)

    def string(self, table: str, key: str) -> str | None:
        value = self.tables.get(table, {}).get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"must be a non-empty string, got {_type_name(value)}", f"{table}.{key}")
        return value

    def scalars(self, table: str, *, skip: str = "") -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in self.tables[table].items():
            if key == skip:
                continue
            if not isinstance(value, str | int | float):  # bool is an int
                raise self.error(
                    f"must be a string, number or boolean, got {_type_name(value)}", f"{table}.{key}"
                )
            values[key] = value
        return values

    def file(self, table: str, key: str) -> tuple[dict[str, Any], Path, bytes] | None:
        name = self.string(table, key)
        if name is None:
            return None
        path = confined(self.folder, name)
        if path is None:
            raise self.error(
                f"{name!r} is not in the manifest's folder {self.folder} (paths are relative to it; no "
                "'../', absolute path or link out of it)",
                f"{table}.{key}",
            )
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise self.error(
                f"file not found: {path} (paths are relative to the manifest's folder)", f"{table}.{key}"
            ) from None
        except OSError as exc:
            raise self.error(f"cannot read {path}: {exc.strerror}", f"{table}.{key}") from None
        return {"file": name, "sha256": hashlib.sha256(data).hexdigest()}, path, data


_Files = list[tuple[str, Path, bytes]]


def _resolve_parts(
    config: Config, env: Environment, manifest: _Manifest | None
) -> tuple[dict[str, dict[str, Any]], dict[str, str], _Files]:
    """Every part but known_good, where each came from (for messages), and the files read.

    The manifest wins; what it leaves out falls back to what the config knows, else is "missing".
    """
    config_where = str(config.source or "<built-in default>")
    files: _Files = []
    written = _manifest_parts(manifest, files) if manifest is not None else {}
    fallbacks: dict[str, Callable[[], dict[str, Any]]] = {
        "endpoint": lambda: {"base_url": env.base_url, "path": env.path, "model": env.model},
        "secret_reference": lambda: {"api_key_env": env.api_key_env},
        "request_template": lambda: {
            "inline": dict(env.app_request),
            "sha256": _json_sha256(env.app_request),
        },
        "parser": lambda: _parser_part(
            env.parser or DEFAULT_PARSER_REF, path=config_where, key=f"environments.{env.name}.parser"
        ),
        "timeouts": lambda: {"timeout_s": env.timeout_s},
        "token_budget": lambda: {"max_tokens": env.max_tokens},
    }
    parts: dict[str, dict[str, Any]] = {}
    origins: dict[str, str] = {}
    for part in PARTS:
        if part in written and manifest is not None:
            parts[part], origins[part] = written[part], str(manifest.path)
        elif part in fallbacks:
            parts[part], origins[part] = fallbacks[part](), config_where
        elif part != "known_good":
            parts[part], origins[part] = _missing(part, manifest), config_where
    return parts, origins, files


def _manifest_parts(manifest: _Manifest, files: _Files) -> dict[str, dict[str, Any]]:
    """The parts the manifest writes down (validated), appending each file read to `files`."""
    found: dict[str, dict[str, Any]] = {}
    client = _client_part(manifest)
    if client is not None:
        found["client"] = client
    for part, key in (("request_template", "payload_template"), ("prompt_template", "prompt_template")):
        template = manifest.file("request", key)
        if template is not None:
            found[part] = template[0]
            files.append((part, template[1], template[2]))
    ref = manifest.string("parser", "ref")
    if ref is not None:
        found["parser"] = _parser_part(ref, path=manifest.path, key="parser.ref")
    for part in ("timeouts", "token_budget"):
        if part in manifest.tables:
            found[part] = manifest.scalars(part)
    if "feature_flags" in manifest.tables:
        flags = manifest.file("feature_flags", "file")
        if flags is not None:
            files.append(("feature_flags", flags[1], flags[2]))
        head = flags[0] if flags is not None else {"file": None, "sha256": None}
        found["feature_flags"] = {**head, "values": manifest.scalars("feature_flags", skip="file")}
    labels = _labels(manifest, manifest.tables.get("observability", {}).get("labels"))
    if labels is not None:
        found["observability"] = labels
    text = manifest.string("notes", "operator")
    if text is not None:
        found["operator_notes"] = {"text": text}
    return found


def _client_part(manifest: _Manifest) -> dict[str, Any] | None:
    if "client" not in manifest.tables:
        return None
    package = manifest.string("client", "package")
    if package is None:
        raise manifest.error('required key is missing: name the client, e.g. package = "openai"', "client")
    version = manifest.string("client", "version")
    if version is None:
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            raise manifest.error(
                f"package {package!r} is not installed here, so its version is unknown: "
                'set client.version = "X.Y.Z" (the version the release deploys)',
                "client.package",
            ) from None
    return {"package": package, "version": version}


def _labels(manifest: _Manifest, labels: Any) -> dict[str, Any] | None:
    if labels is None:
        return None
    if not isinstance(labels, dict):
        raise manifest.error(
            f'must be a table of strings, e.g. {{ service = "chat" }}, got {_type_name(labels)}',
            "observability.labels",
        )
    for key, value in labels.items():
        if not isinstance(value, str):
            raise manifest.error(f"must be a string, got {_type_name(value)}", f"observability.labels.{key}")
    return {"labels": dict(labels)}


def _missing(part: str, manifest: _Manifest | None) -> dict[str, Any]:
    key = _MANIFEST_KEYS[part]
    if manifest is None:
        hint = f"the workbench config does not know it: write a manifest with {key} and capture again"
    else:
        hint = f"{manifest.path} has no {key}: add it and capture again"
    return {"missing": True, "hint": hint}


def _parser_part(ref: str, *, path: Path | str, key: str) -> dict[str, Any]:
    """The parser's ref, its defining source file (hashed) and its distribution's version."""
    try:
        target = import_ref(ref)
    except RefError as exc:
        raise ConfigError(str(exc), path=path, field=key) from None
    source, relative = source_of(target)
    return {
        "ref": ref,
        "file": relative,
        "sha256": file_sha256(source) if source is not None else None,
        "version": _distribution(target),
    }


def _distribution(target: Callable[..., Any]) -> str | None:
    top = (getattr(target, "__module__", None) or "").split(".")[0]
    for name in _packages_distributions().get(top, []):
        try:
            return f"{name} {importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> Mapping[str, list[str]]:
    """Top-level module -> distributions; scanning every installed package takes a noticeable while."""
    return importlib.metadata.packages_distributions()


def _known_good(env: str, store: HistoryStore, before: str) -> dict[str, Any]:
    run_id = store.last_passing_run(env, before=before)
    if run_id is None:
        return {
            "missing": True,
            "hint": f"no complete passing run of {env} (a --probe selection never counts): "
            f"run `workbench audit --env {env}` until it passes",
        }
    verdict = verdict_for(env, store.results([run_id], envs=[env]))
    return {
        "run_id": run_id,
        "verdict": str(verdict.status),
        "summary": dict(sorted(verdict.counts.items())),
        "started_at": store.run(run_id).started_at,
    }


def _refuse_secrets(
    parts: Mapping[str, Mapping[str, Any]], origins: Mapping[str, str], files: _Files, secrets: dict[str, str]
) -> None:
    for part, path, data in files:
        findings = scan_text(data.decode("utf-8", "replace"), where=str(path), secrets=secrets)
        if findings:
            raise _secret_error(part, findings[0], str(findings[0]))
    for part, value in parts.items():
        findings = scan_text(json.dumps(value), where=origins[part], secrets=secrets)
        if findings:
            found = findings[0]
            raise _secret_error(
                part, found, f"{found.path}: {found.kind} ({found.masked}) in the recorded value"
            )


def _secret_error(part: str, finding: SecretFinding, where: str) -> SecretInBundle:
    return SecretInBundle(
        f"{where} would go into part {part!r}: a bundle records the key's variable name, never a key; "
        "remove it (and rotate the key); nothing was written",
        part=part,
        path=finding.path,
    )


def _exists(env: str, release: str, target: Path) -> UsageError:
    return UsageError(f"bundle {env}/{release} exists at {target}; pass --force to replace it")


def _type_name(value: Any) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}
    return names.get(type(value), f"a {type(value).__name__}")


def _json_sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _display(path: Path, project: Path) -> str:
    """The manifest as the bundle records it: relative to the project folder when inside it (so
    the bundle reads the same from any folder and in any checkout), else absolute."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(project.resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()
