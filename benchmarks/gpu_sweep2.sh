#!/usr/bin/env bash
# Second GPU sweep: combinations of the levers that helped in gpu_sweep.sh (budget, K, depth).
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/nets
LIMIT=${LIMIT:-200}
run() {
  local tag=$1; shift
  local t0=$(date +%s)
  timeout "$LIMIT" python3 -m hssm_nre.cli train ddm --cache-dir /tmp/c_$tag "$@" > /tmp/nets/$tag.log 2>&1
  echo "$tag rc=$? wall=$(( $(date +%s) - t0 ))s"
  local d=$(ls -d /tmp/c_$tag/ddm/*/ 2>/dev/null | head -1)
  [ -n "$d" ] && cp -r "$d" /tmp/nets/$tag
}
run hugek16  --n-simulations 15000000 --steps 40000 --batch-size 4096 --K 16 &
run hugedeep --n-simulations 15000000 --steps 40000 --batch-size 4096 --widths 128,128,128,128 &
wait
tar czf "$OUT/nets.tgz" -C /tmp nets
