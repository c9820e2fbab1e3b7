"""`workbench reports prune`: delete dated report folders older than N days, then rebuild the index.

Only folders named like a real date (`YYYY-MM-DD`, as `workbench audit` creates them) are
candidates, judged by that date in UTC: anything else under the reports folder (the index, a
JUnit file, notes, a folder named `archive` or `2026-02-30`, a symbolic link) is never touched.
`--keep-days 0` keeps only today's folder; a folder dated in the future is kept. Deletion never
follows a symbolic link out of the folder being removed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from workbench.core import clock
from workbench.core.errors import UsageError, WorkbenchError
from workbench.render.reportnames import folder_day
from workbench.render.reportstore import Listed, ReportStore


@dataclass(frozen=True, slots=True)
class DatedFolder:
    """One dated report folder and what it holds."""

    path: Path | str  # a folder, or a dated prefix's URL in object storage
    day: date
    files: int
    size: int  # bytes, of the files themselves (symbolic links count as their own small size)


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What was (or, on a dry run, would be) removed, what stays, and the rebuilt index."""

    reports_dir: Path | str
    keep_days: int
    cutoff: date  # folders dated before this day are removed
    removed: tuple[DatedFolder, ...]
    kept: tuple[DatedFolder, ...]
    failed: tuple[tuple[Path | str, str], ...]  # folders that could not be removed, and why
    dry_run: bool
    index: Path | str | None  # None on a dry run: nothing changed, so nothing is rebuilt

    @property
    def freed(self) -> int:
        return sum(folder.size for folder in self.removed)

    def lines(self) -> list[str]:
        """What to print: one line per folder removed, then the total."""
        verb = "would remove" if self.dry_run else "removed"
        lines = [
            f"{verb} {folder.path} ({folder.files} file(s), {human_size(folder.size)})"
            for folder in self.removed
        ]
        lines += [f"error: cannot remove {path}: {reason}" for path, reason in self.failed]
        if self.removed:
            freed = "would free" if self.dry_run else "freed"
            lines.append(
                f"{verb} {len(self.removed)} dated folder(s) older than {self.cutoff} "
                f"({self.keep_days} day(s) kept); {freed} {human_size(self.freed)}"
            )
        elif self.failed:
            lines.append(
                f"removed nothing: {len(self.failed)} dated folder(s) older than {self.cutoff} remain"
            )
        else:
            lines.append(
                f"nothing to remove: no dated folder under {self.reports_dir} is older than {self.cutoff} "
                f"({self.keep_days} day(s) kept)"
            )
        lines.append(
            f"kept {len(self.kept)} dated folder(s)" + (f", newest {self.kept[-1].day}" if self.kept else "")
        )
        if self.index is not None:
            lines.append(f"index:  {self.index}")
        return lines


def prune_reports(
    reports_dir: Path | ReportStore, keep_days: int, *, dry_run: bool = False, today: date | None = None
) -> PruneResult:
    """Remove dated folders older than `keep_days` days (UTC) and rebuild `index.html` from what
    remains, in a folder or under a bucket prefix (`ReportStore`)."""
    if keep_days < 0:
        raise UsageError(f"--keep-days must be 0 or more, got {keep_days} (0 keeps only today's reports)")
    if not isinstance(reports_dir, Path):
        if reports_dir.local_root is None:
            return _prune_store(reports_dir, keep_days, dry_run=dry_run, today=today)
        reports_dir = reports_dir.local_root
    if not reports_dir.is_dir():
        raise UsageError(
            f"no reports folder at {reports_dir}: run from the project folder or pass --reports DIR"
        )
    today = today or clock.today()
    cutoff = today - timedelta(days=keep_days)
    folders = dated_folders(reports_dir)
    old = [folder for folder in folders if folder.day < cutoff]
    kept = [folder for folder in folders if folder.day >= cutoff]
    removed: list[DatedFolder] = []
    failed: list[tuple[Path | str, str]] = []
    for folder in old:
        if dry_run:
            removed.append(folder)
            continue
        try:
            shutil.rmtree(folder.path)
        except OSError as exc:
            failed.append((folder.path, exc.strerror or str(exc)))
            kept.append(folder)
        else:
            removed.append(folder)
    index = None
    if not dry_run:
        from workbench.render.notebooks import write_index

        index = write_index(reports_dir)
    kept.sort(key=lambda folder: folder.day)
    return PruneResult(
        reports_dir, keep_days, cutoff, tuple(removed), tuple(kept), tuple(failed), dry_run, index
    )


def _prune_store(store: ReportStore, keep_days: int, *, dry_run: bool, today: date | None) -> PruneResult:
    """`prune_reports` under a bucket prefix: the objects of each old dated "folder" (the first
    segment of their key) are deleted; nothing else under the prefix is touched."""
    from workbench.render.notebooks import write_index

    cutoff = (today or clock.today()) - timedelta(days=keep_days)
    days: dict[str, list[Listed]] = {}
    for item in store.listing():
        head, slash, _rest = item.key.partition("/")
        if slash and folder_day(head) is not None:
            days.setdefault(head, []).append(item)
    folders = {
        name: DatedFolder(store.url(name + "/"), day, len(items), sum(item.size for item in items))
        for name, items in sorted(days.items())
        if (day := folder_day(name)) is not None
    }
    removed = [folder for folder in folders.values() if folder.day < cutoff]
    kept = [folder for folder in folders.values() if folder.day >= cutoff]
    failed: list[tuple[Path | str, str]] = []
    if not dry_run:
        old = [item.key for name, items in days.items() if folders[name].day < cutoff for item in items]
        try:
            store.delete(old)
        except WorkbenchError as exc:
            failed = [(folder.path, str(exc)) for folder in removed]
            kept, removed = sorted([*kept, *removed], key=lambda folder: folder.day), []
    index = None if dry_run else write_index(store)
    return PruneResult(
        store.location, keep_days, cutoff, tuple(removed), tuple(kept), tuple(failed), dry_run, index
    )


def dated_folders(reports_dir: Path) -> list[DatedFolder]:
    """Real folders (not symbolic links) directly under `reports_dir` named by a valid date, oldest first."""
    found = []
    for entry in reports_dir.iterdir():
        day = folder_day(entry.name)
        if day is None or entry.is_symlink() or not entry.is_dir():
            continue
        files, size = _usage(entry)
        found.append(DatedFolder(entry, day, files, size))
    return sorted(found, key=lambda folder: folder.day)


def _usage(folder: Path) -> tuple[int, int]:
    """Files and bytes under `folder`, not following symbolic links."""
    files = size = 0
    for root, directories, names in os.walk(folder):
        for name in names + [d for d in directories if Path(root, d).is_symlink()]:
            try:
                size += Path(root, name).lstat().st_size
            except OSError:
                continue
            files += 1
    return files, size


def human_size(size: int) -> str:
    """`512 B`, `4.0 KiB`, `1.3 MiB`, `2.0 GiB`."""
    if size < 1024:
        return f"{size} B"
    value, unit = size / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"
