"""`dockscan init`: a starter site config written from the packaged example."""

import re
import tomllib
from pathlib import Path

from dockscan.config import parse_config
from dockscan.errors import DockscanError

CONFIG_DIR = Path(__file__).resolve().with_name("configs")
EXAMPLE = "dockscan.example.toml"
EXAMPLE_STATION = "dock07-a"
SCREEN_BASE_PORT = 8100  # station N's screen listens on 127.0.0.1:8100+N
MAX_STATIONS = 99


def packaged_config(name: str) -> Path:
    """Return the path of a config file shipped inside the package (demo.toml, the example)."""
    return CONFIG_DIR / name


def _sub(text: str, pattern: str, repl: str) -> str:
    """Replace exactly one match of `pattern`, so a changed example fails loudly."""
    new, count = re.subn(pattern, repl, text, flags=re.MULTILINE)
    if count != 1:
        raise DockscanError(f"packaged {EXAMPLE}: expected one match of {pattern!r}, got {count}")
    return new


def _station(block: str, index: int, comments: bool) -> str:
    """Return the example's station block renamed to dock<NN>, optionally without comments."""
    sid, dock = f"dock{index:02d}", f"{index:02d}"
    block = _sub(block, rf'^id = "{EXAMPLE_STATION}"', f'id = "{sid}"')
    block = _sub(block, r'^dock = "07"', f'dock = "{dock}"')
    block = _sub(block, rf"/{EXAMPLE_STATION}-outbox\.db", f"/{sid}-outbox.db")
    block = _sub(block, r'^screen_bind = "127\.0\.0\.1:\d+"',
                 f'screen_bind = "127.0.0.1:{SCREEN_BASE_PORT + index}"')  # fmt: skip
    block = _sub(block, r'^(evidence_dir = "[^"]*)"', rf'\1/{sid}"')
    if not comments:
        block = re.sub(r"[ \t]+# .*$", "", block, flags=re.MULTILINE)
    head = (
        f"# Station {sid} at dock {dock}: set each device's port or source to this dock's\n"
        "# hardware and delete the devices it does not have.\n"
    )
    return head + block.strip() + "\n"


def render_site(site: str, stations: int, name: str = "site.toml") -> str:
    """Render a starter config for `site` with `stations` station sections, and validate it."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", site):
        raise DockscanError(f"--site must be 1-64 of A-Z a-z 0-9 _ -, got {site!r}")
    if not 1 <= stations <= MAX_STATIONS:
        raise DockscanError(f"--stations must be between 1 and {MAX_STATIONS}, got {stations}")
    try:
        example = packaged_config(EXAMPLE).read_text()
    except OSError as exc:
        raise DockscanError(
            f"cannot read the packaged example ({exc}); reinstall dockscan"
        ) from None
    head, sep, block = example.partition("\n[[stations]]\n")
    if not sep:
        raise DockscanError(f"packaged {EXAMPLE} has no [[stations]] section")
    head = _sub(head, r"^# dockscan site configuration\..*$",
                f"# dockscan site configuration for site {site}, written by `dockscan init`.\n"
                f"# Validate with: dockscan check-config {name}")  # fmt: skip
    head = _sub(head, r'^id = "LGG"', f'id = "{site}"')
    head = _sub(head, r'^name = "[^"]*"', f'name = "{site}"')
    parts = [head.rstrip() + "\n"]
    parts += [_station("[[stations]]\n" + block, i, i == 1) for i in range(1, stations + 1)]
    text = "\n".join(parts)
    cfg = parse_config(tomllib.loads(text), f"<dockscan init --site {site}>")
    if cfg.site.id != site or len(cfg.stations) != stations:
        raise DockscanError(f"packaged {EXAMPLE} did not render {stations} stations of {site}")
    return text


def write_site(path: Path, site: str, stations: int, force: bool) -> None:
    """Write the starter config to `path`; refuse to overwrite it unless `force`."""
    text = render_site(site, stations, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "w" if force else "x") as fh:
            fh.write(text)
    except FileExistsError:
        raise DockscanError(f"{path} exists; use --force to overwrite it") from None
