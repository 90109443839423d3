#!/usr/bin/env bash
# The C++ house style (.clang-format) as a check, with Debian 12's
# clang-format 14 (other versions format differently, so none is accepted):
#   scripts/format-cpp.sh          list every file clang-format would change
#                                  (with the first lines of its diff); exit 1 if any
#   scripts/format-cpp.sh --fix    format those files in place
#   scripts/format-cpp.sh --all    also the files of scripts/format-cpp-pending.txt
# Files: the *.cpp and *.h under src/, tests/ and fuzz/ that git tracks or
# would add. scripts/format-cpp-pending.txt lists files not formatted yet
# (being rewritten on another branch, to be formatted when that lands): they
# are skipped, and a listed file that is already formatted, or gone, is an
# error, so the list only shrinks.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PENDING=scripts/format-cpp-pending.txt
FIX=0
ALL=0
for arg in "$@"; do
  case "$arg" in
    --fix) FIX=1 ;;
    --all) ALL=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "format-cpp.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

CLANG_FORMAT="${CLANG_FORMAT:-clang-format-14}"
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "format-cpp.sh: $CLANG_FORMAT not found: run scripts/setup.sh --deps-only (Debian package clang-format-14)" >&2
  exit 1
fi
if ! "$CLANG_FORMAT" --version | grep -q 'clang-format version 14\.'; then
  echo "format-cpp.sh: need clang-format 14, $CLANG_FORMAT is: $("$CLANG_FORMAT" --version)" >&2
  exit 1
fi

declare -A pending=()
if [[ $ALL -eq 0 && -f $PENDING ]]; then
  while IFS= read -r line; do
    line="${line%%#*}"
    line="${line//[[:space:]]/}"
    [[ -n $line ]] && pending["$line"]=1
  done < "$PENDING"
fi

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- 'src/*.cpp' 'src/*.h' \
  'tests/*.cpp' 'tests/*.h' 'fuzz/*.cpp' 'fuzz/*.h' | sort -u)

formatted="$(mktemp)"
trap 'rm -f "$formatted"' EXIT
errors=0
unformatted=()
for file in "${!pending[@]}"; do
  if [[ ! -f $file ]]; then
    echo "format-cpp.sh: $PENDING lists $file, which does not exist: remove it from the list" >&2
    errors=1
  fi
done
for file in "${files[@]}"; do
  [[ -f $file ]] || continue  # deleted in the work tree
  if ! "$CLANG_FORMAT" --style=file "$file" > "$formatted"; then
    echo "format-cpp.sh: clang-format failed on $file" >&2
    errors=1
    continue
  fi
  if cmp -s "$formatted" "$file"; then
    if [[ -n ${pending[$file]:-} ]]; then
      echo "format-cpp.sh: $file is formatted: remove it from $PENDING" >&2
      errors=1
    fi
    continue
  fi
  [[ -n ${pending[$file]:-} ]] && continue
  if [[ $FIX -eq 1 ]]; then
    "$CLANG_FORMAT" --style=file -i "$file" && echo "formatted $file"
  else
    unformatted+=("$file")
    echo "--- $file needs formatting:"
    diff -u --label "$file" --label "$file (clang-format)" "$file" "$formatted" | sed -n '3,22p'
  fi
done

if ((${#unformatted[@]})); then
  echo "format-cpp.sh: ${#unformatted[@]} file(s) not in the house style (.clang-format): scripts/format-cpp.sh --fix" >&2
  errors=1
fi
if ((errors)); then exit 1; fi
echo "format-cpp.sh: ${#files[@]} files checked, ${#pending[@]} pending ($PENDING): clean"
