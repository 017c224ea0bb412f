"""Every command has help with an example, and the README names every command."""

from pathlib import Path

import click
from click.testing import CliRunner

from dockscan.cli import cli

REPO = Path(__file__).resolve().parents[1]


def all_commands() -> list[tuple[str, click.Command]]:
    """Return (path, command) for every command under the root, groups included."""
    out: list[tuple[str, click.Command]] = []

    def walk(prefix: str, group: click.Group) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None, name
            path = f"{prefix} {name}".strip()
            out.append((path, cmd))
            if isinstance(cmd, click.Group):
                walk(path, cmd)

    walk("", cli)
    return out


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    missing = []
    for path, _ in all_commands():
        result = runner.invoke(cli, [*path.split(), "--help"])
        assert result.exit_code == 0, (path, result.output)
        if "Example:" not in result.output:
            missing.append(path)
    assert not missing, f"commands without an Example: {missing}"


def test_readme_names_every_leaf_command() -> None:
    readme = (REPO / "README.md").read_text()
    leaves = [path for path, cmd in all_commands() if not isinstance(cmd, click.Group)]
    undocumented = [p for p in leaves if f"dockscan {p}" not in readme and f"`{p}`" not in readme]
    assert not undocumented, f"README does not mention: {undocumented}"


def test_version_and_unknown_command() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).output.startswith("dockscan, version")
    assert runner.invoke(cli, ["no-such-command"]).exit_code == 2
