"""How the sandbox runs a container of a task definition *unchanged*: the
ECS agent's part that sandbox.ecs_sandbox leaves to a runtime.

- **Network**: every task gets its own network namespace (awsvpc: one ENI,
  one address). `Network` is a Linux bridge on the host holding the
  subnet's router address (`.1`); a task's namespace has a veth pair to it,
  the address the ECS API (moto) gave the task's ENI, and a default route
  via the bridge. So fixed ports (10000, 20000, 22000, the app's) cannot
  collide between tasks, tasks reach each other at their ENI addresses,
  and the host (Consul, moto, the ECS agent emulator, all bound to the
  bridge address) is reachable from every task.
- **Volumes and mountPoints**: each task volume is a directory of the task;
  every container runs in a mount namespace of its own (`ip netns exec`
  gives one) where each of its mountPoints is bind-mounted over its
  containerPath (read-only when the taskdef says so): `/consul` of one task
  is not `/consul` of another. A mount point missing on the host is created
  as an empty directory (and left there: another sandbox may be using it).
- **/etc/hosts** of a task: `localhost`, the task's own private DNS name,
  and the names the sandbox answers for the VPC's DNS (the Consul server's
  Cloud Map name -> the bridge address, where the test bed's Consul runs).
- **Images** (`ImageMap`): an image repository stands for a directory of
  local executables prepended to PATH, and the image's ENTRYPOINT; the
  container's argv is entryPoint (or the image's) + command, as Docker does.
- **secrets**: valueFrom ARNs read from Secrets Manager (moto) with the
  task's *execution role*, as the ECS agent does; a failure stops the task.
- **healthCheck** commands run inside the container's namespaces
  (`nsenter --target <pid> --net --mount`).
"""
from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..bed import pick_subnet, repo_root, subnet_in_use  # noqa: F401 - pick_subnet: the sandbox's API

