#!/usr/bin/env python3
"""Generates the field tables of docs/config-reference.md from the embedded
config schemas (src/config/schema/schema-*.json), so the reference cannot
drift from what the validator enforces.

  scripts/gen-config-reference.py           rewrite the tables in place
  scripts/gen-config-reference.py --check   exit 1 (with a diff) when the
                                            committed doc differs

Each table sits between two markers in the doc:

  <!-- BEGIN GENERATED FIELDS: proxy -->
  <!-- END GENERATED FIELDS -->

and lists the fields under that path (`(top)` is the document itself, `[]`
a list's items), descending into objects and lists of objects except where
another table starts. Type, Required and the Description come from the
schemas; a field whose type or description differs between them shows both,
and one that only one schema has says which. The Default column and the
notes after a description come from docs/config-reference.toml (the
behaviour of this implementation, which the schema does not state); a note
for a field the schemas do not have is an error, as is a schema field no
table lists. Everything outside the markers is prose, kept as written.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = (("v0.7.3", "schema-0.7.3.json"), ("v0.10.0", "schema-0.10.0.json"))
TOP = "(top)"
BEGIN = re.compile(r"^<!-- BEGIN GENERATED FIELDS: (\S+) -->$")
END = "<!-- END GENERATED FIELDS -->"

# JSON Schema keywords: any other member of an object schema that holds a
# schema is a stray definition (v0.10.0's proxy.expose sits beside
# proxy.properties), which validators ignore.
KEYWORDS = {
    "$schema", "$id", "title", "description", "type", "properties", "patternProperties",
    "additionalProperties", "required", "items", "enum", "uniqueItems", "minimum", "maximum",
    "minLength", "maxLength", "pattern", "default",
}


class GenerationError(Exception):
    pass


@dataclass
class Field:
    path: str                      # "proxy.upstreams[].destinationName"
    schemas: dict[str, dict]       # schema version -> this field's subschema
    required: dict[str, bool]      # schema version -> listed in its parent's `required`
    stray: bool = False            # defined outside `properties` (not validated by the schema)


def child(parent: str, key: str) -> str:
    return key if parent == "" else f"{parent}.{key}"


def walk(schema: dict, path: str, required: bool, stray: bool, out: dict[str, tuple[dict, bool, bool]]) -> None:
    """Collects every field under `schema` as path -> (subschema, required, stray)."""
    if path != "":
        out[path] = (schema, required, stray)
    needed = set(schema.get("required", []))
    for key, sub in schema.get("properties", {}).items():
        walk(sub, child(path, key), key in needed, False, out)
    for key, sub in schema.items():
        if key not in KEYWORDS and isinstance(sub, dict) and ("type" in sub or "properties" in sub):
            walk(sub, child(path, key), False, True, out)
    items = schema.get("items")
    if isinstance(items, dict) and ("properties" in items or "required" in items):
        walk(items, f"{path}[]", False, False, out)


def load_fields(schema_dir: Path) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for version, name in SCHEMAS:
        try:
            schema = json.loads((schema_dir / name).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise GenerationError(f"{schema_dir / name}: {e}") from e
        found: dict[str, tuple[dict, bool, bool]] = {}
        walk(schema, "", False, False, found)
        for path, (sub, required, stray) in found.items():
            f = fields.setdefault(path, Field(path, {}, {}))
            f.schemas[version] = sub
            f.required[version] = required
            f.stray = f.stray or stray
    # The newest schema's order, then what only older ones have.
    newest = [p for p in fields if SCHEMAS[-1][0] in fields[p].schemas]
    return {p: fields[p] for p in newest + [p for p in fields if p not in newest]}


def code(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return f"`{text}`"


def alternatives(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


PLURAL = {"string": "strings", "integer": "integers", "boolean": "booleans", "object": "objects",
          "number": "numbers", "array": "lists"}


def type_text(s: dict) -> str:
    """The schema's type of one field in words: `string or null`, `integer 0–100`,
    `list of unique strings, or null`, `` `none`, `local` or `remote` ``."""
    types = s.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    nullable = "null" in types
    base = [t for t in types if t != "null"]
    if "enum" in s:
        values = [code(v) for v in s["enum"] if v is not None]
        nullable = nullable or None in s["enum"]
        return alternatives(values + (["null"] if nullable else []))
    if not base:
        return "not typed by the schema"
    words = []
    for t in base:
        if t == "array":
            items = s.get("items", {})
            item_type = items.get("type") if isinstance(items, dict) else None
            unique = "unique " if s.get("uniqueItems") else ""
            words.append(f"list of {unique}{PLURAL.get(item_type, 'values')}" if item_type else "list")
        elif t == "object" and s.get("patternProperties"):
            value_types = {sub.get("type") for sub in s["patternProperties"].values()}
            words.append(f"object of {next(iter(value_types))} values" if len(value_types) == 1 else "object")
        else:
            words.append(t)
    text = alternatives(words)
    if nullable:
        # "list of strings or null" would read as a list that may hold nulls.
        text += ", or null" if " of " in text else " or null"
    limits = []
    if "minimum" in s and "maximum" in s:
        limits.append(f" {s['minimum']}–{s['maximum']}")
    elif "minimum" in s:
        limits.append(f" ≥ {s['minimum']}")
    elif "maximum" in s:
        limits.append(f" ≤ {s['maximum']}")
    if "minLength" in s:
        limits.append(f", at least {s['minLength']} character(s)")
    if "maxLength" in s:
        limits.append(f", at most {s['maxLength']} character(s)")
    if "pattern" in s:
        limits.append(f", matching {code(s['pattern'])}")
    return text + "".join(limits)


def per_schema(field: Field, render, separator: str = "; ") -> str:
    """One rendering when the schemas agree, else `v0.7.3: …; v0.10.0: …`."""
    values = {v: render(s) for v, s in field.schemas.items()}
    distinct = set(values.values())
    if len(distinct) == 1:
        return distinct.pop()
    return separator.join(f"{v}: {text}" for v, text in values.items() if text)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def load_notes(notes_path: Path, fields: dict[str, Field]) -> dict[str, dict]:
    try:
        notes = tomllib.loads(notes_path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise GenerationError(f"{notes_path}: {e}") from e
    for path, entry in notes.items():
        if path not in fields:
            raise GenerationError(f"{notes_path}: [{path!r}] is not a field of the schemas")
        if not isinstance(entry, dict) or set(entry) - {"default", "note"}:
            raise GenerationError(f"{notes_path}: [{path!r}] may only hold `default` and `note`")
    return notes


def table(root: str, roots: set[str], fields: dict[str, Field], notes: dict[str, dict]) -> tuple[list[str], list[str]]:
    """The Markdown table of `root`'s fields and the paths it lists."""
    prefix = "" if root == TOP else root
    versions = [v for v, _ in SCHEMAS]

    def inside(path: str) -> bool:
        return prefix == "" or path.startswith(prefix + ".")

    def covered_elsewhere(path: str) -> bool:
        # A field under another table's root (deeper than this one) is that table's.
        return any(r not in (root, TOP) and inside(r) and path.startswith(r + ".") for r in roots)

    root_only = set(fields[prefix].schemas) if prefix else set(versions)
    rows = ["| Field | Type | Default | Description |", "|---|---|---|---|"]
    listed = []
    for path, f in fields.items():
        if path == prefix or not inside(path) or covered_elsewhere(path) or path.endswith("[]"):
            continue
        listed.append(path)
        name = path[len(prefix) + 1:] if prefix else path
        kind = per_schema(f, type_text)
        if set(f.schemas) != root_only:
            kind = f"{alternatives(sorted(f.schemas, key=versions.index))} only: {kind}"
        note = notes.get(path, {})
        required = set(v for v, r in f.required.items() if r)
        if required == set(f.schemas):
            default = "required"
        elif required:
            default = f"required in {alternatives(sorted(required, key=versions.index))}"
        elif "default" in note:
            default = note["default"]
        else:
            defaults = {json.dumps(s["default"]) for s in f.schemas.values() if "default" in s}
            default = code(defaults.pop()) if len(defaults) == 1 else ""
        description = per_schema(f, lambda s: s.get("description", ""), "<br>")
        if f.stray:
            description += (" *The schema defines it beside `properties`, so the schema check skips it; "
                            "the config reader checks its types.*")
        if "note" in note:
            description = f"{description}<br>{note['note']}" if description else note["note"]
        rows.append(f"| `{name}` | {cell(kind)} | {cell(default)} | {cell(description)} |")
    return rows, listed


