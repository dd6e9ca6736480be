#!/bin/bash
# The cost of the locks (doc/design.md, "Locking"): bench/lock_cost.sh BEFORE_BINARY; bench/lock_cost.sh AFTER_BINARY
# $1 = packer binary. A 200-blob workspace, built; then 1000 no-op steps, 100 no-op gens, 1000 /bin/true.
set -e
P=$1; d=$(mktemp -d); cd $d
$P init >/dev/null
for i in $(seq 1 200); do mkdir -p assets/b$i; echo "blob $i" > assets/b$i/b.bin; done
for i in $(seq 1 200); do $P add assets/b$i --type blob >/dev/null; done
$P gen -q; ninja >/dev/null
sleep 2.5; $P gen -q   # past the racy window: the fast path applies
t0=$(date +%s%N); for i in $(seq 1 1000); do $P step blob --id=7 --root=assets/b7 --build-dir=build --cache=assets/.prometeu/cache; done; t1=$(date +%s%N)
for i in $(seq 1 100); do $P gen -q; done; t2=$(date +%s%N)
for i in $(seq 1 1000); do /bin/true; done; t3=$(date +%s%N)
echo "step $(( (t1-t0)/1000000 ))us gen $(( (t2-t1)/100000 ))us true $(( (t3-t2)/1000000 ))us"
rm -rf $d
