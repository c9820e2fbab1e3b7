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


@store.command(
    "scrub",
    cls=WordsCommand,
    epilog=examples(
        "export OLD_COMETAPI_KEY=...   # the value of the key you rotated",
        "workbench store scrub --key-env OLD_COMETAPI_KEY",
    ),
)
def scrub(
    key_env: Annotated[
        str,
        typer.Option(
            "--key-env",
            metavar="VAR",
            help="The variable holding the OLD key's value (rotate first: the usual one holds the new key).",
        ),
    ],
    config: ConfigOption = None,
    store_url: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Remove an old key from the history store, every project's rows, in every form, then vacuum it.

    Rotate the key at the provider first: a store is read by others (and backed up), so what it held
    must be made harmless before it is removed. Exit 1 when a trace of it is still found after.
    """
    import os

    from workbench.core.errors import UsageError
    from workbench.core.references import VARIABLE_NAME
    from workbench.core.secrets import key_needles, known_secrets
    from workbench.history.store import HistoryStore

    if not VARIABLE_NAME.match(key_env):
        raise UsageError(
            "--key-env takes the NAME of an environment variable (letters, digits, _), not a key"
        )
    values = known_secrets([key_env])
    if not values:
        state = "is not set" if not os.environ.get(key_env) else "is too short to be a key"
        raise UsageError(f"{key_env} {state}: export it with the old key's value, then run this again")
    folder = Common(config, store_url, project_dir).folder()
    with HistoryStore.for_maintenance(store_url, project=folder.root) as history:
        scrubbed = history.scrub(values)
        left = history.find_text(key_needles(values))
        where = history.display_url
    columns = ", ".join(f"{column}: {rows}" for column, rows in scrubbed.columns.items())
    out.print(
        f"${shown(key_env)}: removed from {scrubbed.rows} row value(s) of {shown(where)}"
        + (f" ({shown(columns)})" if columns else "")
        + "; the store was vacuumed"
    )
    if left:
        out.print(f"[bold red]still found[/] in {', '.join(shown(text.column) for text in left)}")
        raise typer.Exit(1)
    out.print(
        "next: look for the key outside the store too: `workbench scan` (reports, data), and your CI logs."
    )
