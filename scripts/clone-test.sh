#!/usr/bin/env bash
# A newcomer's first minutes, proven: clones this repository's HEAD into an empty temporary
# directory (nothing beside it, so nothing outside the clone can be read), then runs the
# README's two commands there, exactly as written. .ci/run runs this.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q "$repo" "$tmp/p"
cd "$tmp/p"
ls -A "$tmp" | grep -qx p && [ "$(ls -A "$tmp" | wc -l)" = 1 ] || { echo "error: $tmp is not empty" >&2; exit 1; }
# The README's first two commands, read from the README itself.
mapfile -t cmds < <(awk '/^```sh$/ {on=1; next} /^```$/ {if (on) exit} on' README.md | sed 's/ *#.*$//' | grep -v '^$' | head -2)
[ "${#cmds[@]}" = 2 ] || { echo "error: the README does not start with two commands" >&2; exit 1; }
for c in "${cmds[@]}"; do
  echo "=== in a fresh clone ($tmp/p): $c" >&2
  bash -c "$c"
done
