"""`workbench confirm`, `fixtures capture` and `bundle capture|verify|diff|plan`: what a rollback
restores, and what only an operator can confirm."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.options import Common, ConfigOption, ProjectDirOption, StoreOption, WordsCommand, examples
from workbench.cli.terminal import out, shown

commands = typer.Typer()


@commands.command(
    cls=WordsCommand,
    epilog=examples(
        'workbench confirm rate-limits --env production --by alice --note "TPM 90k seen" --expires 30'
    ),
)
def confirm(
    item: Annotated[
        str, typer.Argument(metavar="ITEM", help="rate-limits, billing, docs-reviewed or traffic-shift.")
    ],
    env: Annotated[str, typer.Option("--env", metavar="NAME", help="The environment confirmed.")],
    by: Annotated[str, typer.Option("--by", metavar="WHO", help="Who confirms (name or handle).")],
    note: Annotated[
        str, typer.Option("--note", metavar="TEXT", help="Where it was checked, ticket, limits seen...")
    ] = "",
    expires: Annotated[
        float | None, typer.Option("--expires", metavar="DAYS", help="Days until it must be confirmed again.")
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Record an operator confirmation of what software must not infer (quota, billing, a traffic shift)."""
    from workbench.history.confirmations import new_confirmation
    from workbench.history.store import HistoryStore

    settings = Common(config, store, project_dir, (env,)).load()
    settings.select([env])
    confirmation = new_confirmation(
        env,
        item,
        by=by,
        note=note,
        expires_days=expires,
        config_digest=settings.digest if settings.source else "",
    )
    with HistoryStore.for_config(settings, store) as history:
        history.add_confirmation(confirmation)
        project = history.project_name.describe()
    out.print(f"recorded: {shown(confirmation.describe())} ({shown(env)}, project {shown(project)})")


fixtures = typer.Typer(no_args_is_help=True, help="Known-good response fixtures of a release.")
commands.add_typer(fixtures, name="fixtures")


