#!/usr/bin/env bash
# Refresh the lock files from pyproject.toml: every dependency, direct and transitive, at
# one version with the hashes of its files, for every Python Townhall supports.
#   requirements.lock      what `townhall serve` needs (scripts/serve.sh installs it)
#   requirements-dev.lock  that plus the dev extras (scripts/test.sh, and so CI)
# Run it after changing a dependency in pyproject.toml, or to take newer versions of the
# transitive ones (--upgrade, or --upgrade-package NAME: arguments go to `uv pip compile`);
# commit the lock files with the change. docs/operations.md, "Dependencies".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_venv.sh

UV_VERSION="0.13.8" # the resolver, pinned: the same inputs give the same lock files
TOOL=".venv-lock"

if [ "$("$TOOL/bin/uv" --version 2>/dev/null)" != "uv $UV_VERSION" ]; then
  rm -rf "$TOOL"
  "$PYTHON" -m venv "$TOOL"
  "$TOOL/bin/python" -m pip install -qq --disable-pip-version-check "uv==$UV_VERSION"
fi

# The build backend is locked too: the project is installed without build isolation.
build_in="$(mktemp)"
trap 'rm -f "$build_in"' EXIT
"$PYTHON" - "$build_in" <<'EOF'
import sys, tomllib
with open("pyproject.toml", "rb") as f:
    requires = tomllib.load(f)["build-system"]["requires"]
open(sys.argv[1], "w").write("\n".join(requires) + "\n")
EOF

compile() {
  local out="$1"
  shift
  "$TOOL/bin/uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes \
    --no-header --custom-compile-command ./scripts/lock.sh \
    pyproject.toml "$build_in" "$@" -o "$out.new"
  {
    echo "# Made by ./scripts/lock.sh (uv $UV_VERSION) from pyproject.toml; do not edit."
    echo "# dependencies: $(lock_inputs)"
    sed "s#$build_in#pyproject.toml (build-system)#" "$out.new"
  } >"$out"
  rm -f "$out.new"
}

# The development lock first; the serving one takes the same versions (a subset of it).
compile requirements-dev.lock --extra dev "$@"
compile requirements.lock -c requirements-dev.lock
echo "Wrote requirements.lock and requirements-dev.lock."
