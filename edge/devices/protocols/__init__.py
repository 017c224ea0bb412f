"""Scale wire protocols: pure framers and parsers, one module per family, and a registry."""

from dockscan.errors import ConfigError
from edge.devices.protocols.base import Parsed, Reading, Reply, ScaleProtocol, to_kg
from edge.devices.protocols.cas import Cas
from edge.devices.protocols.mt_sics import MtSics
from edge.devices.protocols.nci import Nci
from edge.devices.protocols.sma import Sma
from edge.devices.protocols.toledo import Toledo8217, ToledoContinuous

PROTOCOLS: dict[str, type[ScaleProtocol]] = {
    cls.name: cls for cls in (MtSics, Toledo8217, ToledoContinuous, Cas, Sma, Nci)
}

__all__ = ["PROTOCOLS", "Parsed", "Reading", "Reply", "ScaleProtocol", "get_protocol", "to_kg"]


def get_protocol(name: str) -> ScaleProtocol:
    """Return a protocol instance by its config name (e.g. "mt-sics")."""
    try:
        return PROTOCOLS[name]()
    except KeyError:
        known = ", ".join(sorted(PROTOCOLS))
        reason = f"unknown scale protocol {name!r} (known: {known})"
        raise ConfigError("", "protocol", reason) from None
