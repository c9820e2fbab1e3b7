"""Writing a file so that no reader ever sees half of it: reports, the index, bundles, JUnit XML.

A scheduler, a CI job or a second audit may read any of these while it is being written, and a
killed process must not leave a truncated file where a good one was. So every file the workbench
writes whole goes through `write_atomic`.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(
    path: Path,
    content: str | bytes,
    *,
    force: bool = True,
    exists: Callable[[], Exception] | None = None,
) -> None:
    """Write `content` (text as UTF-8) to `path` whole: a temporary file in the same folder, fsync, rename.

    The folder is created when missing, and the file is readable by others (0644: a CI reader may
    be another user). With `force=False` an existing file is never replaced, not even one that
    appeared while writing (a hard link claims the name): `exists()` is raised instead, or
    `FileExistsError` naming the path.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(0o644)  # mkstemp creates 0600
        if force:
            temporary.replace(path)
            return
        refused = exists or (lambda: FileExistsError(errno.EEXIST, "file exists", str(path)))
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise refused() from None
        except OSError:  # a filesystem without hard links: check, then rename
            if path.exists():
                raise refused() from None
            temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
