"""Tests of workbench.cli: every verb in-process (typer's CliRunner); a few end to end, as a
shell runs them (a fresh process: the README's commands, exit codes, signals)."""
