#!/usr/bin/env bash
# The main job: the worker on ./test_input.json, exactly as RunPod's local test mode runs it.
# The audio lands in ./output/local_test.<format>. Installs only what the default engine needs (--core): the
# CSM engine's torch is ~5.5 GB that hibari never imports, and scripts/test.sh installs it when needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --core
.venv/bin/python handler.py "$@"