@fixtures.command(
    "capture",
    cls=WordsCommand,
    epilog=examples("workbench fixtures capture --env staging --release 2026.12.1"),
)
def fixtures_capture(
    env: Annotated[
        str, typer.Option("--env", metavar="NAME", help="The environment to capture from (it must pass now).")
    ],
    release: Annotated[
        str, typer.Option("--release", metavar="RELEASE", help="The release these responses belong to.")
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace this release's fixtures.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Save sanitized known-good responses under data/fixtures/ENV/RELEASE for replay and ablation."""
    from workbench.probes.capture import capture_fixtures

    captured = capture_fixtures(Common(config, store, project_dir, (env,)).load(), env, release, force=force)
    where = f"{shown(captured.label)} in {shown(captured.directory)}"
    out.print(f"captured {len(captured.files)} fixture(s) of {where}")
    out.print(
        f'next: commit them; `response.fixture_replay` replays them (set baseline = "{shown(release)}" to '
        "pin)."
    )


bundle = typer.Typer(
    no_args_is_help=True, help="Rollback bundles: the whole integration contract of a release."
)
commands.add_typer(bundle, name="bundle")


@bundle.command(
    "capture",
    cls=WordsCommand,
    epilog=examples(
        "workbench bundle capture --env staging --release 2026.12.1 --manifest data/integration/manifest.toml"
    ),
)
def bundle_capture(
    env: Annotated[str, typer.Option("--env", metavar="NAME", help="The environment whose release this is.")],
    release: Annotated[
        str, typer.Option("--release", metavar="RELEASE", help="The release name (e.g. a version or tag).")
    ],
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest", metavar="FILE", help="The integration manifest (default: the environment's)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace this release's bundle.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Record the whole contract of a release in data/bundles/ENV/RELEASE.json (never with a secret)."""
    from workbench.history.store import HistoryStore
    from workbench.rollback.advice import hint
    from workbench.rollback.manifest import capture_bundle, manifest_for

    common = Common(config, store, project_dir, (env,))
    settings = common.load()
    manifest = manifest_for(settings, env, manifest)  # none, or a bad one: refused before the store opens
    with HistoryStore.for_config(settings, store) as history:
        captured = capture_bundle(
            settings,
            env,
            release,
            manifest=manifest,
            store=history,
            bundles_dir=settings.settings.bundles_dir,
            force=force,
        )
    missing = [part for part, value in captured.parts.items() if value.get("missing")]
    out.print(f"bundle {shown(captured.label)} written to {shown(captured.path)}")
    if missing:
        out.print(
            f"[yellow]missing parts: {', '.join(missing)}[/]; next: describe them in a manifest "
            "(README, 'Rollback bundles') and capture again with --force."
        )
    else:
        verify = hint(common.options(), "bundle", "verify", captured.label)
        out.print(f"next: commit it; `{shown(verify)}` before you rely on it.")


@bundle.command("verify", cls=WordsCommand, epilog=examples("workbench bundle verify staging/2026.12.1"))
def bundle_verify(
    reference: Annotated[str, typer.Argument(metavar="BUNDLE", help="ENV/RELEASE or a bundle file.")],
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Check every part is present, resolvable and free of secret values; exit 1 if not."""
    from workbench.core.errors import StoreError
    from workbench.history.store import HistoryStore
    from workbench.rollback.bundle import Bundle, resolve_bundle
    from workbench.rollback.plan import verify_bundle

    settings = Common(config, store, project_dir).load()
    loaded = Bundle.load(resolve_bundle(reference, settings.settings.bundles_dir))
    try:
        history: HistoryStore | None = HistoryStore.for_config(settings, store, create=False)
    except StoreError:
        history = None  # no store here: the known-good run is not looked up (verify creates none)
    try:
        checks = verify_bundle(loaded, secrets=settings.key_values(), store=history, project=settings.project)
    finally:
        if history is not None:
            history.close()
    for check in checks:
        mark = "[green]ok[/]  " if check.ok else "[bold red]FAIL[/]"
        out.print(f"{mark} {shown(check.part)}: {shown(check.message)}")
    failed = [check for check in checks if not check.ok]
    out.print(
        f"{shown(loaded.label)}: "
        + (
            "every part present, resolvable and free of secrets"
            if not failed
            else f"{len(failed)} problem(s); fix them and capture again with --force"
        )
    )
    raise typer.Exit(1 if failed else 0)


@bundle.command(
    "diff", cls=WordsCommand, epilog=examples("workbench bundle diff staging/2026.11.3 staging/2026.12.1")
)
def bundle_diff(
    a: Annotated[str, typer.Argument(metavar="A", help="ENV/RELEASE or a bundle file.")],
    b: Annotated[str, typer.Argument(metavar="B", help="ENV/RELEASE or a bundle file.")],
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """List the parts that differ between two bundles (exit 1 when any does)."""
    from workbench.rollback.bundle import Bundle, resolve_bundle
    from workbench.rollback.plan import diff_bundles

    directory = Common(config, store, project_dir).load().settings.bundles_dir
    first = Bundle.load(resolve_bundle(a, directory))
    second = Bundle.load(resolve_bundle(b, directory))
    changes = diff_bundles(first, second)
    for change in changes:
        out.print(f"{change.kind:>13}  {shown(change.summary)}")
    out.print(
        f"{len(changes)} part(s) differ between {shown(first.label)} and {shown(second.label)}"
        if changes
        else f"{shown(first.label)} and {shown(second.label)} record the same contract"
    )
    raise typer.Exit(1 if changes else 0)


@bundle.command(
    "plan",
    cls=WordsCommand,
    epilog=examples(
        "workbench bundle plan --current staging/2026.12.1 --target staging/2026.11.3",
        "workbench bundle plan --current staging/2026.12.1 --target staging/2026.11.3 --state deployed.toml",
    ),
)
def bundle_plan(
    current: Annotated[
        str,
        typer.Option("--current", metavar="RELEASE", help="The release deployed now (ENV/RELEASE or file)."),
    ],
    target: Annotated[str, typer.Option("--target", metavar="RELEASE", help="The release to roll back to.")],
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            metavar="FILE",
            help="What is deployed now: a manifest (.toml) or a bundle file, to check a rollback.",
        ),
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """What a rollback to TARGET must restore; with --state, whether it was partial (exit 1)."""
    from workbench.rollback.bundle import Bundle, resolve_bundle
    from workbench.rollback.manifest import deployed_bundle
    from workbench.rollback.plan import plan_rollback

    settings = Common(config, store, project_dir).load()
    directory = settings.settings.bundles_dir
    first = Bundle.load(resolve_bundle(current, directory))
    second = Bundle.load(resolve_bundle(target, directory))
    deployed = None if state is None else deployed_bundle(state, settings, first.env, store=store)
    plan = plan_rollback(first, second, state=deployed)
    for line in plan.lines():
        out.print(shown(line))
    raise typer.Exit(1 if plan.partial else 0)
