"""Device drivers and the factory that builds them from config."""

from dockscan.config import CameraConfig, ScaleConfig, ScannerConfig
from edge.devices.base import Device, DeviceListener


def build_device(
    cfg: ScaleConfig | ScannerConfig | CameraConfig, listener: DeviceListener
) -> Device:
    """Create the driver for one configured device (not started)."""
    if isinstance(cfg, ScaleConfig):
        from edge.devices.scale import ScaleDevice

        return ScaleDevice(cfg, listener)
    if isinstance(cfg, ScannerConfig):
        from edge.devices.scanner import ScannerDevice

        return ScannerDevice(cfg, listener)
    from edge.devices.camera import CameraDevice

    return CameraDevice(cfg, listener)
