"""What must be refused rather than passed (issue 13, item 8).

Observed before the fix: `bundle capture` with no manifest exited 0 and wrote a bundle that `bundle
verify` then rejected; `watch` on an empty log said "no trigger fired" and exited 0, so a rotated
log passed a gate; the README's placeholder `model = "REPLACE_WITH_APPROVED_MODEL_ID"` was accepted
and sent (a 404 that reads as the endpoint's fault).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands import cli
from tests.paths import REPO


def test_bundle_capture_without_a_manifest_refuses_and_writes_nothing(workdir: Path) -> None:
    (workdir / "env.toml").write_text('[environments.ref]\nbase_url = "embedded"\n')
    done = cli("bundle", "capture", "--config", "env.toml", "--env", "ref", "--release", "r1", cwd=workdir)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no integration manifest for environment 'ref'" in lines[0], done.stderr
    assert "--manifest FILE" in lines[0] and "environments.ref.manifest" in lines[0]
    assert not (workdir / "data").exists()  # no bundle, and no store opened
    gone = cli(
        *("bundle", "capture", "--config", "env.toml", "--env", "ref", "--release", "r1"),
        *("--manifest", "integration/nowhere.toml"),
        cwd=workdir,
    )
    assert gone.returncode == 2 and "nowhere.toml" in gone.stderr and "manifest not found" in gone.stderr
    assert not (workdir / "data").exists()


def test_bundle_capture_with_the_shipped_manifest_still_writes(workdir: Path) -> None:
    import shutil

    shutil.copytree(REPO / "data" / "integration", workdir / "integration")
    (workdir / "env.toml").write_text('[environments.ref]\nbase_url = "embedded"\n')
    done = cli(
        *("bundle", "capture", "--config", "env.toml", "--env", "ref", "--release", "r1"),
        *("--manifest", "integration/manifest.toml"),
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr
    assert (workdir / "data" / "bundles" / "ref" / "r1.json").is_file()


@pytest.mark.parametrize("content", ["", "\n\n", "not json at all\n"], ids=["empty", "blank", "unreadable"])
def test_watch_on_a_log_with_no_request_exits_2_saying_nothing_was_judged(
    workdir: Path, content: str
) -> None:
    (workdir / "app.jsonl").write_text(content)
    done = cli("watch", "app.jsonl", cwd=workdir)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no request in this log" in done.stderr and "nothing could be judged" in done.stderr
    assert "no trigger fired" not in done.stdout


def test_watch_on_a_header_only_csv_exits_2(workdir: Path) -> None:
    # rotated: the header, no request yet
    (workdir / "rotated.csv").write_text("timestamp,status,error,exception,latency_ms\n")
    done = cli("watch", "rotated.csv", cwd=workdir)
    assert done.returncode == 2 and "nothing could be judged" in done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize("model", ["REPLACE_WITH_APPROVED_MODEL_ID", "<model>", "your-model-id", "TODO"])
def test_a_placeholder_model_id_is_a_configuration_error(workdir: Path, model: str) -> None:
    (workdir / "env.toml").write_text(
        f'[environments.staging]\nbase_url = "http://127.0.0.1:9"\napi_key_env = "WB_TEST_KEY"\n'
        f'model = "{model}"\n'
    )
    done = cli("probe", "--config", "env.toml", cwd=workdir, env={"WB_TEST_KEY": "k" * 32})
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "environments.staging.model" in lines[0] and "placeholder" in lines[0], lines
    assert not (workdir / "data").exists()  # refused before anything was sent or stored


def test_serve_on_a_busy_port_is_one_line_before_any_banner(workdir: Path) -> None:
    # Observed before (issue 22): the whole banner, "serving ... Ctrl-C stops", then a 50-line
    # traceback from uvicorn's bind.
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = cli("serve", "--port", str(port), cwd=workdir, env={"WORKBENCH_REFERENCE_KEY": "k" * 24})
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: --port: cannot listen on 127.0.0.1:{port}") and "another --port" in line
    assert "serving" not in done.stdout + done.stderr
