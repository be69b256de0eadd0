# Shared by bin/run and bin/test: find Python >= 3.12 and keep .venv in step with pyproject.toml.
# Sourced, not executed.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

python_ok() {
  "$1" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

# $PYTHON wins; then pythonX.Y on PATH (newest first); then pyenv's versions; then python3.
find_python() {
  local candidate version
  if [ -n "${PYTHON:-}" ]; then
    python_ok "$PYTHON" && { echo "$PYTHON"; return; }
    die "PYTHON=$PYTHON is not a working Python >= 3.12"
  fi
  for version in 3.14 3.13 3.12; do
    candidate=$(command -v "python$version" 2>/dev/null) || continue
    python_ok "$candidate" && { echo "$candidate"; return; }
  done
  if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])' | sort -rV); do
      candidate="$(pyenv root)/versions/$version/bin/python"
      python_ok "$candidate" && { echo "$candidate"; return; }
    done
  fi
  for candidate in python3 python; do
    candidate=$(command -v "$candidate" 2>/dev/null) || continue
    python_ok "$candidate" && { echo "$candidate"; return; }
  done
  die "Seedream Gallery needs Python 3.12 or newer (with venv). Install it, or point PYTHON at one."
}

# ensure_venv [extras]: create .venv if needed and install the project when pyproject.toml changed.
ensure_venv() {
  local extras="${1:-}" stamp want
  if [ -x "$VENV/bin/python" ] && ! python_ok "$VENV/bin/python"; then
    say "The virtualenv's Python is too old; recreating .venv"
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    local py; py=$(find_python)
    say "Creating .venv with $("$py" -c 'import sys; print(sys.version.split()[0])') ($py)"
    "$py" -m venv "$VENV" || die "could not create a virtualenv with $py"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
  fi
  stamp="$VENV/.installed${extras:+-$extras}"
  want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  # An install with the dev extras also satisfies a plain one.
  if [ -z "$extras" ] && [ -f "$VENV/.installed-dev" ] && [ "$(cat "$VENV/.installed-dev")" = "$want" ]; then
    stamp="$VENV/.installed-dev"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "Installing Python packages${extras:+ (with $extras)}"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -e "$ROOT${extras:+[$extras]}" || die "pip install failed"
    echo "$want" > "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}
