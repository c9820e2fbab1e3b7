"""Configuration: which environments to audit, read from TOML and validated strictly.

The configuration holds *references* to secrets (environment-variable names), never values; the
value is read only when a request is sent (see `Environment.api_key`). Every problem becomes one
`ConfigError` line naming the file and the field, so a scheduler's log says what to fix.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.core.appcontract import (
    AppContract,
    AppRequestError,
    app_contract,
    check_app_request,
    check_uses,
)
from workbench.core.errors import ConfigError
from workbench.core.locations import (
    BUNDLES_DIR,
    FIXTURES_DIR,
    TRIGGERS_FILE,
    BucketPrefix,
    ProjectFolder,
    find_config,
    project_folder,
    report_location,
    store_backend,
)
from workbench.core.projectname import KEY as PROJECT_NAME_KEY
from workbench.core.projectname import ProjectName, ProjectNameError, check_name, resolve
from workbench.core.references import IMPORT_REF, VARIABLE_NAME
from workbench.core.scenarios import DRIFTED_DEFAULT, Scenario, parse_scenarios
from workbench.core.secrets import known_secrets
from workbench.core.tomlfile import parse_toml, read_text

EMBEDDED = "embedded"
DEFAULT_PATH = "/v1/chat/completions"
EMBEDDED_MODEL = "wb-reference-1"
# The two names of a request's token budget: OpenAI's reasoning models take only the second.
TOKEN_PARAMS = ("max_tokens", "max_completion_tokens")
# Text left from a template (README's `REPLACE_WITH_APPROVED_MODEL_ID`, `<model>`, `your-model`):
# sent as is, it would only earn a 404 and read as the endpoint's fault.
_PLACEHOLDER = re.compile(
    r"replace[_ -]?(with|me)|change[_ -]?me|\byour[_ -]|placeholder"
    r"|^<[^<>]*>$|^\{[^{}]*\}$|^(todo|tbd|fixme|x{3,}|model[_-]?id)$",
    re.IGNORECASE,
)
DRIFT_REFERENCE = "reference"  # the default drift reference, when an environment has this name
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")  # an HTTP field name (a token)
# Headers the workbench sets itself (`Authorization` carries the key): `headers_env` adds others.
_OWN_HEADERS = frozenset(
    {
        "authorization",
        "user-agent",
        "accept",
        "accept-encoding",
        "content-type",
        "content-length",
        "content-encoding",
        "host",
        "connection",
        "transfer-encoding",
        "te",
        "upgrade",
        "cookie",
    }
)
# `baseline`: RELEASE or ENV/RELEASE, names in the fixtures folder, never a path out of it
_BASELINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]{0,63}/)?[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


class _Strict(BaseModel):
    """No unknown keys and no coercion: `timeout_s = "30"` or `production = "yes"` is an error, not a guess.

    Paths are the one exception (`Field(strict=False)`): TOML has no path type, so they arrive as text.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Environment(_Strict):
    """One endpoint to audit. Field names are interface: they are what users write in TOML."""

    name: str = Field(exclude=True)
    base_url: str
    path: str = DEFAULT_PATH
    api_key_env: str | None = None
    # extra headers a gateway needs (basic auth, its own key): header name -> the NAME of the
    # variable holding its value, read at send time, redacted like the key, never logged
    headers_env: dict[str, str] = Field(default_factory=dict)
    model: str | None = None
    production: bool = False
    stream: bool = False
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    app_request: dict[str, Any] = Field(default_factory=dict)
    scenario: str | list[str] | None = None
    latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    parser: str | None = None
    acceptance: str | None = None
    baseline: str | None = None  # known-good fixtures: "RELEASE" or "ENV/RELEASE"; default the newest
    # the integration manifest its rollback bundles are captured from
    manifest: Path | None = Field(default=None, strict=False)
    negatives_from: str | None = None  # for production: the environment whose negative tests stand for it
    # the probes' own budget (never a finding), its name, and the larger budget an empty cut answer
    # is asked again with (reasoning models spend hidden tokens before any visible output)
    max_tokens: int = Field(default=16, ge=1, le=4096)
    token_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    max_tokens_retry: int = Field(default=1024, ge=2, le=32768)
    # what the app reads of an answer, beyond what its app_request asks for (see core.appcontract)
    uses: list[str] = Field(default_factory=list)
    # every deviation from the documented schema fails, not only those in fields the app reads
    strict_schema: bool = False

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if value == EMBEDDED:
            return value
        parts = urllib.parse.urlsplit(value)
        if "@" in parts.netloc:  # before any message quotes the URL: it would quote the password
            shown = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
            raise ValueError(
                f"carries credentials ({shown}): a URL is printed and logged; put the value in an "
                "environment variable and send it with headers_env (README, Configuration)"
            )
        _check_url_text(value)
        if parts.scheme not in ("http", "https") or not value.lower().startswith(f"{parts.scheme}://"):
            raise ValueError(f"must be 'embedded' or an http(s) URL, got {value!r}")
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when it is read
        except ValueError:
            raise ValueError(f"has an invalid port, got {value!r}") from None
        if not parts.hostname:
            raise ValueError(f"must name a host, got {value!r}")
        return value.rstrip("/")

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str | None) -> str | None:
        if value is not None and _PLACEHOLDER.search(value):
            raise ValueError(
                f"{value!r} is a placeholder, not a model id: set the approved model id "
                "(the provider's model list names it)"
            )
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        _check_url_text(value)
        if not value.startswith("/"):
            raise ValueError(f"must start with '/', got {value!r}")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _check_var_name(cls, value: str | None) -> str | None:
        if value is not None and not VARIABLE_NAME.match(value):
            raise ValueError("must be the NAME of an environment variable (letters, digits, _), not a key")
        return value

    @field_validator("headers_env")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, variable in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
            if name.lower() in _OWN_HEADERS:
                raise ValueError(
                    f"{name!r} is set by the workbench itself (the key goes in Authorization, from "
                    "api_key_env): name another header"
                )
            if not isinstance(variable, str) or not VARIABLE_NAME.match(variable):
                raise ValueError(
                    f"{name}: must be the NAME of an environment variable (letters, digits, _), not a value"
                )
        return value

    @field_validator("scenario")
    @classmethod
    def _check_scenario(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is not None:
            parse_scenarios(value)
        return value

    @field_validator("parser", "acceptance")
    @classmethod
    def _check_import_ref(cls, value: str | None) -> str | None:
        if value is not None and not IMPORT_REF.match(value):
            raise ValueError(f"must look like 'package.module:function', got {value!r}")
        return value

    @field_validator("baseline")
    @classmethod
    def _check_baseline(cls, value: str | None) -> str | None:
        if value is not None and (not _BASELINE.match(value) or ".." in value.split("/")):
            raise ValueError(
                f"must be RELEASE or ENV/RELEASE (letters, digits, '.', '_', '+', '-'), got {value!r}"
            )
        return value

    @field_validator("app_request")
    @classmethod
    def _check_app_request(cls, value: dict[str, Any]) -> dict[str, Any]:
        forbidden = {"model", "stream"} & value.keys()
        if forbidden:
            raise ValueError(
                f"{sorted(forbidden)[0]!r} is set by the environment itself (model, stream), not app_request"
            )
        return value

    @field_validator("uses")
    @classmethod
    def _check_uses(cls, value: list[str]) -> list[str]:
        check_uses(value)
        return value

    @model_validator(mode="after")
    def _check_budgets(self) -> Environment:
        if self.max_tokens_retry <= self.max_tokens:
            raise ValueError(
                f"max_tokens_retry ({self.max_tokens_retry}) must be larger than max_tokens "
                f"({self.max_tokens}): it is the larger budget an empty, cut answer is asked again with"
            )
        return self

    @model_validator(mode="after")
    def _check_embedded_fields(self) -> Environment:
        if self.is_embedded:
            if self.scenario is None:
                object.__setattr__(self, "scenario", "conformant")
            if self.model is None:
                object.__setattr__(self, "model", EMBEDDED_MODEL)
        else:
            if self.scenario is not None:
                raise ValueError("'scenario' applies only to base_url = \"embedded\"")
            if self.model is None:
                raise ValueError("'model' is required for a real endpoint (the approved model id)")
            if self.api_key_env is None:
                raise ValueError(
                    "'api_key_env' is required for a real endpoint (the variable holding the key)"
                )
        return self

    @property
    def is_embedded(self) -> bool:
        return self.base_url == EMBEDDED

    @functools.cached_property
    def app(self) -> AppContract:
        """What the app's request uses and what it reads of the answer: what the probes judge."""
        return app_contract(self.app_request, self.uses)

    @property
    def scenarios(self) -> frozenset[Scenario]:
        """The embedded endpoint's behaviours (empty for a real endpoint)."""
        return parse_scenarios(self.scenario) if self.scenario is not None else frozenset()

    def api_key(self) -> str | None:
        """The key's value, read now from the named variable; `None` when none is configured."""
        if self.api_key_env is None:
            return None
        return os.environ.get(self.api_key_env)

    def header_values(self) -> dict[str, str]:
        """`headers_env` with each value read now from its variable (an unset one is left out)."""
        return {
            name: value for name, variable in self.headers_env.items() if (value := os.environ.get(variable))
        }


def _check_url_text(value: str) -> None:
    """Whitespace or a control character in a URL is never meant: CR/LF would split the request line."""
    bad = re.search(r"[\x00-\x1f\x7f-\x9f]|\s", value)
    if bad is not None:
        what = "whitespace" if bad.group().isspace() else "a control character"
        raise ValueError(f"contains {what} ({bad.group()!r} at {bad.start()}), got {value!r}")


class Settings(_Strict):
    """Run-wide knobs, the optional `[workbench]` table."""

    # requests in flight per host (scheme, host, port): 1, so no probe's verdict depends on another's
    concurrency_per_env: int = Field(default=1, ge=1, le=64)
    # per-run caps per environment; unset: what covers the whole catalog once with every retry
    max_requests_per_env: int | None = Field(default=None, ge=1, le=100_000)
    max_requested_tokens_per_env: int | None = Field(default=None, ge=1, le=100_000_000)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    fixtures_dir: Path = Field(default=FIXTURES_DIR, strict=False)
    bundles_dir: Path = Field(default=BUNDLES_DIR, strict=False)
    # trigger rules; default data/triggers.toml, else the built-in examples
    triggers: Path | None = Field(default=None, strict=False)
    # where reports go: a folder (relative: in the project) or s3://bucket/prefix; default reports/
    reports: str | None = None
    # the one environment the others' drift is judged against (never all pairs); default: the
    # environment named `reference` if there is one, else the first (`probes.drift.reference_environment`)
    drift_reference: str | None = None
    # whose evidence (core.projectname): required on a shared store; never the project folder
    project: str | None = None

    @field_validator("reports")
    @classmethod
    def _reports_location(cls, value: str | None) -> str | None:
        if value is not None:
            report_location(value)  # the scheme allow-list: a ValueError names what is wrong
        return value

    @field_validator("project")
    @classmethod
    def _check_project(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_name(value)
            except ProjectNameError as exc:
                raise ValueError(str(exc)) from None
        return value


class _File(_Strict):
    workbench: Settings = Field(default_factory=Settings)
    environments: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Config:
    """A validated configuration: the environments in file order, the settings, where it came from."""

    environments: Mapping[str, Environment]
    settings: Settings
    source: Path | None  # None: the built-in embedded default
    digest: str  # sha256 of the file's bytes: provenance without content
    project_dir: Path | None = None  # --project-dir; None: the configuration file's folder (`project`)

    @property
    def project(self) -> Path:
        """The project folder: where its data/ and reports/ are (`locations.project_folder`); not
        the project name (`project_name`), which says whose evidence a run is."""
        return project_folder(self.source, self.project_dir)

    def project_name(self, store_url: str) -> ProjectName:
        """Whose evidence runs on store `store_url` read and write: `[workbench] project`, else
        (SQLite only) derived from the project folder's name; on a PostgreSQL store a missing name
        is a `ConfigError` naming the key."""
        try:
            return resolve(self.settings.project, backend=store_backend(store_url), folder=self.project)
        except ProjectNameError as exc:
            raise ConfigError(
                str(exc), path=self.source or "<built-in default>", field=PROJECT_NAME_KEY
            ) from None

    @property
    def folder(self) -> ProjectFolder:
        """The project folder with its default paths."""
        return ProjectFolder(self.project, self.source, explicit=self.project_dir is not None)

    def reports(self, explicit: str | None = None) -> Path | BucketPrefix:
        """Where reports go: `--reports` (a relative folder taken here), else `[workbench] reports`
        (a relative folder taken in the project), else the project's reports/; a ConfigError (exit
        2) names a scheme or URL that is refused."""
        if explicit is not None:
            try:
                return report_location(explicit)
            except ValueError as exc:
                raise ConfigError(str(exc), field="--reports") from None
        if self.settings.reports is not None:
            return report_location(self.settings.reports, base=self.project)
        return self.folder.reports

    def select(self, names: Sequence[str] = ()) -> list[Environment]:
        """The named environments (all when none are named), refusing unknown names."""
        if not names:
            return list(self.environments.values())
        unknown = [name for name in names if name not in self.environments]
        if unknown:
            known = ", ".join(self.environments) or "none"
            raise ConfigError(
                f"unknown environment {unknown[0]!r} (configured: {known})",
                path=self.source or "<built-in default>",
            )
        return [self.environments[name] for name in dict.fromkeys(names)]

    def key_values(self) -> dict[str, str]:
        """Variable name -> value of every configured key variable (and `headers_env` variable) that
        is set, read now.

        What no file, report or bundle the workbench writes may ever contain; values too short to
        be a key are left out (see `known_secrets`).
        """
        names = [env.api_key_env for env in self.environments.values() if env.api_key_env]
        names += [variable for env in self.environments.values() for variable in env.headers_env.values()]
        return known_secrets(dict.fromkeys(names))


# What an HTTP header value can carry as we send it: visible ASCII, spaces and tabs only inside.
_HEADER_VALUE = re.compile(r"[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*")


def check_keys_present(config: Config, environments: Iterable[Environment]) -> None:
    """Fail before any request when a named key variable is unset, or holds what no header can carry
    (a line break read from a file, say): sent, the request would fail at our end and read as the
    endpoint's broken connection. Names the variable, never reads its value out."""
    for env in environments:
        named = [("api_key_env", env.api_key_env)] if env.api_key_env is not None else []
        named += [(f"headers_env.{header}", variable) for header, variable in env.headers_env.items()]
        for field, variable in named:
            value = os.environ.get(variable)
            if value and _HEADER_VALUE.fullmatch(value):
                continue
            problem = (
                "is not set"
                if not value
                else "holds a character an HTTP header cannot carry (a line break, a control or "
                "non-ASCII character, or a space at either end)"
            )
            raise ConfigError(
                f"environment variable {variable} {problem} ({field.split('.')[0]} of environment "
                f"{env.name!r}); export it{' without that character' if value else ''}, or audit another "
                "environment with --env",
                path=config.source or "<built-in default>",
                field=f"environments.{env.name}.{field}",
            )


def default_config(*, project_dir: Path | None = None) -> Config:
    """The embedded default: a conformant and a drifted reference endpoint, no key, no network; its
    project folder is `project_dir`, else the current folder."""
    drift = ", ".join(f'"{scenario}"' for scenario in DRIFTED_DEFAULT)
    text = (
        '[environments.reference]\nbase_url = "embedded"\nscenario = "conformant"\nstream = true\n\n'
        f'[environments.reference-drifted]\nbase_url = "embedded"\nscenario = [{drift}]\nstream = true\n'
    )
    return parse_config(text, source=None, project_dir=project_dir)


def load_config(path: Path | None = None, *, project_dir: Path | None = None) -> Config:
    """Load and validate the configuration (`locations.find_config` says which file); every relative
    path in it is taken in the project folder (`project_dir`, else the file's)."""
    resolved = find_config(path, project_dir=project_dir)
    if resolved is None:
        return default_config(project_dir=project_dir)
    text = read_text(resolved, not_found="file not found (pass --config PATH or set WORKBENCH_CONFIG)")
    return parse_config(text, source=resolved, project_dir=project_dir)


def parse_config(text: str, *, source: Path | None, project_dir: Path | None = None) -> Config:
    """Validate TOML text; errors name the file and the dotted field."""
    where = source or Path("<built-in default>")
    data = parse_toml(text, source=where)
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, where) from None
    if not parsed.environments:
        raise ConfigError("no environments defined: add an [environments.NAME] table", path=where)
    environments: dict[str, Environment] = {}
    for name, table in parsed.environments.items():
        if not _ENV_NAME.match(name):
            raise ConfigError(
                "environment names are letters, digits, '.', '_' or '-' (at most 64)",
                path=where,
                field=f"environments.{name}",
            )
        if not isinstance(table, Mapping):
            raise ConfigError("must be a table", path=where, field=f"environments.{name}")
        try:
            environments[name] = Environment.model_validate({**table, "name": name})
        except ValidationError as exc:
            raise _config_error(exc, where, prefix=("environments", name)) from None
    for env in environments.values():
        try:
            check_app_request(env.app_request, env.uses)
        except AppRequestError as exc:
            field = f"environments.{env.name}.app_request.{exc.path}"
            raise ConfigError(exc.message, path=where, field=field) from None
        if env.negatives_from is not None and env.negatives_from not in environments:
            raise ConfigError(
                f"names no configured environment ({env.negatives_from!r})",
                path=where,
                field=f"environments.{env.name}.negatives_from",
            )
        if env.manifest is not None and source is not None and not env.manifest.is_absolute():
            object.__setattr__(env, "manifest", source.parent / env.manifest)  # relative to the config file
    reference = parsed.workbench.drift_reference
    if reference is not None and reference not in environments:
        raise ConfigError(
            f"names no configured environment ({reference!r}; configured: {', '.join(environments)})",
            path=where,
            field="workbench.drift_reference",
        )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    settings = _in_project(parsed.workbench, project_folder(source, project_dir))
    return Config(environments, settings, source, digest, project_dir)


def _in_project(settings: Settings, project: Path) -> Settings:
    """The settings' relative folders and files (fixtures, bundles, triggers) taken in the project,
    for the built-in default too: a run's verdict never depends on the shell's folder."""
    moved = {
        name: project / value
        for name in ("fixtures_dir", "bundles_dir", "triggers")
        if isinstance(value := getattr(settings, name), Path) and not value.is_absolute()
    }
    if settings.triggers is None and (project / TRIGGERS_FILE).is_file():
        moved["triggers"] = project / TRIGGERS_FILE
    return settings.model_copy(update=moved)


def _config_error(exc: ValidationError, where: Path, prefix: tuple[str, ...] = ()) -> ConfigError:
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in (*prefix, *first["loc"]))
    kind: Literal["extra_forbidden", "missing"] | str = first["type"]
    if kind == "extra_forbidden":
        message = "unknown key (check the spelling against README's configuration table)"
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = str(first["msg"]).removeprefix("Value error, ")
    return ConfigError(message, path=where, field=loc or None)
