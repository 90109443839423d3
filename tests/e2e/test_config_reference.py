"""docs/config-reference.md's field tables are generated from the embedded
schemas by scripts/gen-config-reference.py: the committed doc must be what
the schemas give, and the check must fail when either side moves."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gen-config-reference.py"
DOC = REPO / "docs" / "config-reference.md"
NOTES = REPO / "docs" / "config-reference.toml"
SCHEMA_DIR = REPO / "src" / "config" / "schema"


def generate(*args, doc=DOC, notes=NOTES, schema_dir=SCHEMA_DIR):
    return subprocess.run([sys.executable, str(SCRIPT), "--doc", str(doc), "--notes", str(notes),
                           "--schema-dir", str(schema_dir), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def workdir(tmp_path):
    """Copies of the doc, the notes and the schemas, free to break."""
    shutil.copy(DOC, tmp_path / "config-reference.md")
    shutil.copy(NOTES, tmp_path / "config-reference.toml")
    shutil.copytree(SCHEMA_DIR, tmp_path / "schema")
    return tmp_path


def run_in(workdir, *args):
    return generate(*args, doc=workdir / "config-reference.md", notes=workdir / "config-reference.toml",
                    schema_dir=workdir / "schema")


def row(doc_text, table_root, field):
    """The table row of `field` inside the generated table of `table_root`."""
    start = doc_text.index(f"<!-- BEGIN GENERATED FIELDS: {table_root} -->")
    end = doc_text.index("<!-- END GENERATED FIELDS -->", start)
    return next(line for line in doc_text[start:end].splitlines() if line.startswith(f"| `{field}` |"))


def test_committed_reference_matches_the_schemas():
    r = generate("--check")
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_hand_edit_of_a_generated_table_fails_the_check(workdir):
    doc = workdir / "config-reference.md"
    text = doc.read_text()
    edited = text.replace("| `hosts` | string | required |", "| `hosts` | string | optional |")
    assert edited != text
    doc.write_text(edited)
    r = run_in(workdir, "--check")
    assert r.returncode == 1
    assert "is stale" in r.stderr
    assert "-| `hosts` | string | optional |" in r.stdout and "+| `hosts` | string | required |" in r.stdout
    assert doc.read_text() == edited, "--check must not write"
    # Without --check the table is rewritten and the doc passes again.
    assert run_in(workdir).returncode == 0
    assert doc.read_text() == text
    assert run_in(workdir, "--check").returncode == 0


def test_a_schema_change_fails_the_check_until_regenerated(workdir):
    path = workdir / "schema" / "schema-0.10.0.json"
    schema = json.loads(path.read_text())
    schema["properties"]["service"]["properties"]["checkInterval"] = {
        "description": "A field the doc does not know yet.", "type": ["string", "null"]}
    path.write_text(json.dumps(schema, indent=2))
    r = run_in(workdir, "--check")
    assert r.returncode == 1
    assert "+| `checkInterval` | v0.10.0 only: string or null |  | A field the doc does not know yet. |" in r.stdout
    assert run_in(workdir).returncode == 0
    assert "| `checkInterval` |" in row((workdir / "config-reference.md").read_text(), "service", "checkInterval")


def test_prose_outside_the_tables_is_kept(workdir):
    doc = workdir / "config-reference.md"
    doc.write_text(doc.read_text().replace("## How it is checked", "## How it is checked\n\nA sentence of ours."))
    assert run_in(workdir).returncode == 0
    assert "## How it is checked\n\nA sentence of ours." in doc.read_text()


def test_a_note_for_an_unknown_field_is_an_error(workdir):
    notes = workdir / "config-reference.toml"
    notes.write_text(notes.read_text() + '\n["service.colour"]\nnote = "no such field"\n')
    r = run_in(workdir, "--check")
    assert r.returncode == 1
    assert "'service.colour'" in r.stderr and "is not a field of the schemas" in r.stderr


def test_a_table_for_an_unknown_root_is_an_error(workdir):
    doc = workdir / "config-reference.md"
    doc.write_text(doc.read_text() + "\n<!-- BEGIN GENERATED FIELDS: sidecar -->\n<!-- END GENERATED FIELDS -->\n")
    r = run_in(workdir, "--check")
    assert r.returncode == 1 and "'sidecar' names no field" in r.stderr


def test_a_field_no_table_lists_is_an_error(workdir):
    # Without the top-level table nothing lists logLevel, bootstrapDir, ...
    doc = workdir / "config-reference.md"
    text = doc.read_text()
    start = text.index("<!-- BEGIN GENERATED FIELDS: (top) -->")
    end = text.index("<!-- END GENERATED FIELDS -->", start) + len("<!-- END GENERATED FIELDS -->")
    doc.write_text(text[:start] + text[end:])
    r = run_in(workdir, "--check")
    assert r.returncode == 1
    assert "no table lists logLevel, bootstrapDir" in r.stderr


def test_an_unclosed_table_is_an_error(workdir):
    doc = workdir / "config-reference.md"
    doc.write_text(doc.read_text().replace("<!-- END GENERATED FIELDS -->", "", 1))
    r = run_in(workdir, "--check")
    assert r.returncode == 1 and "has no <!-- END GENERATED FIELDS -->" in r.stderr


def test_rows_say_which_schema_has_a_field_and_where_they_differ():
    text = DOC.read_text()
    assert "| v0.10.0 only: object or null |" in row(text, "(top)", "transparentProxy")
    assert "| v0.10.0 only: object or null |" in row(text, "service", "networkResilienceConfig")
    kind = row(text, "gateway", "kind")
    assert "v0.7.3: `mesh-gateway`; v0.10.0: `mesh-gateway`, `terminating-gateway` or `api-gateway`" in kind
    log_level = row(text, "(top)", "logLevel")
    assert "v0.7.3: Sets the log level for the `consul-ecs control-plane`" in log_level
    assert "v0.10.0: Sets the log level for the `consul-ecs mesh-init`" in log_level
    # Types, limits and required fields come from the schema; defaults from the notes.
    assert row(text, "(top)", "bootstrapDir").startswith(
        "| `bootstrapDir` | string, at least 1 character(s) | required |")
    assert row(text, "service.networkResilienceConfig", "outlierDetection.maxEjectionPercent").startswith(
        "| `outlierDetection.maxEjectionPercent` | integer 0–100 | `50` |")
    assert row(text, "consulServers", "http.port").startswith("| `http.port` | integer or null | `8501` |")
    # The stray `expose` (beside proxy.properties) is listed and flagged.
    assert "the schema check skips it" in row(text, "proxy", "expose")
    assert row(text, "proxy", "expose.paths[].protocol").startswith("| `expose.paths[].protocol` | `http` or `http2` |")
