#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter (Rasa 3.6 needs 3.10), or fails clearly.
set -euo pipefail
for candidate in "${PYTHON310:-}" python3.10; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    command -v "$candidate"; exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  for dir in "$(pyenv root)"/versions/3.10.*; do
    if [ -x "$dir/bin/python3.10" ]; then echo "$dir/bin/python3.10"; exit 0; fi
  done
fi
echo "error: Python 3.10 is required (Rasa 3.6 does not run on newer Pythons)." >&2
echo "Install it (e.g. 'pyenv install 3.10.13' or your OS package python3.10) or set PYTHON310=/path/to/python3.10." >&2
exit 1
