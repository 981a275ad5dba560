#!/usr/bin/env bash
# CI: the package works when installed from a wheel, not only as an editable checkout (docs/installing.md).
#
# Builds the wheel from a copy of the source tree (so no build/ folder lands in the checkout), checks that
# it holds every module and config of the tree (setup.py finds the packages), installs it
# into a FRESH virtual environment (pinned CPU torch first, then the wheel under constraints.txt) and
# runs a tiny `deep-smfg solve` and the two worked examples (examples/) from a folder outside the source tree.
# Fails loudly on any step.
#   bash scripts/check_wheel.sh            PY=python3.11 bash scripts/check_wheel.sh   KEEP_TMP=1: keep the temp folder
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-python3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/deep_smfg_wheel.XXXXXX")
cleanup() { if [[ -n "${KEEP_TMP:-}" ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT
fail() { echo "check_wheel: FAILED: $*" >&2; exit 1; }
step() { echo "check_wheel: [${SECONDS}s] $*"; }

step "copying the source tree (tracked and untracked, not ignored files) to $TMP/src"
mkdir -p "$TMP/src"
git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [[ -f "$f" ]] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$TMP/src"

step "building the wheel"
"$PY" -m pip wheel -q --no-deps -w "$TMP/dist" "$TMP/src" || fail "pip wheel"
WHEEL=$(ls "$TMP"/dist/deep_smfg-*.whl)

step "checking that $(basename "$WHEEL") holds every module and config of the tree"
MISSING_HINT="the wheel misses files: see the packages and package data in setup.py"
(cd "$TMP/src" && "$PY" - "$WHEEL") <<'EOF' || fail "$MISSING_HINT"
import sys, zipfile
from pathlib import Path

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
expected = {p.as_posix() for p in Path("deep_smfg").rglob("*.py") if "__pycache__" not in p.parts}
expected |= {"deep_smfg/" + p.as_posix() for p in Path("configs").rglob("*") if p.suffix in (".yaml", ".py")}
missing = sorted(expected - names)
for name in missing:
    print(f"  missing from the wheel: {name}", file=sys.stderr)
sys.exit(1 if missing else 0)
EOF

step "creating a fresh virtual environment"
"$PY" -m venv "$TMP/venv"
VPIP="$TMP/venv/bin/pip"
step "installing torch==2.13.0 (pinned: the CPU build) into it"
"$VPIP" install -q torch==2.13.0 || fail "pip install torch==2.13.0"
step "installing the wheel with -c constraints.txt"
"$VPIP" install -q -c "$ROOT/constraints.txt" "$WHEEL" || fail "pip install the wheel"

step "running deep-smfg solve from $TMP (outside the source tree)"
cd "$TMP"
CLEAN_ENV=(env -u PYTHONPATH -u DEEP_SMFG_CONFIG_DIR)  # nothing may point back into the checkout
"${CLEAN_ENV[@]}" "$TMP/venv/bin/python" - "$TMP/venv" <<'EOF' || fail "deep_smfg is not imported from the fresh venv"
import sys
from pathlib import Path

import deep_smfg
from deep_smfg.cli import config_dir

venv = Path(sys.argv[1]).resolve()
for what, path in (("deep_smfg", Path(deep_smfg.__file__)), ("configs", config_dir())):
    print(f"  {what}: {path}")
    if venv not in path.resolve().parents:
        sys.exit(f"{what} comes from {path}, not from {venv}")
EOF
"${CLEAN_ENV[@]}" "$TMP/venv/bin/deep-smfg" solve game=congestion_toll optimum.n_starts=1 \
    optimum.n_steps=5 run_dir="$TMP/run" || fail "deep-smfg solve exited with $?"
[[ -s "$TMP/run/summary.json" ]] || fail "no $TMP/run/summary.json"
"$TMP/venv/bin/python" -c 'import json, sys; assert "phi_star" in json.load(open(sys.argv[1]))' \
    "$TMP/run/summary.json" || fail "summary.json has no phi_star"
# The two worked examples of docs/custom_games.md, as a user runs them from their own folders: train (short) from
# the example's config folder, evaluate among n players, then load the run (load_run, load_from_checkpoint), check
# that both reproduce the checkpoint's actions exactly, and train it again from Python (deep_smfg.train).
cp -r "$ROOT/examples" "$TMP/examples"
for example in road_toll:finite exponential_demand:continuous; do
    name=${example%%:*}; kind=${example##*:}
    step "worked example $name ($kind): train, evaluate, load and act, from $TMP/examples/$name"
    cd "$TMP/examples/$name"
    extra=(); [[ $kind == continuous ]] && extra=(algo.best_response_iterations=100)
    "${CLEAN_ENV[@]}" "$TMP/venv/bin/deep-smfg" train --config-dir ./conf game="$name" algo.iterations=300 \
        algo.eval_every=100 algo.checkpoint_every=100 logger=csv progress_bar=false "${extra[@]}" \
        run_dir="$TMP/runs/$name" || fail "deep-smfg train on the example $name exited with $?"
    "${CLEAN_ENV[@]}" "$TMP/venv/bin/deep-smfg" evaluate run_dir="$TMP/runs/$name" "n_players=[2,20]" games=2 \
        periods=200 best_response_iterations=50 || fail "deep-smfg evaluate on the example $name exited with $?"
    [[ -s "$TMP/runs/$name/n_player/summary.json" ]] || fail "no n_player summary for $name"
    "${CLEAN_ENV[@]}" "$TMP/venv/bin/python" ../check_example.py "$name" "$kind" "$TMP/runs/$name" \
        || fail "loading the example $name's run, or training it from Python, failed"
done
step "OK: the wheel installs and runs (${SECONDS}s)"
