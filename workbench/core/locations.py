"""Where a project's files are: the project folder and every default path in it, the files the
package ships, and the store-URL rules (default, absolute, carrying a password) decided before
anything heavy is imported.

One home for rules every process applies alike: the CLI, the report kernel, and an Airflow DAG
file parsed on a scheduler, which imports this in milliseconds (standard library only: no
SQLAlchemy, pydantic or pandas). The *project folder* is `--project-dir` when given, else the
configuration file's folder (`PROJECT/data/environments.toml` gives PROJECT, a file elsewhere its
own folder), else the current folder; every relative default (history, fixtures, bundles,
triggers, reports, notebooks) is taken there, never where the shell happens to be.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = Path("data/environments.toml")  # found here or in a folder above
CONFIG_ENV_VAR = "WORKBENCH_CONFIG"
STORE_ENV_VAR = "WORKBENCH_STORE"
STORE_FILE = Path("data/history.sqlite")
FIXTURES_DIR = Path("data/fixtures")
BUNDLES_DIR = Path("data/bundles")
TRIGGERS_FILE = Path("data/triggers.toml")
REPORTS_DIR = Path("reports")
NOTEBOOKS_DIR = Path("notebooks")
AUDIT_NOTEBOOK = "contract_audit.ipynb"  # a folder holding it is a folder of report notebooks
# libpq's parameters that carry a secret (a URL's query may hold any libpq parameter): a URL with one
# of them is never printed whole nor passed as a notebook parameter.
PASSWORD_PARAMETERS = ("password", "sslpassword")
# The stores the workbench speaks (SQLAlchemy backend names): anything else is refused by name.
SUPPORTED_STORES = ("sqlite", "postgresql")
# Where the wheel keeps the repository's top-level files it ships (pyproject.toml, force-include).
_SHIPPED = Path(__file__).resolve().parents[1] / "shipped"
_CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class ProjectFolder:
    """A project folder and the configuration file that named it (None: none was found)."""

    root: Path
    config: Path | None
    explicit: bool = False  # given as --project-dir

    @property
    def fixtures(self) -> Path:
        return self.root / FIXTURES_DIR

    @property
    def bundles(self) -> Path:
        return self.root / BUNDLES_DIR

    @property
    def triggers(self) -> Path:
        return self.root / TRIGGERS_FILE

    @property
    def reports(self) -> Path:
        return self.root / REPORTS_DIR

    @property
    def notebooks(self) -> Path:
        """The project's own report notebooks when it has them, else the ones the package ships."""
        own = self.root / NOTEBOOKS_DIR
        return own if (own / AUDIT_NOTEBOOK).is_file() else shipped(NOTEBOOKS_DIR)

    @property
    def store_url(self) -> str:
        """The default history store: SQLite in the project's data/."""
        return f"sqlite:///{self.root / STORE_FILE}"

    def notice(self) -> str | None:
        """One line for stderr when nothing named this folder (no configuration file, no --project-dir)."""
        if self.config is not None or self.explicit:
            return None
        return (
            f"note: no {CONFIG_FILE} here or in a folder above: the built-in default, project folder "
            f"{self.root.resolve()} (`workbench init` writes a starter project; --project-dir DIR picks one)"
        )


