"""A project of many embedded environments, a few of them broken, as a team auditing a matrix of
models, regions and gateways has (issue 22): what the sixty-environment report test and the
200-environment benchmark audit.

The repository's data/ is copied (its integration manifest, the fixtures and bundle of `reference`);
each environment replays the fixtures of `reference/2026.11.0` and has a bundle of its own (the
shipped one, captured for it), so a healthy environment is READY and a broken one is NOT READY for
its own contract alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.paths import REPO

# Five broken environments, each in its own way (named by position, so any count of 55 or more holds them).
BROKEN = {
    "env-13": "content-moved",
    "env-27": "auth-not-enforced",
    "env-41": "stream-without-done",
    "env-48": "stream-error-in-200",
    "env-55": "gateway-html-errors",
}
RELEASE = "2026.11.0"


def names(count: int) -> list[str]:
    return [f"env-{n:02d}" for n in range(1, count + 1)]


def write_project(folder: Path, count: int = 60) -> list[str]:
    """`folder/data/` with `count` embedded environments (`BROKEN` among them); their names."""
    shutil.copytree(REPO / "data", folder / "data", ignore=shutil.ignore_patterns("*.sqlite*"))
    bundle = json.loads((REPO / "data" / "bundles" / "reference" / f"{RELEASE}.json").read_text())
    tables = []
    for name in names(count):
        tables.append(
            f'[environments.{name}]\nbase_url = "embedded"\nstream = true\n'
            f'baseline = "reference/{RELEASE}"\nmanifest = "integration/manifest.toml"\n'
            f'scenario = "{BROKEN.get(name, "conformant")}"\n'
        )
        (folder / "data" / "bundles" / name).mkdir(parents=True)
        (folder / "data" / "bundles" / name / f"{RELEASE}.json").write_text(
            json.dumps({**bundle, "env": name}, indent=2) + "\n"
        )
    (folder / "data" / "environments.toml").write_text("\n".join(tables))
    return names(count)
