"""A pseudo-terminal endpoint at a stable symlink, with unplug/replug and an optional TCP port."""

import contextlib
import logging
import os
import select
import socket
import tty
from pathlib import Path

logger = logging.getLogger(__name__)

CHUNK = 4096


class PtyPort:
    """The device side of a simulated serial port (raw pty; the slave is held open).

    Clients open the symlink `link` (like a /dev/serial/by-id name) or, with `tcp_port`,
    connect to socket://127.0.0.1:<tcp_port>. Not thread-safe: one owner thread uses it.
    """

    def __init__(self, link: str | Path, tcp_port: int | None = None) -> None:
        self.link = Path(link)
        self.tcp_port = tcp_port
        self.plugged = False
        self._master = self._slave = -1
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self.tty_path = ""

    def open(self) -> None:
        """Create a fresh pty (and TCP listener) and point the symlink at it."""
        if self.plugged:
            return
        self._master, self._slave = os.openpty()
        self.plugged = True  # so unplug() cleans up if anything below fails
        try:
            tty.setraw(self._slave)
            tty.setraw(self._master)
            os.set_blocking(self._master, False)
            self.tty_path = os.ttyname(self._slave)
            tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(self.tty_path, tmp)
            os.replace(tmp, self.link)
            if self.tcp_port is not None:
                self._listener = socket.create_server(("127.0.0.1", self.tcp_port))
                self._listener.setblocking(False)
        except OSError:
            self.unplug()
            raise
        logger.info("plugged %s -> %s", self.link, self.tty_path)

    def unplug(self) -> None:
        """Close the pty and TCP endpoints and remove the symlink, like pulling the cable."""
        if not self.plugged:
            return
        self.plugged = False
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1
        for sock in (self._client, self._listener):
            if sock is not None:
                sock.close()
        self._client = self._listener = None
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        logger.info("unplugged %s", self.link)

    def close(self) -> None:
        """Unplug for good."""
        self.unplug()

    def read(self, timeout: float) -> bytes:
        """Wait up to `timeout` for bytes from the pty or the TCP client; return them."""
        if not self.plugged:
            return b""
        watched: list[int | socket.socket] = [self._master]
        watched += [s for s in (self._listener, self._client) if s is not None]
        ready, _, _ = select.select(watched, [], [], timeout)
        data = b""
        for item in ready:
            if item is self._listener:
                self._accept()
            elif item is self._client:
                data += self._recv_client()
            elif item == self._master:
                with contextlib.suppress(BlockingIOError, OSError):
                    data += os.read(self._master, CHUNK)
        return data

    def write(self, data: bytes) -> None:
        """Send bytes to every attached client; bytes nobody can take are dropped."""
        if not self.plugged:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._master, data)
        if self._client is not None:
            try:
                self._client.sendall(data)
            except OSError:
                self._drop_client()

    def _accept(self) -> None:
        """Take a new TCP client, replacing the previous one."""
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        self._drop_client()
        client.setblocking(True)
        client.settimeout(1.0)
        self._client = client

    def _recv_client(self) -> bytes:
        """Read from the TCP client; a closed connection is dropped."""
        assert self._client is not None
        try:
            data = self._client.recv(CHUNK)
        except OSError:
            data = b""
        if not data:
            self._drop_client()
        return data

    def _drop_client(self) -> None:
        """Close the TCP client, if any."""
        if self._client is not None:
            self._client.close()
            self._client = None