def render(doc: str, fields: dict[str, Field], notes: dict[str, dict], doc_name: str) -> str:
    lines = doc.split("\n")
    blocks = []  # (begin index, end index, root)
    i = 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        if m:
            end = next((j for j in range(i + 1, len(lines)) if lines[j] == END or BEGIN.match(lines[j])), None)
            if end is None or lines[end] != END:
                raise GenerationError(f"{doc_name}:{i + 1}: {lines[i]} has no {END} before the next table")
            blocks.append((i, end, m.group(1)))
            i = end
        elif lines[i] == END:
            raise GenerationError(f"{doc_name}:{i + 1}: {END} without a BEGIN")
        i += 1
    roots = {root for _, _, root in blocks}
    for _, _, root in blocks:
        if root != TOP and root not in fields:
            raise GenerationError(f"{doc_name}: table {root!r} names no field of the schemas")
    if len(roots) != len(blocks):
        raise GenerationError(f"{doc_name}: a table root appears twice")
    out, last, listed = [], 0, []
    for begin, end, root in blocks:
        rows, paths = table(root, roots, fields, notes)
        listed += paths
        out += lines[last:begin + 1] + rows
        last = end
    out += lines[last:]
    missing = [p for p in fields if not p.endswith("[]") and p not in listed]
    if missing:
        raise GenerationError(f"{doc_name}: no table lists {', '.join(missing)}")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="fail when the doc differs instead of rewriting it")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "config-reference.md")
    ap.add_argument("--notes", type=Path, default=ROOT / "docs" / "config-reference.toml")
    ap.add_argument("--schema-dir", type=Path, default=ROOT / "src" / "config" / "schema")
    args = ap.parse_args()
    try:
        fields = load_fields(args.schema_dir)
        notes = load_notes(args.notes, fields)
        current = args.doc.read_text()
        generated = render(current, fields, notes, args.doc.name)
    except (GenerationError, OSError) as e:
        print(f"gen-config-reference: {e}", file=sys.stderr)
        return 1
    if generated == current:
        return 0
    if args.check:
        diff = difflib.unified_diff(current.splitlines(), generated.splitlines(),
                                    f"{args.doc} (committed)", f"{args.doc} (from the schemas)", lineterm="")
        print("\n".join(diff))
        print(f"gen-config-reference: {args.doc} is stale; run scripts/gen-config-reference.py", file=sys.stderr)
        return 1
    args.doc.write_text(generated)
    print(f"gen-config-reference: rewrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
