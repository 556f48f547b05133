#!/usr/bin/env bash
# Train several DDM variants in parallel on a borrowed GPU box and return them as one tarball
# ($OUT/nets.tgz: one cache folder per variant, weights.npz + metadata.json with its
# reproduce command). Wheels for packages the image lacks travel in .whl/.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/nets
LIMIT=${LIMIT:-380}
run() {  # tag, hssm-nre train args
  local tag=$1; shift
  local t0=$(date +%s)
  timeout "$LIMIT" python3 -m hssm_nre.cli train ddm --cache-dir /tmp/c_$tag "$@" > /tmp/nets/$tag.log 2>&1
  echo "$tag rc=$? wall=$(( $(date +%s) - t0 ))s"
  local d=$(ls -d /tmp/c_$tag/ddm/*/ 2>/dev/null | head -1)
  [ -n "$d" ] && cp -r "$d" /tmp/nets/$tag
}
run long   --n-simulations 10000000 --steps 60000 --batch-size 2048 &
run huge   --n-simulations 15000000 --steps 60000 --batch-size 4096 &
run wide   --n-simulations 10000000 --steps 30000 --batch-size 2048 --widths 256,256,256 &
run k16    --n-simulations 10000000 --steps 30000 --batch-size 2048 --K 16 &
run deep   --n-simulations 10000000 --steps 30000 --batch-size 2048 --widths 128,128,128,128 &
run small  --n-simulations 2000000 --steps 12000 --widths 64,64,64 &
run b2048  --n-simulations 4000000 --steps 12000 --batch-size 2048 &
wait
tar czf "$OUT/nets.tgz" -C /tmp nets
ls -la /tmp/nets
