#!/usr/bin/env python3
"""A container's first process in the sandbox (sandbox/runtime.py starts it
with `ip netns exec <task namespace>`, which also gives it a mount
namespace of its own that does not propagate back to the host).

  container_init.py SPEC.json

SPEC: {"mounts": [{"source", "target", "readOnly"}], "ulimits":
[{"name", "softLimit", "hardLimit"}], "user": "uid[:gid]" or null, "argv":
[...]}. It bind-mounts every source over its target (read-only when asked),
applies the ulimits, switches to the taskdef's numeric `user` (no
supplementary groups; gid = uid unless given), and execs argv (looked up
in $PATH, which the image mapping sets), keeping its PID: the sandbox's
signals reach the container's command directly. A failure before the exec
exits 127, like a container that cannot start.
"""
import json
import os
import resource
import subprocess
import sys

ULIMITS = {"nofile": resource.RLIMIT_NOFILE, "nproc": resource.RLIMIT_NPROC,
           "core": resource.RLIMIT_CORE, "memlock": resource.RLIMIT_MEMLOCK,
           "stack": resource.RLIMIT_STACK}


def fail(msg: str) -> None:
    print(f"container-init: {msg}", file=sys.stderr, flush=True)
    sys.exit(127)


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    for m in spec.get("mounts", []):
        r = subprocess.run(["mount", "--bind", m["source"], m["target"]], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"mount {m['source']} on {m['target']}: {r.stderr.strip()}")
        if m.get("readOnly"):
            r = subprocess.run(["mount", "-o", "remount,bind,ro", m["target"]], capture_output=True, text=True)
            if r.returncode != 0:
                fail(f"read-only remount of {m['target']}: {r.stderr.strip()}")
    for u in spec.get("ulimits", []):
        which = ULIMITS.get(u["name"])
        if which is None:
            fail(f"ulimit {u['name']!r} is not supported by the sandbox")
        soft, hard = int(u["softLimit"]), int(u["hardLimit"])
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            # Raising a hard limit needs CAP_SYS_RESOURCE, which a machine
            # running this sandbox in a container may lack: keep the current
            # hard limit and say so (docs/sandbox.md).
            cur_hard = resource.getrlimit(which)[1]
            try:
                resource.setrlimit(which, (min(soft, cur_hard), cur_hard))
            except (ValueError, OSError) as e:
                fail(f"ulimit {u['name']}: {e}")
            print(f"container-init: ulimit {u['name']} {soft}/{hard} capped at this machine's "
                  f"hard limit {cur_hard}", file=sys.stderr, flush=True)
    user = spec.get("user")
    if user:
        uid, _, gid = str(user).partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            fail(f"user {user!r}: the sandbox has no /etc/passwd of the image, only numeric uid[:gid] works")
        try:
            os.setgroups([])
            os.setgid(int(gid or uid))
            os.setuid(int(uid))
        except OSError as e:
            fail(f"user {user}: {e}")
    argv = spec["argv"]
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        fail(f"exec {argv[0]}: {e}")


if __name__ == "__main__":
    main()
