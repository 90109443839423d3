#!/usr/bin/env python3
"""The `client` app of the sandbox: calls `server` through the mesh, forever.

Every --period seconds it sends GET to its local upstream listener (the
sidecar proxy's bind port for `server`), one new TCP connection per request
(so every request is a new mTLS connection and a new intention check), and
appends one JSON line per request to --log:

  {"t": <unix time>, "ok": true, "task": "<server task id>", "ms": 3.1}
  {"t": <unix time>, "ok": false, "error": "..."}

It also serves its own port: GET /health -> 200 (its ECS health check; it
does not depend on the upstream), GET / -> counts so far.
SIGTERM stops it (exit 0). Standard library only.
"""
import argparse
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:21001/")
    p.add_argument("--log", default="-", help="JSON lines of every request; - (default): stdout")
    p.add_argument("--period", type=float, default=0.1)
    p.add_argument("--timeout", type=float, default=2.0)
    args = p.parse_args()
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    out = sys.stdout if args.log == "-" else open(args.log, "a", buffering=1)

    def call_once() -> dict:
        t0 = time.time()
        rec = {"t": round(t0, 4)}
        try:
            req = urllib.request.Request(args.upstream, headers={"Connection": "close"})
            with urllib.request.urlopen(req, timeout=args.timeout) as r:
                body = json.loads(r.read() or b"{}")
            rec.update(ok=True, task=body.get("task"), ms=round((time.time() - t0) * 1000, 1))
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            rec.update(ok=False, error=f"{type(e).__name__}: {reason}"[:200])
        except Exception as e:
            rec.update(ok=False, error=f"{type(e).__name__}: {e}"[:200])
        return rec

    def loop():
        while not stop.is_set():
            started = time.monotonic()
            rec = call_once()
            with lock:
                counts["ok" if rec["ok"] else "failed"] += 1
            out.write(json.dumps(rec) + "\n")
            out.flush()
            stop.wait(max(0.0, args.period - (time.monotonic() - started)))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):  # quiet
            pass

        def do_GET(self):
            with lock:
                body = b"ok\n" if self.path == "/health" else json.dumps(counts).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    worker = threading.Thread(target=loop, daemon=True)
    worker.start()

    def on_term(signum, frame):
        stop.set()
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print(f"client: calling {args.upstream} every {args.period}s; status on 127.0.0.1:{args.port}",
          flush=True)
    srv.serve_forever(poll_interval=0.1)
    worker.join(timeout=args.timeout + 1)
    print(f"client: stopped; {counts}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
