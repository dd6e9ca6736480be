#!/usr/bin/env bash
# The whole test suite: unit tests plus the end-to-end tests, which drive the real packer and
# a real ninja. Runs once with Debian's ninja 1.11 and once with PyPI's ninja 1.13, because
# they record restat results differently. Installs either Ninja when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ninjas.sh
ensure_debian_ninja
ensure_pypi_ninja
for n in "$DEBIAN_NINJA" "$PYPI_NINJA"; do
  echo "=== cargo test with ninja $("$n" --version) ($n)"
  PACKER_TEST_NINJA="$n" cargo test --locked "$@"
done
