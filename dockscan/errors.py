"""Typed errors raised by library code; only the CLI turns them into messages."""


class DockscanError(Exception):
    """Base class for every error dockscan raises on purpose."""

    exit_code = 1


class ConfigError(DockscanError):
    """A configuration file is unreadable or invalid; names the file and key path."""

    exit_code = 2

    def __init__(self, path: str, key: str, reason: str) -> None:
        self.path, self.key, self.reason = path, key, reason
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {reason}")


class DeviceError(DockscanError):
    """A device could not be opened or spoke something we cannot parse."""


class FrameError(DeviceError):
    """A frame from a device is malformed (bad checksum, truncated, unknown)."""


class ContractError(DockscanError):
    """A payload does not satisfy the MQTT contract."""


class BrokerError(DockscanError):
    """The MQTT broker could not be reached or refused us."""


class StoreError(DockscanError):
    """A local database could not be opened or written."""
