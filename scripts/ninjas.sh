# Sourced by the other scripts: finds (or installs) the two Ninja lines packer is tested with.
#   DEBIAN_NINJA  Debian's ninja-build (1.11 on bookworm), installed with apt-get when missing
#   PYPI_NINJA    PyPI's `ninja` package (1.13), installed with pip under target/pyninja

ensure_debian_ninja() {
  if [ ! -x /usr/bin/ninja ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing Debian's ninja-build with apt-get" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ninja-build >&2
    else
      echo "error: /usr/bin/ninja is missing; install it with: sudo apt-get install ninja-build" >&2
      return 1
    fi
  fi
  DEBIAN_NINJA=/usr/bin/ninja
}

ensure_pypi_ninja() {
  local dir="$PWD/target/pyninja"
  PYPI_NINJA="$dir/bin/ninja"
  if [ ! -x "$PYPI_NINJA" ]; then
    echo "installing PyPI's ninja 1.13 with pip into target/pyninja" >&2
    python3 -m pip install --quiet --disable-pip-version-check --target "$dir" 'ninja>=1.13,<1.14' >&2
  fi
  [ -x "$PYPI_NINJA" ] || { echo "error: pip did not provide $PYPI_NINJA" >&2; return 1; }
}
