"""scripts/format-cpp.sh, the C++ style check (.clang-format, clang-format
14), on a scratch git repository: it must fail on an unformatted file, pass
once --fix formatted it, and keep its list of pending files honest."""
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FORMATTED = '#include "a.h"\n\nint add(int a, int b) { return a + b; }\n'
UNFORMATTED = '#include "a.h"\n\nint  add( int a,int b ) {\n  return a+b;\n}\n'


@pytest.fixture
def scratch(tmp_path):
    if shutil.which("clang-format-14") is None:
        pytest.fail("clang-format-14 is missing: scripts/setup.sh --deps-only installs it")
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "format-cpp.sh", tmp_path / "scripts")
    shutil.copy(REPO / ".clang-format", tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "good.cpp").write_text(FORMATTED)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    return tmp_path


def check(repo, *args):
    return subprocess.run([str(repo / "scripts" / "format-cpp.sh"), *args], capture_output=True, text=True,
                          timeout=120)


def test_formatted_tree_passes(scratch):
    r = check(scratch)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 files checked" in r.stdout


def test_unformatted_file_fails_until_fixed(scratch):
    bad = scratch / "src" / "bad.cpp"
    bad.write_text(UNFORMATTED)  # untracked: new files are checked too
    r = check(scratch)
    assert r.returncode == 1
    assert "src/bad.cpp needs formatting" in r.stdout and "-int  add( int a,int b ) {" in r.stdout
    assert bad.read_text() == UNFORMATTED, "the check must not write"
    r = check(scratch, "--fix")
    assert r.returncode == 0, r.stdout + r.stderr
    assert bad.read_text() == FORMATTED
    assert check(scratch).returncode == 0


def test_pending_files_are_skipped_and_the_list_only_shrinks(scratch):
    pending = scratch / "scripts" / "format-cpp-pending.txt"
    (scratch / "src" / "bad.cpp").write_text(UNFORMATTED)
    pending.write_text("# being rewritten elsewhere\nsrc/bad.cpp\n")
    r = check(scratch)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 pending" in r.stdout
    assert check(scratch, "--all").returncode == 1
    # Listed but already formatted, or gone: the list is stale.
    pending.write_text("src/good.cpp\nsrc/bad.cpp\n")
    r = check(scratch)
    assert r.returncode == 1 and "src/good.cpp is formatted: remove it from" in r.stderr
    pending.write_text("src/bad.cpp\nsrc/gone.cpp\n")
    r = check(scratch)
    assert r.returncode == 1 and "lists src/gone.cpp, which does not exist" in r.stderr


def test_only_clang_format_14_is_accepted(scratch, tmp_path):
    fake = tmp_path / "clang-format-15"
    fake.write_text("#!/bin/sh\necho 'Debian clang-format version 15.0.6'\n")
    fake.chmod(0o755)
    r = subprocess.run([str(scratch / "scripts" / "format-cpp.sh")], capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "CLANG_FORMAT": str(fake)})
    assert r.returncode == 1 and "need clang-format 14" in r.stderr
