#!/usr/bin/env bash
# Builds packer, makes sure a ninja is available, builds the demo workspace under
# fixtures/demo into fixtures/demo/build/assets.pa, and prints its asset table.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
if command -v ninja >/dev/null; then NINJA=ninja; else . scripts/ninjas.sh; ensure_debian_ninja; NINJA=$DEBIAN_NINJA; fi
cd fixtures/demo
../../target/release/packer gen
"$NINJA"
../../target/release/packer inspect build/assets.pa
