"""Framers: split a serial byte stream into protocol frames, dropping and counting junk."""

from typing import Protocol

MAX_FRAME = 256


class Framer(Protocol):
    """Splits a byte stream into frames; `dropped` counts bytes thrown away as junk."""

    dropped: int

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return every complete frame, in order."""
        ...


class LineFramer:
    """Frames that end with a terminator (e.g. CR LF); overlong lines are dropped whole."""

    def __init__(self, terminator: bytes, max_len: int = MAX_FRAME) -> None:
        self.terminator, self.max_len = terminator, max_len
        self.dropped = 0
        self._buf = bytearray()
        self._skipping = False  # inside an overlong line: drop up to its terminator

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return complete lines including their terminator."""
        self._buf += data
        frames: list[bytes] = []
        if self._skipping:
            end = self._buf.find(self.terminator)
            cut = len(self._buf) if end < 0 else end + len(self.terminator)
            self.dropped += cut
            del self._buf[:cut]
            self._skipping = end < 0
        while True:
            end = self._buf.find(self.terminator)
            if end < 0:
                break
            end += len(self.terminator)
            frame = bytes(self._buf[:end])
            del self._buf[:end]
            if len(frame) > self.max_len:
                self.dropped += len(frame)
            else:
                frames.append(frame)
        if len(self._buf) > self.max_len:
            self.dropped += len(self._buf)
            self._buf.clear()
            self._skipping = True
        return frames


class _StartFramer:
    """Shared by framers whose frames begin with a start byte: junk before it is dropped."""

    start: bytes
    dropped: int
    _buf: bytearray

    def _at_start(self) -> bool:
        """Drop (and count) the bytes before the next start byte; return whether one is there."""
        begin = self._buf.find(self.start)
        if begin < 0:
            self.dropped += len(self._buf)
            self._buf.clear()
            return False
        if begin:
            self.dropped += begin
            del self._buf[:begin]
        return True


class DelimitedFramer(_StartFramer):
    """Frames from a start byte to an end byte; bytes outside frames are junk.

    With `resync`, a start byte inside an open frame abandons it and starts a new one.
    """

    def __init__(
        self, start: bytes, end: bytes, max_len: int = MAX_FRAME, resync: bool = True
    ) -> None:
        self.start, self.end, self.max_len, self.resync = start, end, max_len, resync
        self.dropped = 0
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return complete start..end frames."""
        self._buf += data
        frames: list[bytes] = []
        while True:
            if not self._at_start():
                break
            end = self._buf.find(self.end, 1)
            restart = self._buf.find(self.start, 1) if self.resync else -1
            if restart > 0 and (end < 0 or restart < end):
                self.dropped += restart
                del self._buf[:restart]
                continue
            if end < 0:
                if len(self._buf) > self.max_len:
                    self.dropped += len(self._buf)
                    self._buf.clear()
                break
            frames.append(bytes(self._buf[: end + 1]))
            del self._buf[: end + 1]
        return frames


class FixedFramer(_StartFramer):
    """Fixed-length frames that begin with `start` and carry `end` at a known offset."""

    def __init__(self, start: bytes, end: bytes, end_at: int, length: int) -> None:
        self.start, self.end, self.end_at, self.length = start, end, end_at, length
        self.dropped = 0
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return complete frames whose end byte sits where it must."""
        self._buf += data
        frames: list[bytes] = []
        while True:
            if not self._at_start():
                break
            if len(self._buf) < self.length:
                break
            if self._buf[self.end_at : self.end_at + 1] != self.end:
                self.dropped += 1
                del self._buf[:1]
                continue
            frames.append(bytes(self._buf[: self.length]))
            del self._buf[: self.length]
        return frames
