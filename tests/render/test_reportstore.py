"""Reports in a folder or an S3 bucket (workbench/render/reportstore.py): where they may go, names
claimed once, an index that two writers finishing at once both land in, and every bad bucket,
credential or scheme refused before any probe.

The S3 cases run against moto's real S3 server on loopback (tests/s3server.py says what it was
observed to do: conditional writes answer 412, a denying bucket policy 403, a missing bucket 404).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.canary import canary_key
from tests.commands import workbench
from tests.paths import REPO
from workbench.core.locations import BucketPrefix, report_location
from workbench.render.notebooks import write_index
from workbench.render.reportnames import claim_stem
from workbench.render.reportstore import LocalReportStore, ReportStore, S3ReportStore

pytest_plugins = ("tests.s3server",)

KEY_VARIABLE = "WB_S3_CANARY_KEY"
KEY = canary_key("s3")
DAY = "2026-12-07"

# --- where reports may go --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("s3://team-reports/contract/audit", BucketPrefix("s3", "team-reports", "contract/audit/")),
        ("S3://team-reports/", BucketPrefix("s3", "team-reports", "")),
        ("s3://team-reports", BucketPrefix("s3", "team-reports", "")),
        ("s3://team.reports-1/a/", BucketPrefix("s3", "team.reports-1", "a/")),
        ("reports", Path("/project/reports")),
        ("/srv/reports", Path("/srv/reports")),
    ],
    ids=["bucket-prefix", "scheme-case", "no-slash", "dots-trailing-slash", "relative", "absolute"],
)
def test_a_reports_location_is_a_folder_or_a_bucket_and_prefix(given: str, expected: object) -> None:
    assert report_location(given, base=Path("/project")) == expected


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("ftp://host/reports", "reports cannot go to a ftp:// URL"),
        ("gs://bucket/reports", "reports cannot go to a gs:// URL"),
        ("file:///srv/reports", "reports cannot go to a file:// URL"),
        ("https://bucket.s3.amazonaws.com/x", "reports cannot go to a https:// URL"),
        ("s3://AKIAXXXX:secret@bucket/x", "no credentials, query or fragment"),
        ("s3://bucket/x?X-Amz-Credential=AKIA", "no credentials, query or fragment"),
        ("s3://b1/x", "not a bucket name"),
        ("s3:///x", "not a bucket name"),
        ("s3://Bucket/x", "not a bucket name"),
        ("s3://bucket/a/../b", "plain path segments"),
        ("s3://bucket/a//b", "plain path segments"),
        ("reports\n", "control characters"),
    ],
    ids=[
        "ftp",
        "gs",
        "file",
        "https",
        "credentials",
        "query",
        "short-bucket",
        "no-bucket",
        "uppercase-bucket",
        "dotdot",
        "empty-segment",
        "control",
    ],
)
def test_anything_else_is_refused_in_one_line(given: str, words: str) -> None:
    with pytest.raises(ValueError) as refused:
        report_location(given)
    message = str(refused.value)
    assert words in message and "\n" not in message
    assert "secret" not in message and "AKIA" not in message  # a credential in a URL is never repeated


# --- names claimed once; the index replaced only over what was read ----------------------------------


def test_a_local_name_is_claimed_once_and_the_index_replaced_only_over_the_version_read(
    tmp_path: Path,
) -> None:
    store = LocalReportStore(tmp_path / "reports")
    assert store.claim("2026-12-07/061700-audit.json", b"first")
    assert not store.claim("2026-12-07/061700-audit.json", b"second")
    assert store.read("2026-12-07/061700-audit.json").body == b"first"  # type: ignore[union-attr]
    assert store.replace("index.html", b"v1", etag=None)
    assert not store.replace("index.html", b"v1 again", etag=None)  # it exists now
    current = store.read("index.html")
    assert current is not None
    assert store.replace("index.html", b"v2", etag=current.etag)
    assert not store.replace("index.html", b"v3", etag=current.etag)  # stale
    assert store.read("index.html").body == b"v2"  # type: ignore[union-attr]


def test_a_second_in_the_same_second_takes_the_next_stem(tmp_path: Path) -> None:
    store = LocalReportStore(tmp_path)
    assert claim_stem(store, DAY, "061700", run_id="a") == ("061700", f"{DAY}/061700-audit.json")
    assert claim_stem(store, DAY, "061700", run_id="b") == ("061700-2", f"{DAY}/061700-2-audit.json")


class Interleaved:
    """A store through which index writer A reads the index and lists the manifests, then waits,
    before its conditional write, until writer B has written its own index: the lost update that
    an unconditional write makes (A's page, without B, over B's)."""

    def __init__(self, inner: ReportStore, listed: threading.Event, go: threading.Event) -> None:
        self.inner, self.listed, self.go = inner, listed, go

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def listing(self, under: str = "") -> Any:
        found = self.inner.listing(under)
        self.listed.set()
        return found

    def replace(self, key: str, body: bytes, *, etag: str | None) -> bool:
        assert self.go.wait(30)
        return self.inner.replace(key, body, etag=etag)


class Unconditional(Interleaved):
    """The control: the same interleaving with a plain write, as the index was written before."""

    def replace(self, key: str, body: bytes, *, etag: str | None) -> bool:
        assert self.go.wait(30)
        self.inner.write(key, body)
        return True


def two_writers_finish_at_once(store: ReportStore, wrapper: type[Interleaved]) -> str:
    """Audit A claims its name and starts its index; audit B claims its name and writes its index
    in between; then A writes. Returns the index that stays."""
    listed, go = threading.Event(), threading.Event()
    claim_stem(store, DAY, "061700", run_id="run-audit-A")
    writer = threading.Thread(target=write_index, args=(wrapper(store, listed, go),))
    writer.start()
    assert listed.wait(30)
    claim_stem(store, DAY, "061700", run_id="run-audit-B")  # finishes while A is between read and write
    write_index(store)
    go.set()
    writer.join(30)
    stored = store.read("index.html")
    assert stored is not None
    return stored.body.decode()


def test_two_local_writers_finishing_at_once_both_land_in_the_index(tmp_path: Path) -> None:
    index = two_writers_finish_at_once(LocalReportStore(tmp_path / "a"), Interleaved)
    assert "run-audit-A" in index and "run-audit-B" in index
    # The control: with a plain write, A's older page replaces B's and B is gone from the index.
    lost = two_writers_finish_at_once(LocalReportStore(tmp_path / "b"), Unconditional)
    assert "run-audit-A" in lost and "run-audit-B" not in lost


# --- S3, on moto's server -------------------------------------------------------------------------


@pytest.mark.third_party
def test_in_a_bucket_names_are_claimed_with_if_none_match_and_the_index_with_if_match(s3: Any) -> None:
    store = S3ReportStore(BucketPrefix("s3", s3.name, "team/"))
    store.check_writable()
    assert s3.keys() == {}  # the write check leaves nothing behind
    assert store.claim(f"{DAY}/061700-audit.json", b"first")
    assert not store.claim(f"{DAY}/061700-audit.json", b"second")  # 412 PreconditionFailed
    assert s3.read(f"team/{DAY}/061700-audit.json") == b"first"
    assert store.replace("index.html", b"v1", etag=None)
    current = store.read("index.html")
    assert current is not None and current.body == b"v1"
    assert store.replace("index.html", b"v2", etag=current.etag)
    assert not store.replace("index.html", b"v3", etag=current.etag)  # stale ETag: 412
    assert s3.read("team/index.html") == b"v2"
    assert [item.key for item in store.listing()] == [f"{DAY}/061700-audit.json", "index.html"]
    assert s3.client.head_object(Bucket=s3.name, Key="team/index.html")["ContentType"].startswith("text/html")


@pytest.mark.third_party
def test_two_writers_finishing_at_once_in_a_bucket_both_land_in_the_index(s3: Any) -> None:
    index = two_writers_finish_at_once(S3ReportStore(BucketPrefix("s3", s3.name, "a/")), Interleaved)
    assert "run-audit-A" in index and "run-audit-B" in index
    lost = two_writers_finish_at_once(S3ReportStore(BucketPrefix("s3", s3.name, "b/")), Unconditional)
    assert "run-audit-A" in lost and "run-audit-B" not in lost


# --- the command line against the bucket ---------------------------------------------------------------


def make_project(path: Path) -> Path:
    """The repository's data/ without a history, plus an environment whose key is a canary."""
    shutil.copytree(REPO / "data", path / "data", ignore=shutil.ignore_patterns("*.sqlite*", "schedules"))
    with (path / "data" / "environments.toml").open("a") as config:
        config.write(f'\n[environments.keyed]\nbase_url = "embedded"\napi_key_env = "{KEY_VARIABLE}"\n')
    return path


