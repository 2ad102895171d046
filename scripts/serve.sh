#!/usr/bin/env bash
# Run Townhall on this machine: make .venv on first use, install, migrate and serve.
# Arguments go to `townhall serve` (for example --port 8080); set TOWNHALL_CONFIG for a TOML file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_venv.sh

ensure_venv
# Optional: without a C compiler the media plane uses its slower Python fan-out loop.
apt_need gcc python3-dev || echo "Without gcc and python3-dev, audio uses a slower fan-out loop."
ensure_native
exec "$VENV/bin/townhall" serve "$@"
