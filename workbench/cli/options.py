"""The options every verb shares, and the command classes that read them wherever they are typed.

Common options go before or after the verb (`workbench -v probe` is `workbench probe -v`): the
root group rewrites the arguments once (`hoist_common_options`) before click parses them. The root
group is also where a `WorkbenchError` becomes one line and its exit code, so a test that invokes
the app in-process sees exactly what a shell sees.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from workbench.cli.terminal import err, shown
from workbench.core.errors import ConfigError, WorkbenchError

if TYPE_CHECKING:
    from workbench.core.config import Config
    from workbench.core.locations import ProjectFolder

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="PATH",
        help="Environments TOML (default: $WORKBENCH_CONFIG, data/environments.toml here or in a "
        "folder above, or the built-in embedded default).",
    ),
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option("--env", metavar="NAME", help="Environment to use (repeatable; default: all configured)."),
]
ProjectDirOption = Annotated[
    Path | None,
    typer.Option(
        "--project-dir",
        metavar="DIR",
        help="The project folder: its data/ (history, fixtures, bundles, triggers), reports/ and "
        "notebooks/ (default: the config file's folder, else here).",
    ),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URL",
        help="History store URL (default: $WORKBENCH_STORE, else data/history.sqlite in the project "
        "folder: the one holding the config file's data/).",
    ),
]
ReportsOption = Annotated[
    str | None,
    typer.Option(
        "--reports",
        metavar="DIR|s3://BUCKET/PREFIX",
        help="Where dated reports and index.html go: a folder, or an S3 bucket and prefix (credentials "
        "from the AWS SDK's chain, never the URL; the [s3] extra) (default: [workbench] reports, else "
        "the project's reports/).",
    ),
]
JunitOption = Annotated[
    Path | None,
    typer.Option(
        "--junit", metavar="FILE", help="Also write the results as JUnit XML to FILE (for CI test reports)."
    ),
]
TriggersOption = Annotated[
    Path | None,
    typer.Option(
        "--triggers", metavar="FILE", help="Trigger rules TOML (default: data/triggers.toml, else examples)."
    ),
]


@dataclass(frozen=True, slots=True)
class Common:
    """The common options one command was given: what it loads, and what its printed hints repeat."""

    config: Path | None = None
    store: str | None = None
    project_dir: Path | None = None
    envs: tuple[str, ...] = ()

    def load(self) -> Config:
        """The configuration, its paths in the project folder; says so when none was found."""
        from workbench.core.config import load_config

        config = load_config(self.config, project_dir=self._checked_project_dir())
        _say(config.folder.notice())
        return config

    def folder(self) -> ProjectFolder:
        """The project folder, for verbs that need no environment; says so when no config names it."""
        from workbench.core.locations import locate

        folder = locate(self.config, self._checked_project_dir())
        _say(folder.notice())
        return folder

    def options(self) -> tuple[str, ...]:
        """What a printed hint repeats (the advisor decides: `common_options`)."""
        from workbench.rollback.advice import common_options

        return common_options(self.config, self.store, self.project_dir)

    def _checked_project_dir(self) -> Path | None:
        if self.project_dir is not None and not self.project_dir.is_dir():
            raise ConfigError(
                "is not a folder (the project folder holds data/ and reports/)",
                path=self.project_dir,
                field="--project-dir",
            )
        return self.project_dir


def _say(notice: str | None) -> None:
    if notice:
        err.print(shown(notice))


class Format(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[
    Format, typer.Option("--format", metavar="table|json", help="table for people, json for machines.")
]


def examples(*commands: str) -> str:
    """A help epilog of example command lines, kept as written (`\\b`: click does not rewrap it)."""
    return "\b\nExamples:\n" + "\n".join(f"  {command}" for command in commands)


class WordsArgument(TyperArgument):
    """An argument shown in words: `FILE`, not typer's `{FILE}` in the usage and `FILE <path>` below."""

    def display_type(self, ctx: Any) -> str:
        return ""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"


class WordsCommand(TyperCommand):
    """Every verb: its arguments shown in words (see `WordsArgument`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = WordsArgument


class RootGroup(TyperGroup):
    """The `workbench` group: common options wherever they are typed, one-line errors, exit codes."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = hoist_common_options(self, args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except WorkbenchError as exc:
            err.print(f"error: {shown(str(exc))}")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted: results stored so far are kept; re-run to complete")
            sys.exit(130)


# Common options (README "Commands") that work before or after the verb.
_ROOT_FLAGS = frozenset({"-v", "--verbose"})
_COMMON_WITH_VALUE = frozenset({"--config", "--env", "--store", "--project-dir", "--junit"})


def hoist_common_options(root: Any, argv: Sequence[str]) -> list[str]:
    """`workbench --config c.toml probe -v` means `workbench -v probe --config c.toml`.

    Click reads an option only at its own level; people put common options on either side of the
    verb. `-v/--verbose` (the root's) moves before the verb; `--config`, `--env`, `--store`,
    `--project-dir` and `--junit` given before the verb move after it. A token that is another
    option's value (`--note -v`) stays where it is: the verb's own options say which take a value.
    Typer vendors its own click, so its groups and options are read by duck typing.
    """
    group = root
    front: list[str] = []  # the root's own options
    moved: list[str] = []  # common options met before the verb
    path: list[str] = []  # the verb (and its sub-verb)
    rest = list(argv)
    while rest and hasattr(group, "commands"):
        token = rest[0]
        if token == "--":
            break
        if token.split("=", 1)[0] in _COMMON_WITH_VALUE:
            moved.append(rest.pop(0))
            if "=" not in token and rest:
                moved.append(rest.pop(0))
        elif token.startswith("-"):
            (path if path else front).append(rest.pop(0))
        else:
            verb = group.commands.get(token)
            if verb is None:
                break  # click names the unknown verb
            path.append(rest.pop(0))
            group = verb
    if hasattr(group, "commands"):
        return [*front, *path, *moved, *rest]  # no complete verb: click says what is missing
    takes_value = {
        name
        for param in group.params
        if param.param_type_name == "option" and not param.is_flag and not getattr(param, "count", False)
        for name in param.opts
    }
    kept: list[str] = []
    tokens = iter(rest)
    for token in tokens:
        if token == "--":
            kept.extend([token, *tokens])
            break
        if token in _ROOT_FLAGS:
            front.append(token)
            continue
        kept.append(token)
        if token in takes_value:
            kept.extend(list(itertools.islice(tokens, 1)))
    return [*front, *path, *moved, *kept]
