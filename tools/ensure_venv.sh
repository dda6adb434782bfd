#!/usr/bin/env bash
# Creates or refreshes the virtual environment from requirements.lock.
# The lock's sha256 is recorded in the venv; a missing venv or a changed lock triggers a sync.
set -euo pipefail
python="$1"; venv="$2"; uv_version="$3"
lock=requirements.lock
stamp="$venv/.lock-sha256"
# The recipe is part of the stamp: a venv synced by an earlier recipe (without bytecode) is
# synced again.
recipe="compile-bytecode"
want="$(sha256sum "$lock" | cut -d' ' -f1) $recipe"
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
# --compile-bytecode: every process of a run (each test worker, each DAG run, the emulator)
# otherwise compiles the modules it imports from source whenever .pyc files cannot be written
# (PYTHONDONTWRITEBYTECODE is often set), which was a second of CPU per process.
"$venv/bin/uv" pip sync --quiet --compile-bytecode --python "$venv/bin/python" --require-hashes "$lock"
echo "$want" > "$stamp"
