"""`dockscan edge run` and `dockscan edge outbox`: help, typed errors as one line and exit codes."""

from pathlib import Path

from click.testing import CliRunner

from dockscan.cli import cli


def write(tmp_path: Path, body: str = "") -> Path:
    cfg = tmp_path / "site.toml"
    cfg.write_text(
        '[site]\nid = "s1"\n[[stations]]\nid = "st1"\ndock = "d1"\n'
        f'outbox = "{tmp_path}/o.db"\n{body}'
    )
    return cfg


def test_help_has_examples() -> None:
    for args in (["edge", "--help"], ["edge", "run", "--help"], ["edge", "outbox", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Example:" in result.output
    run_help = CliRunner().invoke(cli, ["edge", "run", "--help"]).output
    assert "--synthetic-count" in run_help and "--exit-when-drained" in run_help


def test_unknown_station_is_a_one_line_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["edge", "run", "-c", str(write(tmp_path)), "--station", "x"])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: ") and "no station 'x' (known: st1)" in line


def test_bad_code_pattern_names_the_key(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[stations.code_patterns]\nbroken = "(unclosed"\n')
    result = CliRunner().invoke(cli, ["edge", "run", "-c", str(cfg), "--station", "st1"])
    assert result.exit_code == 2 and "stations.st1.code_patterns.broken" in result.output


def test_outbox_command_reports_missing_and_present(tmp_path: Path) -> None:
    cfg = str(write(tmp_path))
    missing = CliRunner().invoke(cli, ["edge", "outbox", "-c", cfg, "--station", "st1"])
    assert missing.exit_code == 1 and "no outbox at" in missing.output
    from edge.outbox import Outbox

    box = Outbox(tmp_path / "o.db")
    box.add("t", lambda seq, eid: b"{}")
    box.close()
    present = CliRunner().invoke(cli, ["edge", "outbox", "-c", cfg, "--station", "st1"])
    assert present.exit_code == 0 and "depth 1 (pending 1, sent 0)" in present.output