def locate(
    config: Path | None = None, project_dir: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> ProjectFolder:
    """The configuration file (see `find_config`) and the project folder it, or `project_dir`, gives."""
    found = find_config(config, project_dir=project_dir, environ=environ)
    return ProjectFolder(project_folder(found, project_dir), found, explicit=project_dir is not None)


def find_config(
    explicit: Path | None = None, *, project_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """`--config`, else `$WORKBENCH_CONFIG`, else the project's `data/environments.toml`: in
    `project_dir` when given, else here or in the nearest folder above that has one (a run from
    `notebooks/` finds it); None: the built-in default."""
    if explicit is not None:
        return explicit
    named = (os.environ if environ is None else environ).get(CONFIG_ENV_VAR)
    if named:
        return Path(named)
    if project_dir is not None:
        candidate = project_dir / CONFIG_FILE
        return candidate if candidate.is_file() else None
    here = Path.cwd()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate if folder == here else shortest(candidate)
    return None


def project_folder(source: Path | None, project_dir: Path | None = None) -> Path:
    """`project_dir` when given; else the folder of configuration file `source` (its parent when
    that is `data/`); else the current folder. Relative to the current folder when inside it, so
    printed paths stay short."""
    if project_dir is not None:
        return shortest(project_dir)
    if source is None:
        return Path()
    folder = source.resolve().parent
    if folder.name == CONFIG_FILE.parent.name:
        folder = folder.parent
    return shortest(folder)


def shortest(path: Path) -> Path:
    """`path` relative to the current folder when it lies inside it, else absolute."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve())
    except ValueError:
        return absolute


def confined(root: Path, relative: Path | str) -> Path | None:
    """`root / relative` when it stays inside `root` with every link followed, else None.

    What configuration and files from elsewhere name (a `baseline`, a fixture file, a manifest's
    template, a bundle `ENV/RELEASE`) is read only inside its own folder: `../`, an absolute path, or
    a link pointing out of the folder never reaches another file. A link that stays inside is fine.
    """
    if Path(relative).is_absolute():
        return None
    path = root / relative
    try:
        resolved, base = path.resolve(), root.resolve()
    except (OSError, RuntimeError):  # a link loop
        return None
    return path if resolved.is_relative_to(base) else None


def shipped(relative: Path | str) -> Path:
    """A file or folder the package ships from the repository's top level (`notebooks`,
    `data/integration`, ...): inside the installed wheel, else in the checkout it runs from."""
    installed = _SHIPPED / relative
    return installed if installed.exists() else _CHECKOUT / relative


# -- store URLs ---------------------------------------------------------------------------------


def store_url(
    explicit: str | None = None, *, project: Path | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """`--store`, else `$WORKBENCH_STORE`, else SQLite at `data/history.sqlite` in `project`."""
    url = explicit or (os.environ if environ is None else environ).get(STORE_ENV_VAR)
    return url or f"sqlite:///{(project or Path()) / STORE_FILE}"


def store_backend(url: str) -> str:
    """The backend a store URL names (`postgresql+psycopg://` is `postgresql`); "" when it names none."""
    scheme, separator, _ = url.partition("://")
    return scheme.split("+", 1)[0].lower() if separator else ""


def absolute_store_url(url: str, base: Path | None = None) -> str:
    """The URL with a relative SQLite path made absolute (from `base`, default here), for a process
    started in another folder (a report kernel, a scheduler's worker). A server URL is unchanged."""
    if store_backend(url) != "sqlite":
        return url
    head, _, rest = url.partition(":///")
    database, question, query = rest.partition("?")
    if not database or database == ":memory:" or database.startswith("/"):
        return url
    return f"{head}:///{((base or Path()) / database).resolve()}{question}{query}"


def url_has_password(url: str) -> bool:
    """Whether a store URL carries a secret: a password in its userinfo or in its query (libpq's
    `?password=`, `?sslpassword=`). A text that is not a URL counts as secret: better withheld than
    passed on."""
    if not store_backend(url) or any(char.isspace() for char in url):
        return True
    try:
        parts = urllib.parse.urlsplit(url)
        in_userinfo = parts.password
    except ValueError:
        return True
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    return bool(in_userinfo) or any(
        value for name, values in query.items() if name.lower() in PASSWORD_PARAMETERS for value in values
    )


# -- report locations ---------------------------------------------------------------------------

# Where reports may go besides a local folder: only what is tested (an S3 bucket and prefix, on AWS
# or any S3-compatible service the SDK's endpoint setting names). Anything else is refused by name.
REPORT_SCHEMES = ("s3",)


@dataclass(frozen=True, slots=True)
class BucketPrefix:
    """`s3://bucket/prefix`: a bucket and a key prefix ("" or ending in "/")."""

    scheme: str
    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.prefix}"


def report_location(text: str | Path, *, base: Path | None = None) -> Path | BucketPrefix:
    """`--reports` or `[workbench] reports`: a local folder (a relative one taken in `base`), or an
    `s3://bucket/prefix` URL. Raises ValueError, in one line, for any other scheme, a URL carrying
    credentials, a query or a fragment, or a bucket name S3 refuses: credentials come only from
    the SDK's own chain (environment, shared files, instance role), never from a URL."""
    if isinstance(text, Path):
        return text if text.is_absolute() or base is None else base / text
    scheme, separator, rest = text.partition("://")
    if not separator:
        if any(ord(char) < 32 for char in text):
            raise ValueError("a reports folder cannot contain control characters")
        path = Path(text)
        return path if path.is_absolute() or base is None else base / path
    scheme = scheme.lower()
    if scheme not in REPORT_SCHEMES:
        allowed = ", ".join(f"{name}://bucket/prefix" for name in REPORT_SCHEMES)
        raise ValueError(
            f"reports cannot go to a {scheme}:// URL: give a local folder or {allowed} "
            "(no other scheme is tested)"
        )
    bucket, _, prefix = rest.partition("/")
    if "@" in bucket or "?" in rest or "#" in rest:
        raise ValueError(
            f"the {scheme}:// reports URL holds only the bucket and a prefix: no credentials, query or "
            "fragment (credentials come from the SDK's chain: AWS_* variables, ~/.aws, an instance role)"
        )
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValueError(
            f"{scheme}://{bucket}/: not a bucket name (3-63 lowercase letters, digits, dots and hyphens)"
        )
    if any(ord(char) < 32 or char == "\\" for char in prefix) or "//" in prefix or _DOTS.search(prefix):
        raise ValueError(f"{scheme}://{bucket}/{prefix}: a prefix of plain path segments, please")
    prefix = prefix.strip("/")
    return BucketPrefix(scheme, bucket, f"{prefix}/" if prefix else "")


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_DOTS = re.compile(r"(^|/)\.{1,2}(/|$)")
