"""Device sections of station configs that several end-to-end tests share."""

from pathlib import Path


def camera_station(work: Path, camera_port: int) -> str:
    """Return the TOML of a station's devices: a serial scale and a camera (no hand scanner)."""
    return (
        f'[[stations.devices]]\nkind = "scale"\nid = "scale"\nprotocol = "mt-sics"\n'
        f'port = "{work / "scale"}"\nsettle_ms = 200\n'
        f'[[stations.devices]]\nkind = "camera"\nid = "camera"\n'
        f'source = "http://127.0.0.1:{camera_port}/stream.mjpg"\nfps = 6\ndownscale = 0.5\n'
        f'symbologies = ["code128", "gs1-128"]\nevidence_dir = "{work / "evidence"}"\n'
    )
