"""Where reports are kept, behind one small interface: a local folder, or an S3 bucket and prefix.

The audit, the index, `reports prune` and `reports html` write through a `ReportStore`, keyed by
paths relative to the reports root (`2026-12-07/061700-audit.json`, `index.html`). Two operations
make workers that share no disk safe: `claim` creates an object only if none exists (a report
name: `O_EXCL` here, `If-None-Match: *` on S3), and `replace` writes only over the version that
was read (the index: a lock and a digest here, `If-Match: ETag` on S3), so two audits finishing
at once both land and neither overwrites the other.

boto3 is imported only here, and only when an S3 store is opened (the `[s3]` extra). Credentials
come from the SDK's own chain (AWS_* variables, ~/.aws, an instance or task role), never from a
URL, a parameter or this module; errors name the bucket and the cause, never a credential.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from workbench.core.errors import ConfigError
from workbench.core.files import write_atomic
from workbench.core.locations import BucketPrefix, report_location

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".ipynb": "application/x-ipynb+json",
    ".xml": "application/xml",
}
WRITE_CHECK = ".workbench-write-check"  # written and deleted by `check_writable` on S3


@dataclass(frozen=True, slots=True)
class Stored:
    """One object's content and its version tag (an S3 ETag; a digest for a local file)."""

    body: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class Listed:
    """One object under the root: its key (relative, `/`-separated) and size in bytes."""

    key: str
    size: int


class ReportStore(Protocol):
    """What the report stages need of the place reports are kept."""

    @property
    def location(self) -> str:
        """The root as people read it: a folder, or `s3://bucket/prefix/`."""

    @property
    def local_root(self) -> Path | None:
        """The folder, for a local store (reports are rendered in place); None for object storage."""

    def check_writable(self) -> None:
        """Raise ConfigError (exit 2) now, before any probe, when reports could not be written."""

    def claim(self, key: str, body: bytes) -> bool:
        """Create `key` holding `body` unless it exists; False when another writer has it."""

    def read(self, key: str) -> Stored | None:
        """The object and its version, or None when there is none."""

    def write(self, key: str, body: bytes) -> None:
        """Create or overwrite `key` (a report file only its claimant writes)."""

    def replace(self, key: str, body: bytes, *, etag: str | None) -> bool:
        """Write `key` only over version `etag` (None: only if absent); False when it changed."""

    def listing(self, under: str = "") -> list[Listed]:
        """Every object whose key starts with `under`, in key order."""

    def delete(self, keys: Sequence[str]) -> None:
        """Remove these objects (a missing one is not an error)."""

    def url(self, key: str) -> str:
        """Where object `key` is, as people read it."""


def open_report_store(where: Path | BucketPrefix | ReportStore | str) -> ReportStore:
    """The store for a reports location (see `locations.report_location`); a store is returned as is."""
    if isinstance(where, str):
        try:
            where = report_location(where)
        except ValueError as exc:
            raise ConfigError(str(exc), field="--reports") from None
    if isinstance(where, Path):
        return LocalReportStore(where)
    if isinstance(where, BucketPrefix):
        return S3ReportStore(where)
    return where


def is_remote(where: Path | BucketPrefix | ReportStore | str) -> bool:
    """Whether `where` names object storage rather than a local folder."""
    if isinstance(where, str):
        return "://" in where
    if isinstance(where, Path | BucketPrefix):
        return isinstance(where, BucketPrefix)
    return where.local_root is None


# -- a local folder --------------------------------------------------------------------------------


