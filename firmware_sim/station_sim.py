"""SimulatedStation: a scale with a scanner and/or a camera, driven together, parcel by parcel."""

import logging
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from firmware_sim.codes import SimCode, random_code
from firmware_sim.scales import ScaleSim, make_scale_sim
from firmware_sim.scanner import ScannerSim
from firmware_sim.station_camera import StationCamera

logger = logging.getLogger(__name__)


@dataclass
class SimParcel:
    """Ground truth for one simulated parcel."""

    index: int
    code: SimCode
    kg: float | None  # None: nothing was placed (no-weight)
    scanned: bool  # False: no-read (the scanner types nothing, the camera label is unreadable)
    label: str = ""  # what the camera showed: readable, blank or damaged ("" without a camera)
    t_start: float = 0.0
    t_removed: float = 0.0


@dataclass
class StationMix:
    """How parcels vary: fractions of no-read, no-weight and invalid check digits."""

    no_read: float = 0.1
    no_weight: float = 0.05
    invalid: float = 0.05
    weight_kg: tuple[float, float] = (0.3, 25.0)


@dataclass
class StationTiming:
    """Parcel timing: a slot of `interval` seconds (fixed or a range) per parcel."""

    interval: tuple[float, float] = (1.0, 3.0)
    scan_after_s: float = 0.2
    gap_s: float = 0.15  # platform empty before the next parcel


@dataclass(frozen=True)
class Scripted:
    """A parcel of a script: its code, its weight, and whether its label can be read."""

    code: str
    kg: float
    readable: bool = True


def read_script(path: str | Path) -> list[Scripted]:
    """Read a parcel script: one `code,kg[,unread]` line per parcel, in order (# comments).

    `unread` presents the parcel with a label nobody can read: the scanner types nothing and
    the camera shows it blank or damaged (a no-read for the clearing desk).
    """
    script = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        code, _, rest = line.partition(",")
        kg, _, flag = rest.partition(",")
        try:
            weight = float(kg)
        except ValueError:
            raise ValueError(f"{path}:{n}: want `code,kg[,unread]`, got {line[:60]!r}") from None
        if not code or not 0 < weight <= 100 or flag.strip() not in ("", "unread"):
            raise ValueError(
                f"{path}:{n}: want a code, 0 < kg <= 100 and maybe `unread`, got {line[:60]!r}"
            )
        script.append(Scripted(code, weight, flag.strip() != "unread"))
    return script


class SimulatedStation:
    """Place a parcel, type its code and/or show its label while it settles, remove it; repeat."""

    def __init__(
        self,
        scale: ScaleSim,
        scanner: ScannerSim | None,
        *,
        camera: StationCamera | None = None,
        timing: StationTiming | None = None,
        mix: StationMix | None = None,
        count: int | None = None,
        seed: int | None = None,
        own_devices: bool = False,
        script: list[Scripted] | None = None,
    ) -> None:
        if scanner is None and camera is None:
            raise ValueError("a station needs a scanner, a camera or both")
        self.scale, self.scanner, self.camera = scale, scanner, camera
        self.timing, self.mix = timing or StationTiming(), mix or StationMix()
        self.count, self.own_devices = count, own_devices
        self.script = script or []  # parcels presented first, then random ones
        self.parcels: list[SimParcel] = []
        self.done = threading.Event()
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def on_links(
        cls,
        scale_link: str | Path,
        scanner_link: str | Path | None,
        *,
        protocol: str = "mt-sics",
        terminator: str = "cr",
        camera_port: int | None = None,
        camera_fps: float = 6.0,
        seed: int | None = None,
        **kwargs: object,
    ) -> "SimulatedStation":
        """Create a station owning a new scale, a scanner (unless no link) and a camera (a port).

        camera_port 0 picks a free port; the stream's URL is then `station.camera.url`.
        """
        scale = make_scale_sim(protocol, str(scale_link), seed=seed)
        scanner = None
        if scanner_link is not None:
            scanner = ScannerSim(scanner_link, terminator=terminator, seed=seed)
        camera = None
        if camera_port is not None:
            camera = StationCamera(camera_port, fps=camera_fps, seed=seed)
        devices = {"camera": camera, "own_devices": True}
        return cls(scale, scanner, seed=seed, **devices, **kwargs)  # type: ignore[arg-type]

    def start(self) -> None:
        """Start the devices (if owned) and the parcel thread."""
        if self.own_devices:
            self.scale.start()
            if self.scanner is not None:
                self.scanner.start()
            if self.camera is not None:
                self.camera.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-station", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the parcel thread and the devices it owns."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if self.own_devices:
            if self.camera is not None:
                self.camera.stop()
            if self.scanner is not None:
                self.scanner.stop()
            self.scale.stop()

    def truth(self) -> list[SimParcel]:
        """Return a copy of the parcels produced so far."""
        with self._lock:
            return list(self.parcels)

    def _run(self) -> None:
        """Run parcel slots until stopped or `count` parcels are done."""
        index = 0
        while not self._stop.is_set() and (self.count is None or index < self.count):
            self._parcel(index)
            index += 1
        self.done.set()

    def _parcel(self, index: int) -> None:
        """Run one slot: place, scan while settling, remove, wait for the next slot."""
        rng, mix, timing = self._rng, self.mix, self.timing
        slot = rng.uniform(*timing.interval)
        code = random_code(rng, valid=rng.random() >= mix.invalid)
        weighed = rng.random() >= mix.no_weight
        scanned = rng.random() >= mix.no_read or not weighed  # always scan a no-weight parcel
        kg = round(rng.uniform(*mix.weight_kg), 3) if weighed else None
        if index < len(self.script):
            line = self.script[index]
            code, kg, weighed = SimCode(line.code, "code128", "scripted", True), line.kg, True
            scanned = scanned and line.readable
        start = time.monotonic()
        parcel = SimParcel(index, code, kg, scanned, t_start=start)
        if self.camera is not None:  # the parcel comes into view as it is put down
            parcel.label = self.camera.show(code.text, code.symbology, readable=scanned)
        with self._lock:
            self.parcels.append(parcel)
        if kg is not None:
            self.scale.place(kg)
        if self._stop.wait(timing.scan_after_s):
            return
        if scanned and self.scanner is not None:
            self.scanner.type_code(code)
        self._stop.wait(max(0.0, slot - timing.gap_s - timing.scan_after_s))
        if kg is not None:
            self.scale.remove()
        if self.camera is not None:
            self.camera.clear()
        parcel.t_removed = time.monotonic()
        logger.debug("parcel %d: %s kg=%s scanned=%s", index, code.text, kg, scanned)
        self._stop.wait(max(0.0, start + slot - time.monotonic()))
