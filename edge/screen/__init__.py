"""The station screen: a local full-screen page for the dock worker, fed by server-sent events."""

from edge.screen.hub import ScreenHub
from edge.screen.server import ScreenServer

__all__ = ["ScreenHub", "ScreenServer"]
