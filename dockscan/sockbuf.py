"""A buffered socket for paho: fewer system calls per message on a busy subscription.

paho 2.x reads each packet with three or more `recv` calls (the fixed header byte, each byte of
the remaining length, then the body) and writes each PUBACK with its own `send` plus a wake-up
byte on its socket pair. Wrapped, one `recv` of up to 64 KiB serves a few hundred QoS 1 PUBLISH
packets, `pending()` tells paho's loop (and ours) that buffered bytes wait to be parsed, and
`BufferedClient.ack_many` writes a whole batch of PUBACKs with one `send`.
"""

import contextlib
import select
import socket
import ssl
import struct
import time
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt

READ_SIZE = 64 * 1024
SEND_TIMEOUT_S = 10.0
PUBACK = struct.Struct("!BBH")  # fixed header 0x40, remaining length 2, packet id


class BufferedSocket:
    """Wrap a socket (plain, TLS or websocket): buffered `recv`, everything else passed through."""

    def __init__(self, sock: Any, read_size: int = READ_SIZE) -> None:
        self._sock = sock
        self._read_size = read_size
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        """Return up to `bufsize` bytes, from the buffer or one large read of the socket."""
        if self._pos >= len(self._buf):
            data = self._sock.recv(max(bufsize, self._read_size))  # may raise BlockingIOError
            if len(data) <= bufsize:
                return data  # also b"" at end of stream
            self._buf, self._pos = data, 0
        end = self._pos + bufsize
        out = self._buf[self._pos : end]
        self._pos = min(end, len(self._buf))
        return out

    def pending(self) -> int:
        """Return the bytes readable without waiting: ours plus the TLS layer's."""
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._buf) - self._pos + inner

    def send_all(self, data: bytes, timeout: float = SEND_TIMEOUT_S) -> None:
        """Write all of `data` on the non-blocking socket, waiting for room; OSError on timeout."""
        view, deadline = memoryview(data), time.monotonic() + timeout
        while view:
            try:
                view = view[self._sock.send(view) :]
                continue
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"socket send blocked for {timeout:g} s")
            select.select([], [self._sock], [], left)

    def __getattr__(self, name: str) -> Any:
        """Pass send, fileno, close, setsockopt and the rest to the wrapped socket."""
        return getattr(self._sock, name)


class BufferedClient(mqtt.Client):
    """A paho client whose connections go through a `BufferedSocket`."""

    def _create_socket(self) -> Any:
        """Open the connection as paho does, then wrap it."""
        return BufferedSocket(super()._create_socket())

    def pending(self) -> int:
        """Return the received bytes waiting to be parsed (0 when not connected)."""
        sock = self.socket()
        return sock.pending() if isinstance(sock, BufferedSocket) else 0

    def ack_many(self, acks: Iterable[tuple[int, int]]) -> None:
        """Acknowledge (mid, qos) messages (manual ack mode): QoS 1 in one write when possible.

        The PUBACKs go straight to the socket only when paho has nothing queued to write, so
        they can never split one of its packets; otherwise, and for QoS 2, paho sends them.
        """
        acks = list(acks)
        sock = self.socket()
        if isinstance(sock, BufferedSocket) and not self.want_write():
            mids = [mid for mid, qos in acks if qos == 1]
            if mids:
                try:
                    sock.send_all(b"".join(PUBACK.pack(0x40, 2, mid) for mid in mids))
                except OSError as exc:
                    self._easy_log(mqtt.MQTT_LOG_ERR, "PUBACK write failed: %s", exc)
                    with contextlib.suppress(OSError):  # paho's next read sees the loss
                        sock.shutdown(socket.SHUT_RDWR)
                    return  # the broker redelivers what was not acknowledged
            acks = [(mid, qos) for mid, qos in acks if qos == 2]
        for mid, qos in acks:
            self.ack(mid, qos)
