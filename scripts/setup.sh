#!/usr/bin/env bash
# Creates ./.venv once and (re)installs requirements-dev.txt whenever the requirement files change.
# Works on a fresh Debian machine: installs python3-venv with apt when the interpreter lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."

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

PY=${PYTHON:-$(command -v python3.11 || command -v python3 || true)}
[ -n "$PY" ] || { echo "setup: no python3 found; install Python 3.11 (apt-get install python3)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    echo "setup: '$PY -m venv' needs python3-venv; installing it"
    apt_install python3-venv
    "$PY" -m venv .venv
  fi
fi

stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing requirements into .venv (torch is large: the first time takes minutes)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

# The example clients' tests need curl, and Node.js for the Supabase edge function's request module.
missing=""
command -v curl >/dev/null || missing="$missing curl"
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  apt_install $missing || echo "setup: without$missing the client tests cannot run" >&2
fi
supa=examples/supabase
if command -v npm >/dev/null; then
  want=$(sha256sum "$supa/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$supa/node_modules/.lock.sha256" 2>/dev/null || true)" != "$want" ]; then
    (cd "$supa" && npm ci --no-audit --no-fund --silent)
    echo "$want" > "$supa/node_modules/.lock.sha256"
  fi
fi
