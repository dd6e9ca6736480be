#!/usr/bin/env bash
# A 60-line model of packer's gating protocol (doc/design.md, "The gating protocol"), runnable
# with any Ninja:
#   scripts/gating-demo.sh [path-to-ninja]
# A fake "gen" hashes the sources and rewrites a key file only when a key changes; action edges
# are gated by their key file and list their source as order-only; the generator edge outputs
# build.ninja plus every key file. Expected log, with Ninja 1.11 and 1.13 alike:
#   first build: both steps + pack | no-op: nothing | touch all: gen only
#   edit a: gen, step a, pack      | deleted key file: gen, step b (restat stops pack)
set -eu
NINJA=${1:-ninja}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cat > "$T/gen.sh" <<'EOF'
#!/bin/bash
set -e
cd "$(dirname "$0")/w"; mkdir -p build/keys; echo "gen" >> ../log
for a in a b; do
  k=$(sha1sum < src/$a.txt | cut -c1-16)
  [ -f build/keys/$a.key ] && [ "$(cat build/keys/$a.key)" = "$k" ] || { echo "$k" > build/keys/$a.tmp; mv build/keys/$a.tmp build/keys/$a.key; }
done
cat > build.ninja.tmp <<NIN
builddir = build
rule gen
  command = ../gen.sh
  generator = 1
  restat = 1
rule step
  command = echo "step \$out" >> ../log && (cmp -s \$src \$out || cp \$src \$out)
  restat = 1
rule pack
  command = echo "pack" >> ../log && cat \$in > \$out.tmp && (cmp -s \$out.tmp \$out && rm \$out.tmp || mv \$out.tmp \$out)
  restat = 1
build build.ninja | build/keys/a.key build/keys/b.key: gen src/a.txt src/b.txt ../gen.sh
build build/a.out: step build/keys/a.key || src/a.txt
  src = src/a.txt
build build/b.out: step build/keys/b.key || src/b.txt
  src = src/b.txt
build build/all.pa: pack build/a.out build/b.out
default build/all.pa
NIN
if [ -f build.ninja ] && cmp -s build.ninja.tmp build.ninja; then rm build.ninja.tmp; else mv build.ninja.tmp build.ninja; fi
EOF
chmod +x "$T/gen.sh"; mkdir -p "$T/w/src"; echo A > "$T/w/src/a.txt"; echo B > "$T/w/src/b.txt"
"$T/gen.sh"; : > "$T/log"
step() { (cd "$T/w" && "$NINJA" >/dev/null); echo "$1: $(tr '\n' ' ' < "$T/log")"; : > "$T/log"; }
step "first build"; step "no-op"
sleep 0.05; touch "$T/w/src/a.txt" "$T/w/src/b.txt"; step "touch all"
sleep 0.05; echo A2 > "$T/w/src/a.txt"; step "edit a"
rm "$T/w/build/keys/b.key"; step "deleted key file"
