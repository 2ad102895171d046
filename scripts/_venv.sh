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

# ensure_venv [EXTRAS]: make .venv if needed and install Townhall (editable) with those extras,
# skipped when pyproject.toml has not changed since the last install with them.
ensure_venv() {
  local extras="${1:-}" spec="." hash stamp
  [ -n "$extras" ] && spec=".[$extras]"
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Townhall needs Python 3.11 or newer; set PYTHON to one (now: $PYTHON)." >&2
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
  hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  stamp="$VENV/.installed-${extras:-base}"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; then
    echo "Installing Townhall${extras:+ with $extras extras} into $VENV..."
    "$VENV/bin/python" -m pip install -qq --disable-pip-version-check -e "$spec"
    echo "$hash" >"$stamp"
    # An install with extras also holds everything the base install has.
    [ -n "$extras" ] && echo "$hash" >"$VENV/.installed-base"
  fi
  return 0
}

# ensure_native: build the native fan-out loop into its cache if it is not there (a few
# seconds, once); says so when it cannot be built, and the media plane then uses Python.
ensure_native() {
  "$VENV/bin/python" -m townhall.media.native || true
}
