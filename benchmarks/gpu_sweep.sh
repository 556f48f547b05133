#!/usr/bin/env bash
# Several DDM variants trained in parallel on a borrowed GPU box (their timings share the
# GPU: exploration only). Returns $OUT/nets.tgz, one cache folder per variant. The first
# sweep (results in the issue notes) was these seven; `huge` is the shipped network.
set -uo pipefail
source benchmarks/gpu_common.sh
train long   --n-simulations 10000000 --steps 60000 --batch-size 2048 &
train huge   --n-simulations 15000000 --steps 60000 --batch-size 4096 &
train wide   --n-simulations 10000000 --steps 30000 --batch-size 2048 --widths 256,256,256 &
train k16    --n-simulations 10000000 --steps 30000 --batch-size 2048 --K 16 &
train deep   --n-simulations 10000000 --steps 30000 --batch-size 2048 --widths 128,128,128,128 &
train small  --n-simulations 2000000 --steps 12000 --widths 64,64,64 &
train b2048  --n-simulations 4000000 --steps 12000 --batch-size 2048 &
wait
tar czf "$OUT/nets.tgz" -C /tmp nets
