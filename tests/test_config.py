"""Config loading: the example files validate; broken files name the file, key path and reason."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from dockscan.cli import cli
from dockscan.config import load_config
from dockscan.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

STATION = """
[site]
id = "LGG"
[[stations]]
id = "dock01"
dock = "01"
[[stations.devices]]
kind = "scale"
id = "scale"
protocol = "mt-sics"
port = "/dev/ttyUSB0"
"""


@pytest.mark.parametrize("name", ["dockscan.example.toml", "demo.toml"])
def test_shipped_configs_are_valid(name: str) -> None:
    cfg = load_config(REPO / "dockscan" / "configs" / name)
    assert cfg.site.id == "LGG"


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        ("baud = 9600\n", "stations[0].devices[0].baud", "unknown key"),
        ("min_kg = 70.0\n", "stations[0].devices[0]", "min_kg must be below max_kg"),
    ],
)
def test_device_errors_name_the_key_path(tmp_path: Path, extra: str, key: str, reason: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(STATION + extra)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.path == str(path)
    assert exc.value.key == key
    assert reason in exc.value.reason


def test_wrong_protocol_is_named(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(STATION.replace("mt-sics", "modbus"))
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.key == "stations[0].devices[0].protocol"
    assert "mt-sics" in exc.value.reason


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[site\nid=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_duplicate_station_ids_rejected(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(STATION + STATION.split("\n", 3)[3])
    with pytest.raises(ConfigError, match="station ids must be unique"):
        load_config(path)


def test_broker_url_and_credentials_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        '[site]\nid="LGG"\n[broker]\nurl="mqtts://b.local"\n'
        'username_env="T_USER"\npassword_env="T_PASS"\n'
    )
    monkeypatch.setenv("T_USER", "dock07")
    monkeypatch.setenv("T_PASS", "s3cret")
    broker = load_config(path).broker
    assert (broker.host, broker.port, broker.tls) == ("b.local", 8883, True)
    assert broker.credentials() == ("dock07", "s3cret")


def test_check_config_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        cli, ["check-config", str(REPO / "dockscan" / "configs" / "dockscan.example.toml")]
    )
    assert ok.exit_code == 0, ok.output
    assert "ok (site LGG, 1 stations, 3 devices)" in ok.output
    bad = tmp_path / "bad.toml"
    bad.write_text(STATION.replace('port = "/dev/ttyUSB0"', 'port = ""'))
    result = runner.invoke(cli, ["check-config", str(bad)])
    assert result.exit_code == 2
    assert f"error: {bad}: stations[0].devices[0].port:" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("broker", "key", "reason"),
    [
        ('urls = ["mqtt://a:1883", "mqtts://b:8883"]', "broker.urls", "same scheme"),
        ('urls = ["mqtt://a:1883", "http://b"]', "broker.urls", "mqtt://host:1883"),
        ('transport = "nats"\nnats_urls = ["nats://a:4222"]', "broker.transport", "3.1.1"),
        ('protocol = "3.1.1"\ntransport = "nats"', "broker.nats_urls", "required"),
        ('protocol = "3.1.1"\ntransport = "nats"\nnats_urls = ["a:4222"]', "broker.nats_urls",
         "nats://host:4222"),
    ],
)  # fmt: skip
def test_broker_tier_errors_name_key_and_file(
    tmp_path: Path, broker: str, key: str, reason: str
) -> None:
    path = tmp_path / "site.toml"
    path.write_text(f'[site]\nid = "LGG"\n[broker]\n{broker}\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and key in str(err.value) and reason in str(err.value)


def test_broker_urls_list_the_failover_nodes(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        '[site]\nid = "LGG"\n[broker]\nurls = ["mqtt://n1:1883", "mqtt://n2"]\n'
        'protocol = "3.1.1"\ntransport = "nats"\nnats_urls = ["nats://n1:4222"]\n'
    )
    broker = load_config(path).broker
    assert broker.endpoints == [("n1", 1883), ("n2", 1883)]
    assert (broker.host, broker.port, broker.tls) == ("n1", 1883, False)
