#!/usr/bin/env bash
# Formats the C++ sources with .clang-format, or with --check only reports the files that
# differ and fails (what `make test` runs, so a formatting drift fails CI).
# The files: those git knows (tracked, and new ones not ignored), so build trees and
# anything ignored stay out; without git (an exported tarball), the C++ files under
# src/ tests/ bench/ fuzz/. CLANG_FORMAT picks the binary: clang-format 14, Debian 12's,
# is the reference, because another version formats some constructs differently.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=fix
case "${1:-}" in
  --check) mode=check ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

clang_format="${CLANG_FORMAT:-clang-format-14}"
if ! command -v "$clang_format" >/dev/null 2>&1; then
  echo "format: $clang_format not found; run 'make deps' (Debian package clang-format-14)" >&2
  exit 2
fi

files=()
if command -v git >/dev/null 2>&1 && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  while IFS= read -r -d '' f; do
    [ -f "$f" ] && files+=("$f")  # a deleted but still tracked file is skipped
  done < <(git ls-files -z --cached --others --exclude-standard -- '*.cpp' '*.hpp' '*.h')
else
  while IFS= read -r -d '' f; do files+=("$f"); done < <(
    find src tests bench fuzz -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) -print0)
fi
[ ${#files[@]} -eq 0 ] && { echo "format: no C++ files found" >&2; exit 2; }

if [ "$mode" = fix ]; then
  printf '%s\0' "${files[@]}" | xargs -0 "$clang_format" -i --style=file
  exit 0
fi

# --Werror turns each replacement into an error naming file and line; only the list of
# files is printed here, with the command that fixes them, so a failure reads in one glance.
if ! out=$(printf '%s\0' "${files[@]}" |
             xargs -0 "$clang_format" --dry-run --Werror --style=file 2>&1); then
  drift=$(printf '%s\n' "$out" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' |
            sort -u)
  if [ -z "$drift" ]; then
    printf '%s\n' "$out" >&2  # not a formatting finding (a parse error?): show it whole
  else
    echo "format-check: these files differ from .clang-format ($("$clang_format" --version | sed 's/.*version //')):" >&2
    printf '  %s\n' $drift >&2
    echo "run 'make format' to fix them (or see each change: $clang_format --dry-run FILE)" >&2
  fi
  exit 1
fi
