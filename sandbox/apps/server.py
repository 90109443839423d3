#!/usr/bin/env python3
"""The `server` app of the sandbox: answers every request with who it is.

GET /        -> 200 {"service": "server", "task": "<task id>", "served": n}
GET /health  -> 200 "ok"   (the container's ECS health check)

The task ID comes from the task metadata endpoint, as a real app would learn
it ($ECS_CONTAINER_METADATA_URI_V4/task). SIGTERM stops it cleanly (exit 0);
consul-ecs app-entrypoint delays that SIGTERM by its -shutdown-delay so
requests still routed here are answered while the mesh drains.
Standard library only.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def task_id() -> str:
    uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if not uri:
        return os.environ.get("TASK_ID", "unknown")
    for _ in range(50):
        try:
            with urllib.request.urlopen(uri + "/task", timeout=2) as r:
                return json.load(r)["TaskARN"].rsplit("/", 1)[-1]
        except Exception:
            time.sleep(0.1)
    return "unknown"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", default="server")
    args = p.parse_args()
    me = task_id()
    served = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def do_GET(self):
            if self.path == "/health":
                body = b"ok\n"
                ctype = "text/plain"
            else:
                with lock:
                    served[0] += 1
                    n = served[0]
                body = json.dumps({"service": args.name, "task": me, "served": n}).encode()
                ctype = "application/json"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True

    def on_term(signum, frame):
        print(f"{args.name}: received signal {signum}, shutting down after {served[0]} requests",
              flush=True)
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print(f"{args.name}: task {me} listening on 127.0.0.1:{args.port}", flush=True)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()
    print(f"{args.name}: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