CONTAINER_INIT = os.path.join(repo_root(), "sandbox", "container_init.py")  # runs in the task's namespaces


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(list(cmd), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


class Network:
    """The subnet's bridge and one namespace per task (root required)."""

    def __init__(self, cidr: str, tag: str) -> None:
        self.net = ipaddress.ip_network(cidr)
        self.tag = tag                      # short, unique per sandbox: names of links
        self.bridge = f"csb{tag}"
        self.gateway = str(next(self.net.hosts()))
        self.namespaces: list[str] = []
        self._n = 0
        self._lock = threading.Lock()
        self._up = False

    def create(self) -> Network:
        for tool in ("ip", "nsenter", "mount"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"the sandbox needs `{tool}` (iproute2/util-linux)")
        if os.geteuid() != 0:
            raise RuntimeError("the sandbox creates network namespaces: run it as root")
        # A fixed MAC: a bridge without one takes the lowest MAC of its ports
        # and changes it when that port goes (a task's namespace deleted),
        # which leaves every other task's ARP entry for the gateway (Consul,
        # moto, the emulator) stale for ~30 s: their connections hang.
        mac = "02:" + ":".join(f"{b:02x}" for b in os.urandom(5))
        _run("ip", "link", "add", self.bridge, "address", mac, "type", "bridge")
        self._up = True
        _run("ip", "addr", "add", f"{self.gateway}/{self.net.prefixlen}", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        return self

    def add_task(self, ip: str) -> str:
        """A namespace with `ip` on the subnet; returns its name."""
        if ipaddress.ip_address(ip) not in self.net or ip == self.gateway:
            raise RuntimeError(f"task address {ip} is not a host address of {self.net} "
                               f"(besides the router {self.gateway})")
        with self._lock:
            self._n += 1
            n = self._n
        ns, host_end = f"{self.bridge}-{n}", f"{self.bridge}h{n}"
        _run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        _run("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _run("ip", "link", "set", host_end, "master", self.bridge)
        _run("ip", "link", "set", host_end, "up")
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "addr", "add", f"{ip}/{self.net.prefixlen}", "dev", "eth0"],
                    ["ip", "link", "set", "eth0", "up"],
                    ["ip", "route", "add", "default", "via", self.gateway]):
            _run("ip", "netns", "exec", ns, *cmd)
        return ns

    def remove_task(self, ns: str) -> None:
        # Deleting the namespace removes its veth end, and so the pair.
        _run("ip", "netns", "delete", ns, check=False)

    def close(self) -> None:
        for ns in self.namespaces:
            self.remove_task(ns)
        self.namespaces.clear()
        if self._up:
            _run("ip", "link", "delete", self.bridge, check=False)
            self._up = False


@dataclass
class Image:
    """What an image reference stands for on this machine."""
    path_dirs: list[str]                  # prepended to PATH (the image's executables)
    entrypoint: list[str] = field(default_factory=list)  # the image's ENTRYPOINT
    env: dict[str, str] = field(default_factory=dict)


class ImageMap:
    """Image repository (the reference without its tag) -> Image."""

    def __init__(self) -> None:
        self.images: dict[str, Image] = {}

    def add(self, repository: str, image: Image) -> None:
        self.images[repository] = image

    @staticmethod
    def repository(ref: str) -> str:
        ref = ref.split("@", 1)[0]
        last = ref.rsplit("/", 1)[-1]
        return ref[: len(ref) - len(last)] + last.split(":", 1)[0]

    def resolve(self, ref: str) -> Image:
        repo = self.repository(ref)
        if repo not in self.images:
            raise LookupError(f"image {ref!r} has no local mapping in the sandbox "
                              f"(known: {', '.join(sorted(self.images))})")
        return self.images[repo]


@dataclass
class TaskSetup:
    ns: str
    ip: str
    dir: str
    volumes: dict[str, str]
    hosts_file: str
    secrets: dict[str, str]               # env name -> value


class TaskRuntime:
    """The runtime an EcsCluster hands each task and container to."""

    def __init__(self, network: Network, images: ImageMap, workdir: str,
                 secret_reader: Callable[[str | None, str], str],
                 dns: dict[str, str] | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.network = network
        self.images = images
        self.workdir = workdir
        self.secret_reader = secret_reader   # (execution role ARN, secret ARN) -> value
        self.dns = dict(dns or {})           # name -> address, for every task's /etc/hosts
        self.extra_env = dict(extra_env or {})
        self.tasks: dict[str, TaskSetup] = {}

    # ---- per task ----
    def setup_task(self, task: Any) -> None:
        td = task.td
        raw = td.raw or {}
        d = os.path.join(self.workdir, task.name)
        volumes = {}
        for v in raw.get("volumes") or []:
            if v.get("host", {}).get("sourcePath") or v.get("efsVolumeConfiguration"):
                raise RuntimeError(f"volume {v['name']}: only task-scoped volumes are supported")
            path = os.path.join(d, "volumes", v["name"])
            os.makedirs(path, exist_ok=True)
            volumes[v["name"]] = path
        hosts = os.path.join(d, "hosts")
        names = ["127.0.0.1 localhost", "::1 localhost ip6-localhost",
                 f"{task.ip} ip-{task.ip.replace('.', '-')}.ec2.internal"]
        names += [f"{addr} {name}" for name, addr in sorted(self.dns.items())]
        os.makedirs(d, exist_ok=True)
        with open(hosts, "w") as f:
            f.write("\n".join(names) + "\n")
        secrets: dict[str, str] = {}
        for c in raw.get("containerDefinitions") or []:
            for s in c.get("secrets") or []:
                key = f"{c['name']}/{s['name']}"
                secrets[key] = self.secret_reader(raw.get("executionRoleArn"), s["valueFrom"])
        ns = self.network.add_task(task.ip)
        self.tasks[task.task_id] = TaskSetup(ns, task.ip, d, volumes, hosts, secrets)

    def teardown_task(self, task: Any) -> None:
        setup = self.tasks.get(task.task_id)
        if setup:
            self.network.remove_task(setup.ns)

    # ---- per container ----
    def container(self, task: Any, name: str) -> tuple[list[str], dict[str, str]]:
        """(argv, extra environment) that run container `name` of the task."""
        setup = self.tasks[task.task_id]
        raw = next(c for c in task.td.raw["containerDefinitions"] if c["name"] == name)
        image = self.images.resolve(raw["image"])
        argv = list(raw.get("entryPoint") or image.entrypoint) + list(raw.get("command") or [])
        if not argv:
            raise RuntimeError(f"container {name}: neither the taskdef nor image {raw['image']} "
                               "gives a command")
        mounts = [{"source": setup.hosts_file, "target": "/etc/hosts", "readOnly": True}]
        for m in raw.get("mountPoints") or []:
            src = setup.volumes.get(m["sourceVolume"])
            if src is None:
                raise RuntimeError(f"container {name}: mountPoint of unknown volume {m['sourceVolume']}")
            if not os.path.exists(m["containerPath"]):
                os.makedirs(m["containerPath"], exist_ok=True)  # an empty mount point on the host
            mounts.append({"source": src, "target": m["containerPath"],
                           "readOnly": bool(m.get("readOnly"))})
        spec = os.path.join(setup.dir, f"{name}.container.json")
        with open(spec, "w") as f:
            json.dump({"mounts": mounts, "ulimits": raw.get("ulimits") or [], "user": raw.get("user"),
                       "argv": argv}, f)
        env = dict(self.extra_env)
        env.update(image.env)
        env["PATH"] = ":".join(image.path_dirs + [os.environ.get("PATH", "/usr/bin:/bin")])
        env["HOSTNAME"] = f"ip-{setup.ip.replace('.', '-')}"
        for key, value in setup.secrets.items():
            cname, var = key.split("/", 1)
            if cname == name:
                env[var] = value
        return (["ip", "netns", "exec", setup.ns, sys.executable,
                 CONTAINER_INIT, spec], env)

    def health_argv(self, pid: int, argv: list[str]) -> list[str]:
        return ["nsenter", "--target", str(pid), "--net", "--mount", "--"] + argv

    def exec_in(self, task_id: str, argv: list[str], timeout: float = 5.0) -> subprocess.CompletedProcess:
        """Runs argv in the task's network namespace (host mounts)."""
        ns = self.tasks[task_id].ns
        return subprocess.run(["ip", "netns", "exec", ns] + argv, capture_output=True, text=True,
                              timeout=timeout)
