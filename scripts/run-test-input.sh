#!/usr/bin/env bash
# The main job: the worker on ./test_input.json, exactly as RunPod's local test mode runs it.
# The audio lands in ./output/local_test.<format>.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python handler.py "$@"
