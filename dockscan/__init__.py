"""dockscan: loss-free dock scanning for parcel hubs (shared core)."""

__version__ = "0.1.0"
