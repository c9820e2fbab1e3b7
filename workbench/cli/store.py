"""`workbench store claim|scrub`: looking after a history store itself, whoever's evidence it holds."""

from __future__ import annotations

from typing import Annotated

import typer

from workbench.cli.options import (
    Common,
    ConfigOption,
    EnvOption,
    ProjectDirOption,
    StoreOption,
    WordsCommand,
    examples,
)
from workbench.cli.terminal import out, shown

commands = typer.Typer()
store = typer.Typer(
    no_args_is_help=True, help="The history store itself: adopt rows from before project names."
)
commands.add_typer(store, name="store")


@store.command(
    "claim",
    cls=WordsCommand,
    epilog=examples(
        "workbench store claim --project payments",
        "workbench store claim --project payments --env staging --env production",
    ),
)
def claim(
    project: Annotated[
        str,
        typer.Option(
            "--project",
            metavar="NAME",
            help="The project name to adopt them into: your [workbench] project (not a folder).",
        ),
    ],
    env: EnvOption = None,
    config: ConfigOption = None,
    store_url: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Adopt the rows written before project names (project `legacy`) into project NAME.

    Results, confirmations and readiness of the named environments (all when none is named) move
    to NAME, with every legacy run whose environments all move; the trends' rollups follow. Rows of
    other environments stay `legacy` for another project to claim.
    """
    from workbench.history.store import HistoryStore

    common = Common(config, store_url, project_dir, tuple(env or ()))
    settings = common.load()
    with HistoryStore(store_url, project=settings.project, project_name=project, create=False) as history:
        claimed = history.claim_legacy(env or ())
    rows = claimed.rows
    scope = ", ".join(claimed.envs) if claimed.envs else "every environment"
    out.print(
        f"claimed for project {shown(claimed.project)} from legacy ({shown(scope)}): "
        f"{rows['results']} result(s), {rows['runs']} run(s), {rows['confirmations']} confirmation(s), "
        f"{rows['readiness']} readiness assessment(s)"
    )
    if settings.settings.project != claimed.project:
        out.print(
            f'next: set [workbench] project = "{shown(claimed.project)}" in the environments file, so '
            "your runs read and write this evidence."
        )