def bad_bucket(s3: Any) -> str:
    return f"s3://wb-no-such-{s3.name[3:]}/team"


def denied_bucket(s3: Any) -> str:
    s3.deny_writes()
    return s3.url("team")


# (id, how the reports place is given, the command's extra environment, words of the one line)
REFUSED: list[tuple[str, Any, dict[str, str], str]] = [
    ("scheme", lambda s3: "gs://bucket/team", {}, "reports cannot go to a gs:// URL"),
    (
        "credentials-in-url",
        lambda s3: f"s3://AKIA1:pw@{s3.name}/team",
        {},
        "no credentials, query or fragment",
    ),
    ("missing-bucket", bad_bucket, {}, "does not exist"),
    ("unwritable-bucket", denied_bucket, {}, "access denied (403)"),
    (
        "no-credentials",
        lambda s3: s3.url("team"),
        {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
        "no credentials found",
    ),
]


@pytest.mark.third_party
@pytest.mark.parametrize("where", ["option", "config"])
@pytest.mark.parametrize(("case", "place", "extra", "words"), REFUSED, ids=[case[0] for case in REFUSED])
def test_every_bad_bucket_credential_or_scheme_is_refused_before_any_probe(
    s3: Any, tmp_path: Path, case: str, place: Any, extra: dict[str, str], words: str, where: str
) -> None:
    project = make_project(tmp_path / "project")
    url = place(s3)
    args: tuple[str, ...] = ("audit", "--env", "reference", "--project-dir", str(project))
    if where == "option":
        args += ("--reports", url)
    else:
        config = project / "data" / "environments.toml"
        config.write_text(f'[workbench]\nreports = "{url}"\n\n' + config.read_text())
    env = {name: value for name, value in extra.items()}
    done = run_without(env, *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert words in line, line
    assert s3.server.secret_key not in line and ":pw@" not in line
    assert not (project / "data" / "history.sqlite").exists()  # no run began: nothing was probed
    assert not (project / "reports").exists()
    assert s3.keys() == {}


@pytest.mark.third_party
def test_without_boto3_reports_in_s3_are_refused_naming_the_extra(s3: Any, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    script = (
        "import sys; sys.modules['boto3'] = None\n"  # what an install without the [s3] extra has
        "from workbench.cli import main\n"
        "sys.argv = ['workbench', *sys.argv[1:]]\n"
        "main()\n"
    )
    args = ("audit", "--env", "reference", "--project-dir", str(project), "--reports", s3.url("team"))
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "pip install 'contract-workbench[s3]'" in line
    assert not (project / "data" / "history.sqlite").exists() and s3.keys() == {}


def run_without(extra: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`workbench ARGS` in a fresh process; an empty value in `extra` removes that variable."""
    env = {name: value for name, value in os.environ.items() if extra.get(name) != ""}
    env.update({name: value for name, value in extra.items() if value})
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.third_party
def test_an_audit_writes_its_reports_and_index_to_the_bucket_and_nothing_else(
    s3: Any, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    before = sorted(path for path in tmp_path.rglob("*"))
    done = workbench(
        "audit",
        "--env",
        "reference",
        "--env",
        "keyed",
        "--project-dir",
        str(project),
        "--reports",
        s3.url("team/contract"),
        "--store",
        f"sqlite:///{tmp_path / 'history.sqlite'}",
        cwd=tmp_path,
        env={KEY_VARIABLE: KEY},
    )
    assert done.returncode == 1, done.stdout + done.stderr  # keyed has no fixtures nor bundle yet
    keys = s3.keys()
    (manifest,) = [key for key in keys if key.endswith("-audit.json")]
    day, stem = manifest.split("/")[2], manifest.split("/")[3].removesuffix("-audit.json")
    expected = {f"team/contract/{day}/{stem}-{name}.{ext}" for name in REPORTS for ext in ("ipynb", "html")}
    assert set(keys) == expected | {manifest, "team/contract/index.html"}
    record = json.loads(s3.read(manifest))
    assert record["status"] == "complete"
    assert record["readiness"] == {"reference": "ready", "keyed": "not_ready"}
    index = s3.read("team/contract/index.html").decode()
    assert all(f"{day}/{stem}-{name}.html" in index for name in REPORTS)
    printed = [
        line.removeprefix("report: ") for line in done.stdout.splitlines() if line.startswith("report: ")
    ]
    assert printed == [f"s3://{s3.name}/team/contract/{day}/{stem}-{name}.html" for name in REPORTS]
    assert f"index:  s3://{s3.name}/team/contract/index.html" in done.stdout
    # Nothing local but the history store: no reports/ folder, no staging folder left behind.
    after = sorted(path for path in tmp_path.rglob("*"))
    assert [path for path in after if path not in before] == [tmp_path / "history.sqlite"]
    # Neither the endpoint's key nor the bucket's secret is in any object or in what was printed.
    for key in keys:
        body = s3.read(key)
        assert KEY.encode() not in body and s3.server.secret_key.encode() not in body, key
    assert KEY not in done.stdout + done.stderr and s3.server.secret_key not in done.stdout + done.stderr


REPORTS = ("contract_audit", "rollback_readiness", "symptom_trends", "drift_explorer")


@pytest.mark.slow
@pytest.mark.third_party
def test_two_audits_finishing_at_once_into_one_prefix_both_appear_in_the_index(
    s3: Any, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    command = [
        sys.executable,
        "-m",
        "workbench",
        "audit",
        "--env",
        "reference",
        "--project-dir",
        str(project),
        "--reports",
        s3.url("shared"),
        "--store",
        f"sqlite:///{tmp_path / 'history.sqlite'}",
    ]
    audits = [
        subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [audit.communicate(timeout=300) for audit in audits]
    assert [audit.returncode for audit in audits] == [0, 0], outputs
    run_ids = {line.rsplit(" ", 1)[-1] for out, _ in outputs for line in out.splitlines() if "run id" in line}
    manifests = [key for key in s3.keys(prefix="shared/") if key.endswith("-audit.json")]
    assert len(manifests) == 2 and len(run_ids) == 2
    index = s3.read("shared/index.html").decode()
    for manifest in manifests:
        record = json.loads(s3.read(manifest))
        assert record["status"] == "complete" and record["run_id"] in index
        assert manifest.split("/", 1)[1].replace("-audit.json", "-contract_audit.html") in index


@pytest.mark.slow
@pytest.mark.third_party
def test_prune_and_html_work_on_the_prefix(s3: Any, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    config = project / "data" / "environments.toml"
    config.write_text(f'[workbench]\nreports = "{s3.url("team")}"\n\n' + config.read_text())
    store = ["--store", f"sqlite:///{tmp_path / 'history.sqlite'}"]
    done = workbench("audit", "--env", "reference", "--project-dir", str(project), *store, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    keys = s3.keys()
    # An old dated folder (a copy of today's), and what is no dated folder, which prune never touches.
    old = {key: key.replace(key.split("/")[1], "2020-01-01", 1) for key in keys if key.count("/") == 2}
    for key, copy in old.items():
        s3.client.put_object(Bucket=s3.name, Key=copy, Body=s3.read(key))
    for other in ("team/notes.txt", "team/archive/2020-01-01.txt", "elsewhere/2020-01-01/x.html"):
        s3.client.put_object(Bucket=s3.name, Key=other, Body=b"keep")
    pruned = workbench("reports", "prune", "--keep-days", "30", "--project-dir", str(project), cwd=tmp_path)
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert f"removed s3://{s3.name}/team/2020-01-01/ ({len(old)} file(s)" in pruned.stdout
    assert set(s3.keys()) == set(keys) | {
        "team/notes.txt",
        "team/archive/2020-01-01.txt",
        "elsewhere/2020-01-01/x.html",
    }
    assert "2020-01-01" not in s3.read("team/index.html").decode()

    # `reports html` on a notebook in the bucket: its HTML written back beside it, the index lists it.
    (notebook,) = [key for key in keys if key.endswith("-contract_audit.ipynb")]
    html = notebook.removesuffix(".ipynb") + ".html"
    s3.client.delete_object(Bucket=s3.name, Key=html)
    exported = workbench("reports", "html", f"s3://{s3.name}/{notebook}", cwd=tmp_path)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert exported.stdout.strip() == f"report: s3://{s3.name}/{html}"
    assert b"<html" in s3.read(html)
    missing = workbench(
        "reports", "html", f"s3://{s3.name}/team/2026-01-01/000000-contract_audit.ipynb", cwd=tmp_path
    )
    assert missing.returncode == 2 and "not an executed notebook" in missing.stderr


@pytest.mark.slow
def test_reports_render_judges_stored_runs_and_exits_as_the_audit_would(tmp_path: Path) -> None:
    """What the workers DAG's render task runs: no probe is sent, one audit per stored run."""
    project = make_project(tmp_path / "project")
    common = ["--project-dir", str(project), "--store", f"sqlite:///{tmp_path / 'history.sqlite'}"]
    run_ids = []
    for environment in ("reference", "reference-drifted"):
        probed = workbench("probe", "--env", environment, "--format", "json", *common, cwd=tmp_path)
        assert probed.returncode in (0, 1), probed.stderr
        run_ids.append(json.loads(probed.stdout)[0]["run_id"])
    reports = tmp_path / "shared-reports"
    args = ["reports", "render", "--run", run_ids[0], "--run", run_ids[1], "--reports", str(reports)]
    done = workbench(*args, "--format", "json", *common, cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # reference-drifted is not rollback-ready
    rendered = json.loads(done.stdout)
    assert [audit["run_id"] for audit in rendered["audits"]] == run_ids
    assert [audit["readiness"] for audit in rendered["audits"]] == [
        {"reference": "ready"},
        {"reference-drifted": "not_ready"},
    ]
    assert rendered["index"] == str(reports / "index.html") and rendered["exit_code"] == 1
    index = (reports / "index.html").read_text()
    assert all(run_id in index for run_id in run_ids)
    assert all(Path(report).is_file() for audit in rendered["audits"] for report in audit["reports"])
    table = workbench(*args[:4], *common, "--reports", str(tmp_path / "again"), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert (
        f"run {run_ids[0]}:" in table.stdout
        and f"index:  {tmp_path / 'again' / 'index.html'}" in table.stdout
    )
    unknown = workbench("reports", "render", "--run", "20200101T000000Z-000000", *common, cwd=tmp_path)
    assert unknown.returncode == 2 and "no run '20200101T000000Z-000000'" in unknown.stderr