class LocalReportStore:
    """Reports in a folder: names claimed with `O_EXCL`, the index replaced under a folder lock."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def local_root(self) -> Path | None:
        return self.root

    def check_writable(self) -> None:
        """The folder, or the nearest part of it that exists, is a folder this process may write in."""
        existing = self.root
        while not existing.exists():
            if existing.parent == existing:
                break
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            where = "is" if existing == self.root else f"is under {existing}, which is"
            raise ConfigError(f"{where} a file, not a folder", path=self.root, field="--reports")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError(f"not writable (by this user): {existing}", path=self.root, field="--reports")

    def claim(self, key: str, body: bytes) -> bool:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(body)
        return True

    def read(self, key: str) -> Stored | None:
        try:
            body = (self.root / key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        return Stored(body, hashlib.sha256(body).hexdigest())

    def write(self, key: str, body: bytes) -> None:
        write_atomic(self.root / key, body)

    def replace(self, key: str, body: bytes, *, etag: str | None) -> bool:
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root):
            current = self.read(key)
            if (current.etag if current is not None else None) != etag:
                return False
            write_atomic(self.root / key, body)
            return True

    def listing(self, under: str = "") -> list[Listed]:
        found = []
        for folder, directories, names in os.walk(self.root):  # never follows a link out of the root
            directories.sort()
            for name in names:
                path = Path(folder, name)
                key = path.relative_to(self.root).as_posix()
                if key.startswith(under) and not path.is_symlink():
                    with contextlib.suppress(OSError):
                        found.append(Listed(key, path.lstat().st_size))
        return sorted(found, key=lambda item: item.key)

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)

    def url(self, key: str) -> str:
        return str(self.root / key)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on the folder itself (POSIX; no lock file left behind). It holds
    between processes of one machine only: across machines, object storage's conditional writes do."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


# -- S3 --------------------------------------------------------------------------------------------

# The S3 error codes of a conditional write that lost: the object exists (If-None-Match), its ETag
# changed or it is gone (If-Match), or another conditional write to it was in flight (AWS's 409).
_LOST = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409", "404"}


class S3ReportStore:
    """Reports under `s3://bucket/prefix/`, through boto3 (the `[s3]` extra), imported when opened.

    The endpoint, region and credentials are the SDK's own settings (`AWS_ENDPOINT_URL` names an
    S3-compatible service); nothing here holds or prints a credential.
    """

    def __init__(self, where: BucketPrefix) -> None:
        self.where = where
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ConfigError(
                f"{where.url}: reports in S3 need boto3: pip install 'contract-workbench[s3]'",
                field="--reports",
            ) from None
        self._client: Any = boto3.session.Session().client(
            "s3",
            config=Config(
                connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}
            ),
        )

    @property
    def location(self) -> str:
        return self.where.url

    @property
    def local_root(self) -> Path | None:
        return None

    def check_writable(self) -> None:
        """The bucket exists, credentials were found and this identity may write under the prefix:
        a small object is written there and deleted (reading alone would not tell)."""
        self._call("head_bucket", Bucket=self.where.bucket)
        key = self.where.prefix + WRITE_CHECK
        self._call("put_object", Bucket=self.where.bucket, Key=key, Body=b"contract-workbench\n")
        with contextlib.suppress(ConfigError):  # may write but not delete: the marker stays, harmless
            self._call("delete_object", Bucket=self.where.bucket, Key=key)

    def claim(self, key: str, body: bytes) -> bool:
        return self._put(key, body, IfNoneMatch="*")

    def read(self, key: str) -> Stored | None:
        try:
            answer = self._client.get_object(Bucket=self.where.bucket, Key=self.where.prefix + key)
        except Exception as exc:
            if _code(exc) in {"NoSuchKey", "404"}:
                return None
            raise self._error(exc) from None
        return Stored(answer["Body"].read(), str(answer["ETag"]))

    def write(self, key: str, body: bytes) -> None:
        self._call(
            "put_object", Bucket=self.where.bucket, Key=self.where.prefix + key, Body=body, **_typed(key)
        )

    def replace(self, key: str, body: bytes, *, etag: str | None) -> bool:
        return self._put(key, body, **({"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}))

    def listing(self, under: str = "") -> list[Listed]:
        found = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.where.bucket, Prefix=self.where.prefix + under
        )
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    found.append(Listed(str(item["Key"])[len(self.where.prefix) :], int(item["Size"])))
        except Exception as exc:
            raise self._error(exc) from None
        return sorted(found, key=lambda item: item.key)

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):  # S3's limit per request
            batch = [{"Key": self.where.prefix + key} for key in keys[start : start + 1000]]
            answer = self._call("delete_objects", Bucket=self.where.bucket, Delete={"Objects": batch})
            for failure in answer.get("Errors", ()):
                raise ConfigError(
                    f"{self.where.url}: cannot delete {failure.get('Key')}: {failure.get('Code')}",
                    field="--reports",
                )

    def url(self, key: str) -> str:
        return self.where.url + key

    def _put(self, key: str, body: bytes, **condition: str) -> bool:
        try:
            self._client.put_object(
                Bucket=self.where.bucket, Key=self.where.prefix + key, Body=body, **_typed(key), **condition
            )
        except Exception as exc:
            if _code(exc) in _LOST:
                return False
            raise self._error(exc) from None
        return True

    def _call(self, operation: str, **arguments: Any) -> Any:
        try:
            return getattr(self._client, operation)(**arguments)
        except Exception as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> ConfigError:
        """One line naming the bucket and the cause (a BaseException that is not the SDK's propagates)."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        where = self.where.url
        if isinstance(exc, NoCredentialsError):
            reason = (
                "no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile "
                "(AWS_PROFILE) or an instance role for the workers (never in the URL)"
            )
        elif isinstance(exc, ClientError):
            code = _code(exc)
            if code in {"NoSuchBucket", "404"}:
                reason = f"the bucket {self.where.bucket} does not exist (or these credentials cannot see it)"
            elif code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
                reason = f"access denied ({code}): these credentials may not write reports here"
            else:
                reason = f"{code}: {exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")
        elif isinstance(exc, BotoCoreError):
            reason = f"{type(exc).__name__}: {exc}"
        else:
            raise exc
        return ConfigError(f"{where}: {reason}", field="--reports")


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _typed(key: str) -> dict[str, str]:
    content_type = CONTENT_TYPES.get(Path(key).suffix)
    return {"ContentType": content_type} if content_type else {}
