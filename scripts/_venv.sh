# Sourced by serve.sh and test.sh: Debian packages on demand, and .venv with Townhall installed.
# Not a command of its own.

PYTHON="${PYTHON:-python3}"
VENV=".venv"

# apt_need PACKAGE...: install those Debian packages that are missing (apt-get update only then).
apt_need() {
  local missing=() package sudo=()
  command -v dpkg-query >/dev/null || return 0
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "Please install these Debian packages as root: ${missing[*]}" >&2
      return 1
    fi
    sudo=(sudo)
  fi
  echo "Installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# lock_inputs: a digest of what the lock files are made from (pyproject.toml's dependencies,
# extras, build requirements and Python versions); scripts/lock.sh writes it in each lock.
lock_inputs() {
  "$PYTHON" - <<'EOF'
import hashlib, json, tomllib
with open("pyproject.toml", "rb") as f:
    data = tomllib.load(f)
project = data["project"]
inputs = {
    "build": data["build-system"]["requires"],
    "dependencies": project["dependencies"],
    "extras": project.get("optional-dependencies", {}),
    "python": project.get("requires-python"),
}
print(hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16])
EOF
}

# ensure_venv [EXTRAS]: make .venv if needed and install exactly what the lock file says
# (requirements-dev.lock with the dev extras, requirements.lock without; every file checked
# against its hash), then Townhall itself (editable, no dependencies of its own). Skipped
# when neither pyproject.toml nor the lock file changed since the last install.
ensure_venv() {
  local extras="${1:-}" lock="requirements.lock" hash stamp
  [ -n "$extras" ] && lock="requirements-$extras.lock"
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Townhall needs Python 3.11 or newer; set PYTHON to one (now: $PYTHON)." >&2
    return 1
  fi
  if [ "$(sed -n 's/^# dependencies: //p' "$lock" 2>/dev/null)" != "$(lock_inputs)" ]; then
    echo "$lock does not match the dependencies in pyproject.toml: run ./scripts/lock.sh" \
      "and commit the lock files with the change." >&2
    return 1
  fi
  if [ -d "$VENV" ] && ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "Rebuilding $VENV: it is broken or was made by another Python."
    rm -rf "$VENV"
  fi
  if [ ! -d "$VENV" ]; then
    # Debian ships venv's pip bootstrap separately.
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || apt_need python3-venv
    "$PYTHON" -m venv "$VENV"
  fi
  hash="$(cat pyproject.toml "$lock" | sha256sum | cut -d' ' -f1)"
  stamp="$VENV/.installed-${extras:-base}"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; then
    echo "Installing Townhall${extras:+ with $extras extras} into $VENV from $lock..."
    "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --require-hashes -r "$lock"
    # Its dependencies and build backend are all in the lock: nothing else is fetched.
    "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --no-deps \
      --no-build-isolation -e .
    echo "$hash" >"$stamp"
    # The dev lock holds the serving one at the same versions.
    [ -n "$extras" ] && cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1 \
      >"$VENV/.installed-base"
  fi
  return 0
}

# ensure_native: build the native fan-out loop into its cache if it is not there (a few
# seconds, once); says so when it cannot be built, and the media plane then uses Python.
ensure_native() {
  "$VENV/bin/python" -m townhall.media.native || true
}
