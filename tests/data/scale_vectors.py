"""Shared sample frames: the edge parsers must parse them and the simulators must produce them.

Each vector is taken from its protocol's documentation (frames listed in docs/devices.md):
`request` makes the simulator send `frame` when its scale is in `state`; `None` means streamed.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Vector:
    """One frame on the wire, the simulator state that produces it and what it parses to."""

    protocol: str
    frame: bytes
    request: bytes | None
    expect: dict[str, Any]
    sim: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Return a readable test id."""
        return f"{self.protocol}:{self.frame!r}"


G = {"unit": "g", "division": 0.01, "capacity": 6000.0}
KG2 = {"unit": "kg", "division": 0.01, "capacity": 150.0}
KG3 = {"unit": "kg", "division": 0.001, "capacity": 30.0}
KG5 = {"unit": "kg", "division": 0.005, "capacity": 60.0}
LB5 = {"unit": "lb", "division": 0.005, "capacity": 60.0}

VECTORS = [
    # MT-SICS
    Vector("mt-sics", b"S S     100.00 g\r\n", b"S\r\n",
           {"value": "100.00", "unit": "g", "stable": True}, G, {"load": 100.0}),
    Vector("mt-sics", b"S D     114.87 kg\r\n", b"SI\r\n",
           {"value": "114.87", "unit": "kg", "stable": False},
           KG2, {"load": 114.87, "motion": True}),
    Vector("mt-sics", b"S +\r\n", b"SI\r\n",
           {"value": None, "overload": True, "stable": False}, KG2, {"load": 200.0}),
    Vector("mt-sics", b"S -\r\n", b"SI\r\n",
           {"value": None, "underload": True, "stable": False}, KG2, {"load": -5.0}),
    Vector("mt-sics", b"S I\r\n", b"S\r\n", {"reply": ("S", "I")}, KG2, {"motion": True}),
    Vector("mt-sics", b"ES\r\n", b"XYZ\r\n", {"reply": ("ES", "")}, KG2),
    Vector("mt-sics", b"T S      2.486 g\r\n", b"T\r\n",
           {"reply": ("T", "S")}, {**G, "division": 0.001}, {"load": 2.486}),
    Vector("mt-sics", b"Z A\r\n", b"Z\r\n", {"reply": ("Z", "A")}, KG2, {"load": 0.0}),
    Vector("mt-sics", b"TAC A\r\n", b"TAC\r\n", {"reply": ("TAC", "A")}, KG2),
    Vector("mt-sics", b'I4 A "0123456789"\r\n', b"I4\r\n", {"reply": ("I4", "A")}, KG2),
    Vector("mt-sics", b'I4 A "0123456789"\r\n', b"@\r\n", {"reply": ("I4", "A")}, KG2),
    # Toledo 8217
    Vector("toledo-8217", b"\x0201.234\r", b"W",
           {"value": "01.234", "unit": "kg", "stable": True, "net": False}, KG3, {"load": 1.234}),
    Vector("toledo-8217", b"\x0201.234N\r", b"W",
           {"value": "01.234", "unit": "kg", "net": True}, KG3, {"load": 2.234, "tare": 1.0}),
    Vector("toledo-8217", b"\x02?A\r", b"W",
           {"value": None, "stable": False}, KG3, {"load": 5.0, "motion": True}),
    Vector("toledo-8217", b"\x02?D\r", b"W",
           {"value": None, "stable": True, "underload": True}, KG3, {"load": -0.5}),
    Vector("toledo-8217", b"\x02E\r", b"E", {"reply": ("E", "A")}, KG3),
    # Toledo continuous (streamed)
    Vector("toledo-continuous", b"\x02,0 001234000000\r+", None,
           {"value": "12.34", "unit": "kg", "stable": True}, KG2, {"load": 12.34}),
    Vector("toledo-continuous", b"\x02,8 001234000000\r#", None,
           {"value": "12.34", "unit": "kg", "stable": False}, KG2, {"load": 12.34, "motion": True}),
    # CAS (streamed)
    Vector("cas", b"ST,GS,+0001.23kg\r\n", None,
           {"value": "+0001.23", "unit": "kg", "stable": True, "net": False}, KG2, {"load": 1.23}),
    Vector("cas", b"US,NT,-0000.50kg\r\n", None,
           {"value": "-0000.50", "unit": "kg", "stable": False, "net": True},
           KG2, {"load": 0.0, "tare": 0.5, "motion": True}),
    # SMA
    Vector("sma", b"\n 1G       5.025lb \r", b"\nW\r",
           {"value": "5.025", "unit": "lb", "stable": True}, LB5, {"load": 5.025}),
    Vector("sma", b"\n 1GM     12.345kg \r", b"\nW\r",
           {"value": "12.345", "unit": "kg", "stable": False},
           KG5, {"load": 12.345, "motion": True}),
    Vector("sma", b"\nZ1G       0.000kg \r", b"\nW\r",
           {"value": "0.000", "unit": "kg", "at_zero": True}, KG5, {"load": 0.0}),
    Vector("sma", b"\n?\r", b"\nX\r", {"reply": ("?", "")}, KG5),
    # Avery Weigh-Tronix NCI
    Vector("nci", b"\n01.250LB\r\nS00\r\x03", b"W\r",
           {"value": "01.250", "unit": "LB", "stable": True}, LB5, {"load": 1.25}),
    Vector("nci", b"\nS20\r\x03", b"S\r",
           {"value": None, "at_zero": True, "stable": True}, LB5, {"load": 0.0}),
    Vector("nci", b"\nS02\r\x03", b"W\r",
           {"value": None, "overload": True}, LB5, {"load": 70.0}),
    Vector("nci", b"\n?\r\x03", b"X\r", {"reply": ("?", "")}, LB5),
]  # fmt: skip

BAD_FRAMES = [
    ("mt-sics", b"S S 12,5 kg\r\n"),
    ("mt-sics", b"S S     100.00 parsec\r\n"),
    ("mt-sics", b"S Q 1.0 kg\r\n"),
    ("mt-sics", b"S S 1.0\r\n"),
    ("toledo-8217", b"\x0212.3456\r"),
    ("toledo-8217", b"\x02?\x01\r"),
    ("toledo-continuous", b"\x02,0 001234000000\r*"),
    ("toledo-continuous", b"\x02,0 0012a4000000\r+"),
    ("cas", b"XX,GS,+0001.23kg\r\n"),
    ("cas", b"ST,GS,+0001.23\r\n"),
    ("sma", b"\n 1G       5.025lb"),
    ("sma", b"\n 1X       5.025lb \r"),
    ("nci", b"\n01.250LB\r\nS0\r\x03"),
    ("nci", b"\nabc\r\nS00\r\x03"),
]


def apply_state(sim: Any, state: dict[str, Any]) -> None:
    """Put a noiseless simulator's platform into `state` (load, tare, motion, over/underload)."""
    sim.scale.hold(state.get("load", 0.0))
    sim.scale.tare = state.get("tare", 0.0)
    sim.set_faults(
        overload=state.get("overload", False),
        underload=state.get("underload", False),
        stuck_motion=state.get("motion", False),
    )
