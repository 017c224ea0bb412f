"""A TCP proxy that tests can cut like a network cable: blackhole traffic, then restore it."""

import contextlib
import socket
import threading

from tests.support.broker import free_port


class CuttableProxy:
    """Forward 127.0.0.1:port to a target port; `cut()` silently drops traffic both ways."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._up = threading.Event()
        self._up.set()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, name="proxy", daemon=True)
        self._conns: list[socket.socket] = []

    def start(self) -> "CuttableProxy":
        """Start accepting connections."""
        self._thread.start()
        return self

    def cut(self) -> None:
        """Stop forwarding: bytes are read and dropped, like an unplugged uplink."""
        self._up.clear()

    def restore(self) -> None:
        """Forward again; connections cut meanwhile are closed so clients reconnect."""
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self._conns.clear()
        self._up.set()

    def close(self) -> None:
        """Stop the proxy and close every connection."""
        self._stop.set()
        self.restore()
        self._server.close()

    def _accept(self) -> None:
        """Accept clients; while cut, accept and hold them without forwarding."""
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(client)
            if not self._up.is_set():
                threading.Thread(target=self._drain, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            self._conns.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _drain(self, sock: socket.socket) -> None:
        """Read and discard until the socket closes."""
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        """Copy src to dst while up; drop bytes while cut."""
        try:
            while data := src.recv(65536):
                if self._up.is_set():
                    dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()
