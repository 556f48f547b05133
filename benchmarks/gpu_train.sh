#!/usr/bin/env bash
# One timed DDM training on a borrowed GPU box: the default (CPU-sized) budget unless
# arguments are given, e.g. `bash benchmarks/gpu_train.sh --n-simulations 15000000 --steps 60000
# --batch-size 4096` (the shipped network). Returns $OUT/nets.tgz.
set -uo pipefail
source benchmarks/gpu_common.sh
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
train run "$@"
grep -E '"train_seconds"|"simulation_seconds"' /tmp/nets/run/metadata.json
tar czf "$OUT/nets.tgz" -C /tmp nets
