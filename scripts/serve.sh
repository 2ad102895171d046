#!/usr/bin/env bash
# Run Townhall on this machine: make .venv on first use, install, migrate and serve.
# Arguments go to `townhall serve` (for example --port 8080); set TOWNHALL_CONFIG for a TOML file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_venv.sh

ensure_venv
exec "$VENV/bin/townhall" serve "$@"
