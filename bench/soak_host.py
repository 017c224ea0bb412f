"""Host several stations' edge agents in one process (the soak runs 100 stations on 2 cores).

Each station is a full EdgeAgent (station logic, SQLite outbox, paho publisher, acks) fed by its
own synthetic scan+weight generator; only the Python interpreter is shared.

    python bench/soak_host.py CONFIG COUNT RATE STATION...
"""

import logging
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dockscan.config import load_config
from dockscan.logs import setup
from edge.agent import EdgeAgent


def main() -> None:
    """Start one agent per station id, run until SIGTERM, shut every agent down."""
    config, count, rate, *stations = sys.argv[1:]
    setup(-1)
    logging.getLogger("paho").setLevel(logging.CRITICAL)
    cfg = load_config(config)
    agents = [
        EdgeAgent(cfg, sid, synthetic_rate=float(rate), synthetic_count=int(count))
        for sid in stations
    ]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    for agent in agents:
        agent.start()
    stop.wait()
    for agent in agents:
        agent.shutdown()


if __name__ == "__main__":
    main()
