#!/usr/bin/env bash
# Train DDM networks on a borrowed GPU box (no internet there: the packages that image
# lacks travel as wheels in .whl/, see ../.library/device/README.md). Same CLI, same code
# path as on CPU; JAX picks the GPU. Copies each network folder flat into $OUT.
#   usage (device tool): bash benchmarks/gpu_train.sh
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"
train() {  # tag, then hssm-nre train args
  local tag=$1; shift
  local t0=$(date +%s)
  python3 -m hssm_nre.cli train ddm --cache-dir /tmp/c_$tag "$@" > "$OUT/$tag.log" 2>&1
  local rc=$?
  echo "$tag rc=$rc wall=$(( $(date +%s) - t0 ))s"
  local d=$(ls -d /tmp/c_$tag/ddm/*/ 2>/dev/null | head -1)
  [ -n "$d" ] && { cp "$d/weights.npz" "$OUT/$tag.npz"; cp "$d/metadata.json" "$OUT/$tag.json"; }
}
# 1. the shipped CPU budget, timed on the GPU
train base
grep -E '"train_seconds"|"simulation_seconds"' "$OUT/base.json"
# 2. larger budgets, in parallel (their timings share the GPU: exploration only)
timeout ${BIG_LIMIT:-330} bash -c "$(declare -f train); OUT=$OUT; train big --n-simulations 10000000 --steps 30000 --batch-size 2048" &
timeout ${BIG_LIMIT:-330} bash -c "$(declare -f train); OUT=$OUT; train wide --n-simulations 10000000 --steps 30000 --batch-size 2048 --widths 256,256,256" &
wait
ls -la "$OUT"
