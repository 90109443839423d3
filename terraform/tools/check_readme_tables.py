#!/usr/bin/env python3
"""Checks that each module's README.md documents its interface exactly.

For every terraform/modules/<module>: each `variable` of its *.tf files has
one row in the README's "## Inputs" table, and each `output` one row in
"## Outputs"; an input row's Type and Default cells equal the variable's
`type` and `default` (Default `required` for a variable without one); no row
names something the module does not declare. A row documents one name.

Types and defaults are compared as HCL text with whitespace and commas
removed, so `object({id = string, arn = string})` in a table matches the
multi-line block `terraform fmt` writes.

Usage: check_readme_tables.py [MODULES_DIR]   (default: the modules beside
this script). Prints one line per problem and exits 1 if there is any.
Stdlib only: make test runs it before any toolchain exists.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

BLOCK = re.compile(r'^(variable|output)\s+"([^"]+)"\s*\{\s*$')
ATTRIBUTE = re.compile(r'^  (type|default)\s*=\s*(.*)$')
ROW = re.compile(r'^\|(.*)\|\s*$')
NAME_CELL = re.compile(r'^\s*`([A-Za-z0-9_-]+)`\s*$')


@dataclass
class Variable:
    name: str
    type: str | None
    default: str | None      # None: required


def _balance(text: str) -> int:
    """Open brackets minus closed ones outside string literals."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "#":
            break
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return depth


def _strip_comment(line: str) -> str:
    in_string, escaped = False, False
    for i, ch in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "#" or line.startswith("//", i):
            return line[:i]
    return line


def normalize(hcl: str) -> str:
    """HCL text without whitespace and commas: enough to compare two
    renderings of one type or literal."""
    return re.sub(r"[\s,]+", "", hcl)


def parse_module(module_dir: Path) -> tuple[dict[str, Variable], list[str]]:
    variables: dict[str, Variable] = {}
    outputs: list[str] = []
    for tf in sorted(module_dir.glob("*.tf")):
        lines = tf.read_text().splitlines()
        i = 0
        while i < len(lines):
            m = BLOCK.match(lines[i])
            i += 1
            if not m:
                continue
            kind, name = m.groups()
            attrs: dict[str, str] = {}
            while i < len(lines) and lines[i] != "}":
                a = ATTRIBUTE.match(lines[i])
                i += 1
                if not a:
                    continue
                key, value = a.group(1), _strip_comment(a.group(2))
                depth = _balance(value)
                while depth > 0 and i < len(lines):
                    more = _strip_comment(lines[i])
                    value += "\n" + more
                    depth += _balance(more)
                    i += 1
                attrs[key] = value.strip()
            i += 1
            if kind == "variable":
                variables[name] = Variable(name, attrs.get("type"), attrs.get("default"))
            else:
                outputs.append(name)
    return variables, outputs


def table_rows(readme: str, heading: str) -> list[list[str]] | None:
    """The data rows (cells) of the first table under `## <heading>`."""
    lines = readme.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == f"## {heading}")
    except StopIteration:
        return None
    rows: list[list[str]] = []
    in_table = False
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        m = ROW.match(line)
        if m:
            in_table = True
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(1))]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue
            rows.append(cells)
        elif in_table:
            break
    return rows[1:] if rows else []   # without the header row


def _code(cell: str) -> str:
    cell = cell.strip()
    return cell[1:-1] if len(cell) >= 2 and cell[0] == "`" and cell[-1] == "`" else cell


def check_module(module_dir: Path) -> list[str]:
    problems: list[str] = []
    where = f"{module_dir.name}/README.md"
    readme_path = module_dir / "README.md"
    if not readme_path.is_file():
        return [f"{where}: missing"]
    readme = readme_path.read_text()
    variables, outputs = parse_module(module_dir)

    inputs = table_rows(readme, "Inputs")
    if inputs is None:
        problems.append(f"{where}: no '## Inputs' section")
        inputs = []
    seen: set[str] = set()
    for cells in inputs:
        m = NAME_CELL.match(cells[0])
        if not m:
            problems.append(f"{where}: Inputs row {cells[0]!r} must name exactly one input, as `name`")
            continue
        name = m.group(1)
        if name in seen:
            problems.append(f"{where}: input {name} has more than one row")
        seen.add(name)
        var = variables.get(name)
        if var is None:
            problems.append(f"{where}: input {name} is documented but not declared")
            continue
        if len(cells) < 3:
            problems.append(f"{where}: input {name}: the row needs Type and Default cells")
            continue
        want_type = var.type or "any"
        if normalize(_code(cells[1])) != normalize(want_type):
            declared = " ".join(want_type.split())
            problems.append(f"{where}: input {name}: Type {cells[1]!r}, variables declare `{declared}`")
        default = cells[2].strip()
        if var.default is None:
            if default != "required":
                problems.append(f"{where}: input {name}: Default {default!r}, but the input is required")
        elif normalize(_code(default)) != normalize(var.default):
            declared = " ".join(var.default.split())
            problems.append(f"{where}: input {name}: Default {default!r}, variables declare `{declared}`")
    for name in sorted(set(variables) - seen):
        problems.append(f"{where}: input {name} has no row in the Inputs table")

    documented = table_rows(readme, "Outputs")
    if documented is None:
        problems.append(f"{where}: no '## Outputs' section")
        documented = []
    seen = set()
    for cells in documented:
        m = NAME_CELL.match(cells[0])
        if not m:
            problems.append(f"{where}: Outputs row {cells[0]!r} must name exactly one output, as `name`")
            continue
        name = m.group(1)
        if name in seen:
            problems.append(f"{where}: output {name} has more than one row")
        seen.add(name)
        if name not in outputs:
            problems.append(f"{where}: output {name} is documented but not declared")
    for name in sorted(set(outputs) - seen):
        problems.append(f"{where}: output {name} has no row in the Outputs table")
    return problems


def main(argv: list[str]) -> int:
    modules = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "modules"
    dirs = sorted(d for d in modules.iterdir() if d.is_dir() and any(d.glob("*.tf")))
    if not dirs:
        print(f"check_readme_tables: no modules under {modules}", file=sys.stderr)
        return 1
    problems = [p for d in dirs for p in check_module(d)]
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
