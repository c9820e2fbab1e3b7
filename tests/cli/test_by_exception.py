"""Sixty environments, five broken: the CLI summarises by exception (issue 22, item 2).

Observed before: 264 lines on stdout for 60 embedded environments, among them 60 identical 3-line
readiness blocks, and 660 progress lines on stderr, one per probe. Now: the counts, each broken
environment with what blocks it and its first failure, one line for the rest, the next steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands import cli
from workbench.probes.catalog import CATALOG

pytestmark = pytest.mark.slow

BROKEN = {
    "env-13": "content-moved",
    "env-27": "auth-not-enforced",
    "env-41": "stream-without-done",
    "env-48": "stream-error-in-200",
    "env-55": "gateway-html-errors",
}


def sixty(folder: Path) -> None:
    names = [f"env-{n:02d}" for n in range(1, 61)]
    tables = [
        f'[environments.{name}]\nbase_url = "embedded"\nstream = true\n'
        f'scenario = "{BROKEN.get(name, "conformant")}"\n'
        for name in names
    ]
    (folder / "env.toml").write_text("\n".join(tables))


def test_sixty_environments_five_broken_fit_one_screen(tmp_path: Path) -> None:
    sixty(tmp_path)
    done = cli("probe", "--config", "env.toml", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) <= 25, done.stdout
    assert lines[0] == "55 of 60 CONTRACT PASSES; 5 NOT READY"
    broken = [line.split(":")[0] for line in lines if ": NOT READY: contract probes: " in line]
    assert broken == list(BROKEN)  # each named, in the order configured, with what blocks it
    for env in BROKEN:
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{env}: "))
        assert lines[at + 1].startswith("  - "), f"{env}: its first failure follows its verdict"
    assert "55 environments: CONTRACT PASSES" in done.stdout
    assert sum(line.startswith("next: ") for line in lines) >= 1
    total = 60 * len(CATALOG)
    assert len(done.stderr.splitlines()) < total // 10, "progress is never one line per probe"


def test_verbose_prints_every_result(tmp_path: Path) -> None:
    sixty(tmp_path)
    done = cli("probe", "--config", "env.toml", "-v", cwd=tmp_path)
    assert done.returncode == 1
    for n in range(1, 61):
        assert f"env-{n:02d}: " in done.stdout
    assert done.stdout.count("endpoint.minimal") >= 60  # the results table: one row per probe and env
