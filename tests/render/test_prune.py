"""`workbench reports prune`: only dated folders older than N days go, and the index lists what remains."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from tests.commands import cli
from workbench import UsageError
from workbench.render.prune import human_size, prune_reports
from workbench.render.reportnames import folder_day

TODAY = date(2026, 11, 27)


def day(days_ago: int, today: date = TODAY) -> str:
    return f"{today - timedelta(days=days_ago):%Y-%m-%d}"


def audit_folder(reports: Path, name: str, stem: str = "060000", size: int = 1000) -> Path:
    """A dated folder as `workbench audit` leaves it: a manifest, a notebook and its HTML."""
    folder = reports / name
    folder.mkdir(parents=True)
    manifest = {
        "run_id": f"run-{name}",
        "time": f"{stem[:2]}:{stem[2:4]}:{stem[4:]}",
        "status": "complete",
        "verdicts": {"reference": "ready"},
        "readiness": {"reference": "ready"},
        "reports": [
            {
                "title": "Contract audit",
                "notebook": f"{stem}-contract_audit.ipynb",
                "html": f"{stem}-contract_audit.html",
                "error": "",
            }
        ],
    }
    (folder / f"{stem}-audit.json").write_text(json.dumps(manifest))
    (folder / f"{stem}-contract_audit.ipynb").write_bytes(b"n" * size)
    (folder / f"{stem}-contract_audit.html").write_bytes(b"h" * size)
    return folder


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """Dated folders of several ages, and everything else a reports folder may hold."""
    reports = tmp_path / "reports"
    for days_ago in (0, 1, 30, 31, 400):
        audit_folder(reports, day(days_ago))
    audit_folder(reports, day(-1))  # dated tomorrow (a clock ahead, another zone): kept
    for name in ("2020-02-30", "archive", "2020-1-2", "20200101", "2020-01-01.bak"):
        (reports / name).mkdir()  # not a date: kept
        (reports / name / "keep.txt").write_text("keep")
    (reports / "2020-01-03").write_text("a file named like a date: kept")
    (reports / "index.html").write_text("<html>old index</html>")
    (reports / "junit.xml").write_text("<testsuites/>")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("never deleted")
    (reports / "2020-01-04").symlink_to(outside, target_is_directory=True)  # a link named like a date: kept
    (reports / day(400) / "link-out").symlink_to(outside, target_is_directory=True)  # removed, not followed
    return reports


def names(reports: Path) -> set[str]:
    return {path.name for path in reports.iterdir()}


def test_removes_only_dated_folders_older_than_n_days(reports: Path) -> None:
    before = names(reports)
    result = prune_reports(reports, 30, today=TODAY)
    assert {folder.path.name for folder in result.removed} == {day(31), day(400)}
    assert names(reports) == before - {day(31), day(400)}
    assert result.cutoff == TODAY - timedelta(days=30)
    assert [folder.path.name for folder in result.kept] == [day(30), day(1), day(0), day(-1)]
    for name in ("2020-02-30", "archive", "2020-1-2", "20200101", "2020-01-01.bak"):
        assert (reports / name / "keep.txt").read_text() == "keep"
    assert (reports / "2020-01-03").is_file() and (reports / "junit.xml").read_text() == "<testsuites/>"
    assert (reports / "2020-01-04").is_symlink()
    assert (reports.parent / "outside" / "precious.txt").read_text() == "never deleted"


def test_reports_what_it_freed(reports: Path) -> None:
    result = prune_reports(reports, 30, today=TODAY)
    old = next(f for f in result.removed if f.path.name == day(400))
    assert old.files == 4  # manifest, notebook, html, and the link itself (its target is not counted)
    assert result.freed == sum(f.size for f in result.removed) and result.freed > 4000
    lines = result.lines()
    assert f"removed {reports / day(400)} (4 file(s), {human_size(old.size)})" in lines
    assert any(line.startswith("removed 2 dated folder(s) older than 2026-10-28") for line in lines)
    assert any(f"freed {human_size(result.freed)}" in line for line in lines)


def test_keep_days_zero_keeps_only_today(reports: Path) -> None:
    result = prune_reports(reports, 0, today=TODAY)
    assert {folder.path.name for folder in result.removed} == {day(1), day(30), day(31), day(400)}
    assert day(0) in names(reports) and day(-1) in names(reports)


def test_dry_run_removes_nothing_and_leaves_the_index(reports: Path) -> None:
    before = {path: path.stat().st_mtime_ns for path in reports.rglob("*")}
    result = prune_reports(reports, 30, dry_run=True, today=TODAY)
    assert {folder.path.name for folder in result.removed} == {day(31), day(400)}
    assert {path: path.stat().st_mtime_ns for path in reports.rglob("*")} == before
    assert result.index is None
    assert result.lines()[0].startswith(f"would remove {reports / day(31)}") or result.lines()[0].startswith(
        f"would remove {reports / day(400)}"
    )
    assert any(
        line.startswith("would remove 2 dated folder(s)") and "would free" in line for line in result.lines()
    )


def test_the_index_is_rebuilt_from_what_remains(reports: Path) -> None:
    result = prune_reports(reports, 30, today=TODAY)
    assert result.index == reports / "index.html"
    soup = BeautifulSoup(result.index.read_text(), "html.parser")
    links = {a["href"] for a in soup.find_all("a")}
    assert links == {f"{day(n)}/060000-contract_audit.html" for n in (-1, 0, 1, 30)}
    for href in links:
        assert (reports / str(href)).exists()


def test_nothing_to_remove_still_rebuilds_the_index(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    audit_folder(reports, day(0))
    result = prune_reports(reports, 90, today=TODAY)
    assert result.removed == () and result.freed == 0
    assert "nothing to remove" in result.lines()[0]
    assert "060000-contract_audit.html" in (reports / "index.html").read_text()


def test_a_folder_that_cannot_be_removed_is_reported_and_kept(
    reports: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_rmtree = shutil.rmtree

    def refuse_one(path: Path, *args: object, **kwargs: object) -> None:
        if Path(path).name == day(31):
            raise PermissionError(13, "Permission denied")
        real_rmtree(path)

    monkeypatch.setattr(shutil, "rmtree", refuse_one)
    result = prune_reports(reports, 30, today=TODAY)
    assert [folder.path.name for folder in result.removed] == [day(400)]
    assert result.failed == ((reports / day(31), "Permission denied"),)
    assert day(31) in names(reports)
    assert f"error: cannot remove {reports / day(31)}: Permission denied" in result.lines()
    assert f"{day(31)}/060000-contract_audit.html" in (reports / "index.html").read_text()


def test_negative_days_and_a_missing_folder_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--keep-days must be 0 or more"):
        prune_reports(tmp_path, -1)
    with pytest.raises(UsageError, match="no reports folder at"):
        prune_reports(tmp_path / "nope", 30)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("2026-11-27", date(2026, 11, 27), id="date"),
        pytest.param("2024-02-29", date(2024, 2, 29), id="leap-day"),
        pytest.param("2026-02-30", None, id="impossible-date"),
        pytest.param("2026-1-27", None, id="short-month"),
        pytest.param("2026-11-27x", None, id="suffix"),
        pytest.param("x2026-11-27", None, id="prefix"),
        pytest.param("20261127", None, id="compact"),
        pytest.param("latest", None, id="word"),
        pytest.param("\uff12\uff10\uff12\uff16-\uff11\uff11-\uff12\uff17", None, id="fullwidth-digits"),
    ],
)
def test_folder_day(name: str, expected: date | None) -> None:
    assert folder_day(name) == expected


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 5 * 1024**2, 3 * 1024**3)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "5.0 MiB",
        "3.0 GiB",
    ]


# --- the command ---------------------------------------------------------------------------------


def test_command_prunes_by_utc_date_prints_and_rebuilds(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    reports = tmp_path / "reports"
    for days_ago in (0, 5, 100):
        audit_folder(reports, day(days_ago, today))
    (reports / "notes").mkdir()
    size = human_size(sum(path.stat().st_size for path in (reports / day(100, today)).iterdir()))
    done = cli("reports", "prune", "--keep-days", "30", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert names(reports) == {day(0, today), day(5, today), "notes", "index.html"}
    out = done.stdout.splitlines()
    assert out[0] == f"removed reports/{day(100, today)} (3 file(s), {size})"
    assert out[1].startswith("removed 1 dated folder(s) older than ") and out[1].endswith(f"freed {size}")
    assert out[-1] == "index:  reports/index.html"
    assert day(100, today) not in (reports / "index.html").read_text()


def test_command_dry_run_and_explicit_folder(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    reports = tmp_path / "elsewhere"
    audit_folder(reports, day(100, today))
    size = human_size(sum(path.stat().st_size for path in (reports / day(100, today)).iterdir()))
    done = cli("reports", "prune", "--keep-days", "0", "--reports", str(reports), "--dry-run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"would remove {reports / day(100, today)}")
    assert f"would free {size}" in done.stdout
    assert (reports / day(100, today)).is_dir() and not (reports / "index.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("--keep-days", "-1"), "Invalid value for '--keep-days'", id="negative"),
        pytest.param((), "Missing option '--keep-days'", id="missing"),
        pytest.param(("--keep-days", "seven"), "Invalid value for '--keep-days'", id="not-a-number"),
        pytest.param(
            ("--keep-days", "7", "--reports", "nope"), "error: no reports folder at nope", id="no-folder"
        ),
    ],
)
def test_command_refuses_bad_input_with_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = cli("reports", "prune", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_command_exits_2_when_a_folder_cannot_be_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench import cli

    today = datetime.now(UTC).date()
    reports = tmp_path / "reports"
    audit_folder(reports, day(100, today))

    def refuse(path: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(shutil, "rmtree", refuse)
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(cli.app, ["reports", "prune", "--keep-days", "30"])
    assert done.exit_code == 2
    assert "cannot remove reports/" in done.output and "Permission denied" in done.output
    assert "removed nothing: 1 dated folder(s) older than" in done.output


def test_a_later_audit_index_agrees(tmp_path: Path) -> None:
    """The pruned index is what `write_index` builds: the next audit's rebuild lists the same."""
    from workbench.render.notebooks import write_index

    reports = tmp_path / "reports"
    for days_ago in (0, 100):
        audit_folder(reports, day(days_ago))
    prune_reports(reports, 30, today=TODAY)
    pruned = (reports / "index.html").read_text()
    (reports / "index.html").unlink()
    assert write_index(reports).read_text() == pruned
