#!/usr/bin/env bash
# The whole test suite: unit tests plus the end-to-end tests, which drive the real packer and
# a real ninja. Runs once with Debian's ninja 1.11 and once with PyPI's ninja 1.13, because
# they record restat results differently. Installs either Ninja when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ninjas.sh
ensure_debian_ninja
ensure_pypi_ninja
echo "=== cargo test (unit and end-to-end) with ninja $("$DEBIAN_NINJA" --version) ($DEBIAN_NINJA)"
PACKER_TEST_NINJA="$DEBIAN_NINJA" cargo test --locked "$@"
# The unit tests do not use Ninja: the second line only needs the end-to-end binary.
echo "=== cargo test (end-to-end) with ninja $("$PYPI_NINJA" --version) ($PYPI_NINJA)"
PACKER_TEST_NINJA="$PYPI_NINJA" cargo test --locked --test e2e "$@"
