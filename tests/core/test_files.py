"""Files written whole: created with their folder, readable by others, nothing left behind, and an
existing file kept when replacing it is not allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.files import write_atomic


def test_writes_text_and_bytes_whole_into_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "day" / "report.html"
    write_atomic(target, "héllo\n")
    assert target.read_bytes() == "héllo\n".encode()
    assert target.stat().st_mode & 0o777 == 0o644
    write_atomic(target, b"<xml/>\n")  # replaces by default
    assert target.read_bytes() == b"<xml/>\n"
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temporary file left


def test_without_force_an_existing_file_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "bundle.json"
    write_atomic(target, "first", force=False)
    with pytest.raises(FileExistsError, match=r"bundle\.json"):
        write_atomic(target, "second", force=False)
    with pytest.raises(RuntimeError, match="pass --force"):
        write_atomic(target, "second", force=False, exists=lambda: RuntimeError("pass --force"))
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle.json"]


def test_a_link_planted_where_the_temporary_file_goes_is_never_followed(tmp_path: Path) -> None:
    # Finding (issue 11): temporary files were `.NAME.PID.tmp`; a symlink planted there in a shared
    # reports folder was followed, overwriting its target and turning the file into a link.
    import os

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "index.html"
    for pid in (os.getpid(), os.getpid() + 1):
        (tmp_path / f".{target.name}.{pid}.tmp").symlink_to(victim)
    write_atomic(target, "<html>new</html>")
    assert victim.read_text() == "keep me"
    assert not target.is_symlink() and target.read_text() == "<html>new</html>"
