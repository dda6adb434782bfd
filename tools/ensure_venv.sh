#!/usr/bin/env bash
# Creates or refreshes the virtual environment from requirements.lock.
# The lock's sha256 is recorded in the venv; a missing venv or a changed lock triggers a sync.
set -euo pipefail
python="$1"; venv="$2"; uv_version="$3"
lock=requirements.lock
stamp="$venv/.lock-sha256"
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
echo "setting up $venv from $lock"
if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
# uv installs the locked set in seconds where pip takes minutes; it is itself pinned in the lock.
if [[ ! -x "$venv/bin/uv" ]]; then
  "$venv/bin/python" -m pip install --quiet "uv==$uv_version"
fi
"$venv/bin/uv" pip sync --quiet --python "$venv/bin/python" --require-hashes "$lock"
echo "$want" > "$stamp"
