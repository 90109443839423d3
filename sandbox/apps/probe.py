#!/usr/bin/env python3
"""HTTP health probe for container health checks: exit 0 when GET <url>
answers 200 within --timeout seconds, 1 otherwise (like `curl -sf`)."""
import sys
import urllib.request


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else ""
    timeout = float(argv[2]) if len(argv) > 2 else 2.0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return 0 if r.status == 200 else 1
    except Exception:
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
