"""A store password in the URL's query never becomes a notebook parameter (issue 11, finding 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench import HistoryStore
from workbench.core.config import parse_config
from workbench.probes.engine import run_probes
from workbench.render.audit import report_parameters

pytest_plugins = ("tests.pg",)


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_query_password_is_not_a_parameter(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Finding: `postgresql://u@host/db?password=...` landed in all four notebooks' parameters and
    # the HTML provenance; the `user:pw@` form was already withheld.
    monkeypatch.chdir(tmp_path)
    userinfo = sa.make_url(store_url)
    password = userinfo.password or ""
    in_query = userinfo._replace(password=None).update_query_dict({"password": password})
    config = parse_config('[environments.gw]\nbase_url = "embedded"\n', source=None)
    with HistoryStore(in_query.render_as_string(hide_password=False), project_name="gw-team") as store:
        summary = run_probes(config, ["gw"], ["endpoint.minimal"], store=store)
        parameters = report_parameters(config, summary, store)
        shown = store.display_url
    assert parameters["store_url"] == ""  # the kernel reads $WORKBENCH_STORE instead
    assert f"password={password}" not in json.dumps(parameters) + shown
