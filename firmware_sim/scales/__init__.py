"""Scale simulators, one per wire protocol, on pseudo-terminals (and optionally TCP)."""

from firmware_sim.scales.base import ScaleSim
from firmware_sim.scales.mt_sics import MtSicsSim
from firmware_sim.scales.others import CasSim, NciSim, SmaSim
from firmware_sim.scales.physics import PhysicalScale, Snapshot
from firmware_sim.scales.toledo import Toledo8217Sim, ToledoContinuousSim

SIMULATORS: dict[str, type[ScaleSim]] = {
    cls.protocol: cls
    for cls in (MtSicsSim, Toledo8217Sim, ToledoContinuousSim, CasSim, SmaSim, NciSim)
}

__all__ = ["SIMULATORS", "PhysicalScale", "ScaleSim", "Snapshot", "make_scale_sim"]


def make_scale_sim(protocol: str, link: str, **options: object) -> ScaleSim:
    """Create (not start) the simulator for `protocol` on the symlink `link`."""
    try:
        cls = SIMULATORS[protocol]
    except KeyError:
        raise ValueError(
            f"unknown protocol {protocol!r} (known: {', '.join(SIMULATORS)})"
        ) from None
    return cls(link, **options)  # type: ignore[arg-type]
