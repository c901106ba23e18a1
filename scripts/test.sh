#!/usr/bin/env bash
# Lint (ruff) and the test suite (pytest), in ./.venv with every requirement (the CSM tests need torch).
# Extra arguments go to pytest, e.g. -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
