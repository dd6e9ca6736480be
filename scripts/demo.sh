#!/usr/bin/env bash
# Builds packer, makes sure a ninja is available, builds the demo workspace under
# fixtures/demo into fixtures/demo/build/assets.pa, and prints its asset table.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> building packer (release; the first build compiles every dependency and takes a few minutes)" >&2
cargo build --release --locked
if command -v ninja >/dev/null; then NINJA=ninja; else . scripts/ninjas.sh; ensure_debian_ninja; NINJA=$DEBIAN_NINJA; fi
cd fixtures/demo
echo "==> packer gen in fixtures/demo: hashing the sources, writing the key files and build.ninja" >&2
../../target/release/packer gen
echo "==> $NINJA: running the steps that build/assets.pa needs" >&2
"$NINJA"
echo "==> packer inspect build/assets.pa: the asset table inside the container" >&2
../../target/release/packer inspect build/assets.pa
