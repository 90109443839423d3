"""A TCP fault proxy for the fault-injection suite: it sits between the
binary under test and a server (Consul) and, on command, passes traffic,
refuses connections, accepts them and never answers, or cuts the ones open.

    proxy = FaultProxy("127.0.0.1", consul.http_port).start()
    proxy.set_mode("refuse")   # connection refused, as a dead server
    proxy.set_mode("hang")     # accepted, read, never answered
    proxy.set_mode("pass")     # back to normal
    proxy.cut()                # close every connection open right now

Switching mode cuts the connections open at that moment, so a kept-alive
connection never bypasses the new mode. Nothing here imports pytest.
"""
from __future__ import annotations

import select
import socket
import threading

MODES = ("pass", "refuse", "hang")


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1",
                 listen_port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self._port = listen_port
        self._lock = threading.Lock()
        self._mode = "pass"
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._stopped = False
        self.accepted = 0  # connections accepted so far (all modes)

    # ---- lifecycle ----
    @property
    def port(self) -> int:
        return self._port

    def start(self) -> FaultProxy:
        self._listen()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self._close_listener()
        self.cut()

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        with self._lock:
            old, self._mode = self._mode, mode
        self.cut()
        if mode == "refuse" and old != "refuse":
            self._close_listener()
        elif mode != "refuse" and old == "refuse":
            self._listen()

    def cut(self) -> None:
        """Closes every connection open now (both sides)."""
        with self._lock:
            conns, self._conns = self._conns, set()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    # ---- internals ----
    def _listen(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.listen_host, self._port))
        s.listen(64)
        self._port = s.getsockname()[1]
        with self._lock:
            self._listener = s
        threading.Thread(target=self._accept_loop, args=(s,), name="fault-proxy-accept", daemon=True).start()

    def _close_listener(self) -> None:
        with self._lock:
            s, self._listener = self._listener, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _track(self, *socks: socket.socket) -> bool:
        with self._lock:
            if self._stopped:
                return False
            self._conns.update(socks)
            return True

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # listener closed
            self.accepted += 1
            with self._lock:
                mode = self._mode
            if mode == "hang":
                if self._track(client):
                    threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                else:
                    client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the server itself is down: the client sees a closed connection
                continue
            if not self._track(client, upstream):
                client.close()
                upstream.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _swallow(self, client: socket.socket) -> None:
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass
        self._forget(client)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        socks = [a, b]
        try:
            while True:
                readable, _, _ = select.select(socks, [], [], 1.0)
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            self._forget(a, b)

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for s in socks:
                self._conns.discard(s)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
