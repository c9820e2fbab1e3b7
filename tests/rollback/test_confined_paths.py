"""Paths that configuration and files name are confined to their folders (issue 20, finding 6): a
`baseline`, a fixture file, a manifest's templates and flags, a bundle `ENV/RELEASE`; a link out of
the folder is not followed.

Observed before the fix: `baseline = "../../outside"` and a fixture manifest naming `../../x.json`
were read wherever they pointed; so were a manifest's `payload_template = "../secret.json"` and a
fixture file that was a link to a file outside the fixtures folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.paths import DATA, REPO
from workbench.core.config import parse_config
from workbench.core.errors import ConfigError, UsageError
from workbench.core.locations import confined
from workbench.probes.fixtures import load_fixture_set
from workbench.rollback.bundle import Bundle, resolve_bundle
from workbench.rollback.manifest import validate_manifest
from workbench.rollback.plan import verify_bundle

SECRET = '{"choices": [{"message": {"content": "outside"}}]}'


def test_confined_keeps_paths_and_links_inside_their_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside.txt"
    (root / "sub").mkdir(parents=True)
    outside.write_text("x")
    (root / "sub" / "file.txt").write_text("x")
    (root / "out-link").symlink_to(outside)
    (root / "in-link").symlink_to(root / "sub" / "file.txt")
    assert confined(root, "sub/file.txt") == root / "sub" / "file.txt"
    assert confined(root, "in-link") == root / "in-link"  # a link that stays inside is fine
    for escaping in ("../outside.txt", "sub/../../outside.txt", str(outside), "out-link"):
        assert confined(root, escaping) is None, escaping


@pytest.mark.parametrize("baseline", ["../../outside", "/etc/passwd", "ref/../../x", "a/b/c", ".hidden"])
def test_a_baseline_that_is_not_a_release_name_is_refused_on_load(baseline: str) -> None:
    with pytest.raises(ConfigError, match=r"environments\.ref\.baseline"):
        parse_config(f'[environments.ref]\nbase_url = "embedded"\nbaseline = "{baseline}"\n', source=None)


def fixture_release(root: Path, env: str, release: str, files: dict[str, str]) -> Path:
    folder = root / env / release
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    manifest = {
        "env": env,
        "release": release,
        "captured_at": "2026-12-01T00:00:00Z",
        "files": dict.fromkeys(files, ""),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_fixture_files_and_releases_are_read_only_inside_the_fixtures_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "fixtures", tmp_path / "outside"
    fixture_release(outside, "ref", "stolen", {"chat_minimal.json": SECRET})
    with pytest.raises(ConfigError, match="baseline"):
        load_fixture_set(root, "ref", "../../outside/ref/stolen")  # as configuration could not say it
    folder = fixture_release(root, "ref", "r1", {"chat_minimal.json": "{}"})
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {"../../../outside/ref/stolen/chat_minimal.json": ""}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="not a file of this folder"):
        load_fixture_set(root, "ref", "r1")
    (folder / "manifest.json").unlink()
    shutil.rmtree(folder)
    linked = fixture_release(root, "ref", "r2", {})
    (linked / "chat_minimal.json").symlink_to(outside / "ref" / "stolen" / "chat_minimal.json")
    manifest = json.loads((linked / "manifest.json").read_text())
    manifest["files"] = {"chat_minimal.json": ""}
    (linked / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="not a file of this folder"):
        load_fixture_set(root, "ref", "r2")
    shutil.rmtree(linked)
    (root / "ref" / "r3").symlink_to(outside / "ref" / "stolen", target_is_directory=True)
    assert load_fixture_set(root, "ref") is None  # a release folder linked from elsewhere is not one


def integration(tmp_path: Path) -> Path:
    folder = tmp_path / "integration"
    shutil.copytree(DATA / "bundles" / "integration", folder)
    (tmp_path / "secret.json").write_text(SECRET)
    return folder


@pytest.mark.parametrize("linked", [False, True], ids=["dot-dot", "link"])
def test_a_manifests_templates_are_read_only_inside_its_folder(tmp_path: Path, linked: bool) -> None:
    folder = integration(tmp_path)
    manifest = folder / "manifest.toml"
    if linked:
        (folder / "templates" / "request.json").unlink()
        (folder / "templates" / "request.json").symlink_to(tmp_path / "secret.json")
    else:
        manifest.write_text(manifest.read_text().replace("templates/request.json", "../secret.json"))
    with pytest.raises(ConfigError, match=r"request\.payload_template: .* is not in the manifest's folder"):
        validate_manifest(manifest)


def test_verify_reads_no_file_a_bundle_names_outside_the_manifests_folder(tmp_path: Path) -> None:
    data = json.loads(next((REPO / "data" / "bundles" / "reference").glob("*.json")).read_text())
    data["parts"]["request_template"] = {"file": "../secret.json", "sha256": "0" * 64}
    edited = tmp_path / "bundles" / "ref" / "r1.json"
    edited.parent.mkdir(parents=True)
    edited.write_text(json.dumps(data))
    folder = integration(tmp_path)
    checks = {c.part: c for c in verify_bundle(Bundle.load(edited), secrets={}, root=folder)}
    assert not checks["request_template"].ok
    assert "is not in the manifest's folder" in checks["request_template"].message


@pytest.mark.parametrize("reference", ["../ref/r1", "ref/../../r1", "../../ref/r1"])
def test_a_bundle_reference_stays_in_the_bundles_folder(tmp_path: Path, reference: str) -> None:
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "r1.json").write_text("{}")
    with pytest.raises(UsageError):
        resolve_bundle(reference, tmp_path / "bundles")
