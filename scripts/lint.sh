#!/usr/bin/env bash
# House rules as checks (make test runs this; nothing is rewritten):
#   python  ruff check with ruff.toml (pyflakes, pycodestyle at 120 columns,
#           import order, bugbear, pyupgrade) over every .py of the repository
#   cpp     clang-format 14 with .clang-format over src/ tests/ fuzz/
#           (scripts/format-cpp.sh; files in scripts/format-cpp-pending.txt wait)
#
#   scripts/lint.sh            every check
#   scripts/lint.sh python     only the named ones
#   scripts/lint.sh --fix      let ruff and clang-format fix what they can, then check
# Needs scripts/setup.sh (.venv with the pinned ruff).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FIX=0
CHECKS=()
for arg in "$@"; do
  case "$arg" in
    --fix) FIX=1 ;;
    python|cpp) CHECKS+=("$arg") ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "lint.sh: unknown check or option '$arg' (checks: python, cpp)" >&2; exit 2 ;;
  esac
done
((${#CHECKS[@]})) || CHECKS=(python cpp)

PY="$ROOT/.venv/bin/python"
failed=()
for check in "${CHECKS[@]}"; do
  case "$check" in
    python)
      if [[ ! -x "$PY" ]]; then
        echo "lint.sh: $PY is missing: run scripts/setup.sh" >&2
        failed+=(python); continue
      fi
      args=()
      [[ $FIX -eq 1 ]] && args+=(--fix)
      "$PY" -m ruff check "${args[@]}" . || failed+=(python)
      ;;
    cpp)
      args=()
      [[ $FIX -eq 1 ]] && args+=(--fix)
      scripts/format-cpp.sh "${args[@]}" || failed+=(cpp)
      ;;
  esac
done
if ((${#failed[@]})); then
  echo "lint.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "lint.sh: ${CHECKS[*]}: clean"
