"""Each module README documents exactly the module's interface:
terraform/tools/check_readme_tables.py (run here on the repository, and on
copies made stale on purpose, which it must reject). No toolchain needed.
(`fmt -check` of all HCL runs with both CLIs in test_terraform_mesh_task.py.)
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from consul_ecs_testbed import bed as tb

CHECKER = Path(tb.repo_root()) / "terraform" / "tools" / "check_readme_tables.py"
MODULES = Path(tb.repo_root()) / "terraform" / "modules"


def check(modules: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), str(modules)], capture_output=True, text=True,
                          timeout=60)


def test_every_input_and_output_is_in_its_readme_table() -> None:
    p = check(MODULES)
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(d.name for d in MODULES.iterdir() if d.is_dir()) == [
        "controller", "dev-server", "gateway-task", "mesh-task"]


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "modules"
    shutil.copytree(MODULES, dest)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("case", ["row removed", "default changed", "type changed", "input added",
                                  "output added", "row for nothing", "rows merged"])
def test_stale_tables_are_rejected(tmp_path: Path, case: str) -> None:
    m = _copy(tmp_path)
    readme, variables = m / "mesh-task" / "README.md", m / "mesh-task" / "variables.tf"
    if case == "row removed":
        lines = readme.read_text().splitlines(keepends=True)
        readme.write_text("".join(line for line in lines if not line.startswith("| `consul_service_tags` |")))
        expect = "input consul_service_tags has no row in the Inputs table"
    elif case == "default changed":
        _edit(variables, 'default     = 20000', 'default     = 21000')
        expect = "input envoy_public_listener_port: Default '`20000`', variables declare `21000`"
    elif case == "type changed":
        meta = 'variable "consul_service_meta" {\n  description = "Metadata of the Consul service registration."\n'
        _edit(variables, meta + '  type        = map(string)', meta + '  type        = map(any)')
        expect = "input consul_service_meta: Type '`map(string)`', variables declare `map(any)`"
    elif case == "input added":
        variables.write_text(variables.read_text() + '\nvariable "new_input" {\n  type    = number\n  default = 1\n}\n')
        expect = "input new_input has no row in the Inputs table"
    elif case == "output added":
        out = m / "gateway-task" / "outputs.tf"
        out.write_text(out.read_text() + '\noutput "new_output" {\n  value = 1\n}\n')
        expect = "gateway-task/README.md: output new_output has no row in the Outputs table"
    elif case == "row for nothing":
        _edit(readme, "| `cpu` |", "| `gone` | `number` | `1` | Not declared. |\n| `cpu` |")
        expect = "input gone is documented but not declared"
    else:
        _edit(readme, "| `cpu` | `number` | `256` |", "| `cpu` / `memory` | `number` | `256` |")
        expect = "must name exactly one input"
    p = check(m)
    assert p.returncode == 1, p.stdout
    assert expect in p.stdout, p.stdout
