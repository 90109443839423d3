"""A tiny authoritative DNS server over UDP for the container tests: it
answers A queries for the names it is given, NODATA for other types of those
names and NXDOMAIN for any other name (RFC 1035 message format). It lets a
test prove that the static binary resolves names through /etc/resolv.conf
alone, with no NSS, against a name server the test controls."""
from __future__ import annotations

import socket
import struct
import threading

NOERROR, NXDOMAIN = 0, 3
TYPE_A = 1


def _read_name(msg: bytes, offset: int) -> tuple[str, int]:
    labels = []
    while True:
        length = msg[offset]
        offset += 1
        if length == 0:
            return ".".join(labels).lower(), offset
        if length & 0xC0:
            raise ValueError("compressed names are not expected in a question")
        labels.append(msg[offset:offset + length].decode("ascii"))
        offset += length


class DnsServer:
    def __init__(self, host: str, records: dict[str, str], port: int = 53) -> None:
        self.records = {k.lower().rstrip("."): v for k, v in records.items()}
        self.queries: list[tuple[str, int]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> DnsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                msg, peer = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            try:
                self.sock.sendto(self.answer(msg), peer)
            except (ValueError, IndexError, struct.error):
                continue

    def answer(self, msg: bytes) -> bytes:
        qid, flags, qdcount = struct.unpack("!HHH", msg[:6])
        name, offset = _read_name(msg, 12)
        qtype, qclass = struct.unpack("!HH", msg[offset:offset + 4])
        question = msg[12:offset + 4]
        self.queries.append((name, qtype))
        address = self.records.get(name)
        rcode = NOERROR if address is not None else NXDOMAIN
        answers = b""
        ancount = 0
        if address is not None and qtype == TYPE_A:
            # Name as a pointer to the question (offset 12), TTL 5 s.
            answers = struct.pack("!HHHIH", 0xC00C, TYPE_A, qclass, 5, 4) + socket.inet_aton(address)
            ancount = 1
        rd = flags & 0x0100
        header = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | rcode, 1, ancount, 0, 0)
        return header + question + answers
