"""Recording proxies on loopback: count what a process sends to Consul.

- HttpRecordingProxy: an HTTP/1.1 reverse proxy. Every request is forwarded
  to the upstream Consul (one upstream connection per client connection, so
  keep-alive behaviour is mirrored) and recorded: time, method, path, status,
  client connection number.
- GrpcCountingProxy: a TCP pass-through for gRPC (HTTP/2 cleartext). It does
  not decode HPACK; it parses the HTTP/2 frame layer of the client->server
  direction and records one event per new client stream (a HEADERS frame on
  an odd stream ID not seen before), i.e. one per gRPC call, unary or
  streaming. Connections are recorded too.

Both keep an in-memory log; `mark()` returns a position and `since(pos)` the
events after it, so a benchmark can cut the log into phases (start-up,
steady state, shutdown) without restarting the proxy.

Overhead: about 0.3-1 ms per HTTP request on loopback (Python). It is the same
for every implementation measured through it.
"""
from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WRITE_METHODS = frozenset({"PUT", "POST", "DELETE", "PATCH"})
# Hop-by-hop headers (RFC 9110 7.6.1) and what http.client sets itself.
_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                  "transfer-encoding", "upgrade", "expect", "content-length", "host"})


def _shutdown_both(*socks: socket.socket) -> None:
    """Ends both directions of a proxied connection, ignoring closed sockets."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@dataclass
class Event:
    t: float            # time.monotonic()
    kind: str           # "http" | "grpc-stream" | "http-conn" | "grpc-conn"
    method: str = ""
    path: str = ""
    status: int = 0
    conn: int = 0

    @property
    def is_request(self) -> bool:
        return self.kind in ("http", "grpc-stream")

    @property
    def is_write(self) -> bool:
        return self.kind == "http" and self.method in WRITE_METHODS


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[Event] = []
        self._conn_seq = 0

    def add(self, ev: Event) -> None:
        with self._lock:
            self.events.append(ev)

    def next_conn(self) -> int:
        with self._lock:
            self._conn_seq += 1
            return self._conn_seq

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    def since(self, pos: int, until: int | None = None) -> list[Event]:
        with self._lock:
            return list(self.events[pos:until])


class HttpRecordingProxy:
    """127.0.0.1:<port> -> upstream host:port, recording each request."""

    def __init__(self, upstream_host: str, upstream_port: int, port: int = 0,
                 log: RequestLog | None = None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.log = log if log is not None else RequestLog()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "RecordingProxy/1.0"

            def log_message(self, fmt: str, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                # Without this, the body written after the headers waits for
                # the client's delayed ACK (Nagle): +40 ms per request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.conn_no = proxy.log.next_conn()
                self.upstream_conn: http.client.HTTPConnection | None = None
                proxy.log.add(Event(time.monotonic(), "http-conn", conn=self.conn_no))

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    if self.upstream_conn is not None:
                        self.upstream_conn.close()

            def _body(self) -> bytes | None:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else None

            def _forward(self) -> None:
                t = time.monotonic()
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                status, resp_headers, data = 502, [], b"upstream error"
                for attempt in range(2):  # one retry on a stale upstream keep-alive
                    try:
                        if self.upstream_conn is None:
                            self.upstream_conn = http.client.HTTPConnection(*proxy.upstream, timeout=330)
                        self.upstream_conn.request(self.command, self.path, body=body, headers=headers)
                        r = self.upstream_conn.getresponse()
                        status, resp_headers, data = r.status, r.getheaders(), r.read()
                        break
                    except (OSError, http.client.HTTPException):
                        if self.upstream_conn is not None:
                            self.upstream_conn.close()
                        self.upstream_conn = None
                        if attempt == 1:
                            status, resp_headers, data = 502, [], b"upstream error"
                proxy.log.add(Event(t, "http", self.command, self.path, status, self.conn_no))
                self.send_response_only(status)
                for k, v in resp_headers:
                    if k.lower() not in _HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                # Headers and body in one write.
                self._headers_buffer.append(b"\r\n")
                if self.command != "HEAD":
                    self._headers_buffer.append(data)
                self.wfile.write(b"".join(self._headers_buffer))
                self._headers_buffer = []

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> HttpRecordingProxy:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="http-recording-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_H2_HEADERS = 0x1


class GrpcCountingProxy:
    """TCP pass-through to upstream host:port that counts HTTP/2 client
    streams (gRPC calls) and connections."""

    def __init__(self, upstream_host: str, upstream_port: int, port: int = 0,
                 log: RequestLog | None = None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.log = log if log is not None else RequestLog()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(64)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def start(self) -> GrpcCountingProxy:
        threading.Thread(target=self._accept, name="grpc-counting-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            self._sock.close()
        except OSError:
            pass
        with self._lock:
            for s in self._conns:
                try:
                    s.close()
                except OSError:
                    pass

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(self.upstream, timeout=5)
                up.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns += [client, up]
            no = self.log.next_conn()
            self.log.add(Event(time.monotonic(), "grpc-conn", conn=no))
            threading.Thread(target=self._pump_client, args=(client, up, no), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, client), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _shutdown_both(src, dst)

    def _pump_client(self, src: socket.socket, dst: socket.socket, conn_no: int) -> None:
        buf = b""
        preface_done = False
        parse = True
        max_stream = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if not parse:
                    continue
                buf += data
                if not preface_done:
                    if len(buf) < len(_H2_PREFACE):
                        continue
                    if not buf.startswith(_H2_PREFACE):
                        parse = False  # not h2c prior knowledge: just pass through
                        continue
                    buf = buf[len(_H2_PREFACE):]
                    preface_done = True
                while len(buf) >= 9:
                    length = int.from_bytes(buf[0:3], "big")
                    if len(buf) < 9 + length:
                        break
                    ftype = buf[3]
                    stream = struct.unpack(">I", buf[5:9])[0] & 0x7FFFFFFF
                    if ftype == _H2_HEADERS and stream % 2 == 1 and stream > max_stream:
                        max_stream = stream
                        self.log.add(Event(time.monotonic(), "grpc-stream", "GRPC",
                                           f"stream {stream}", 0, conn_no))
                    buf = buf[9 + length:]
        except OSError:
            pass
        finally:
            _shutdown_both(src, dst)


def summarize(events: list[Event]) -> dict[str, int]:
    """Counts of one phase: requests (HTTP + gRPC streams), writes, reads,
    gRPC streams, and new connections."""
    http_ev = [e for e in events if e.kind == "http"]
    return {
        "requests": sum(1 for e in events if e.is_request),
        "http": len(http_ev),
        "writes": sum(1 for e in http_ev if e.is_write),
        "reads": sum(1 for e in http_ev if not e.is_write),
        "grpc_streams": sum(1 for e in events if e.kind == "grpc-stream"),
        "connections": sum(1 for e in events if e.kind in ("http-conn", "grpc-conn")),
        "errors": sum(1 for e in http_ev if e.status >= 400),
    }
