#!/usr/bin/env bash
# Creates ./.venv once and installs into it what the calling command needs, again only when the requirement
# files change:
#   bash scripts/setup.sh          everything: both engines, the tests and the client tests' tools (~6 GB)
#   bash scripts/setup.sh --core   only the default engine, hibari (~0.4 GB): torch and transformers are CSM's
# Works on a fresh Debian machine: installs python3-venv (and, for the tests, curl and Node.js) with apt when
# they are missing. The first install takes minutes, so every stage says what it does; pip's own progress
# shows in a terminal, and CI logs (CI=true, or output not a terminal) get only the stage lines.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
case "${1:-}" in
  --core) mode=core ;;
  "") ;;
  *) echo "usage: bash scripts/setup.sh [--core]" >&2; exit 2 ;;
esac

say() { echo "setup: $*"; }

apt_install() {  # apt_install PACKAGE...: as root, or through sudo; else say what is missing
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "setup: please install: $*" >&2
    return 1
  fi
}

if [ -t 1 ] && [ -z "${CI:-}" ]; then
  pip_quiet=()
else
  pip_quiet=(-q --progress-bar off)  # thousands of lines of "Collecting ..." would bury the test output in CI
fi

PY=${PYTHON:-$(command -v python3.11 || command -v python3 || true)}
[ -n "$PY" ] || { echo "setup: no python3 found; install Python 3.11 (apt-get install python3)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PY"
  if ! "$PY" -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    say "'$PY -m venv' needs python3-venv; installing it with apt"
    apt_install python3-venv
    "$PY" -m venv .venv
  fi
fi

# constraints.txt pins every indirect package too (scripts/lock.py), so a fresh machine installs what CI tested.
# One stamp per set: a full install also satisfies --core (requirements.txt repeats requirements-core.txt).
core_stamp=.venv/.requirements-core.sha256
all_stamp=.venv/.requirements-all.sha256
core_want=$(cat requirements-core.txt constraints.txt | sha256sum | cut -d' ' -f1)
all_want=$(cat requirements-core.txt requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -d' ' -f1)
stamp_is() { [ "$(cat "$1" 2>/dev/null || true)" = "$2" ]; }

pip_install() {  # pip_install FILE EXPECTATION
  local start=$SECONDS
  say "installing $1 into .venv ($2)"
  .venv/bin/python -m pip install --disable-pip-version-check "${pip_quiet[@]}" -r "$1" -c constraints.txt
  say "installed $1 in $((SECONDS - start)) s; .venv now takes $(du -sh .venv | cut -f1)"
}

if [ "$mode" = core ]; then
  if ! stamp_is "$core_stamp" "$core_want" && ! stamp_is "$all_stamp" "$all_want"; then
    pip_install requirements-core.txt "hibari only: about 0.5 GB, a minute or less"
    echo "$core_want" > "$core_stamp"
  fi
  exit 0
fi

if ! stamp_is "$all_stamp" "$all_want"; then
  pip_install requirements-dev.txt "everything: about 6 GB with torch's CUDA libraries, 2 to 5 minutes"
  echo "$all_want" > "$all_stamp"
  echo "$core_want" > "$core_stamp"
fi

# The example clients' tests need curl, and Node.js for the Supabase edge function's request module.
missing=""
command -v curl >/dev/null || missing="$missing curl"
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
  say "installing$missing with apt (for the client tests)"
  apt_install $missing || echo "setup: without$missing the client tests cannot run" >&2
fi
supa=examples/supabase
if command -v npm >/dev/null; then
  want=$(sha256sum "$supa/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$supa/node_modules/.lock.sha256" 2>/dev/null || true)" != "$want" ]; then
    say "installing the Supabase example's node modules (npm ci)"
    (cd "$supa" && npm ci --no-audit --no-fund --silent)
    echo "$want" > "$supa/node_modules/.lock.sha256"
  fi
fi
