# Sourced by the gpu_*.sh scripts: installs the wheels the GPU image lacks (.whl/, carried by
# the device tool; see ../.library/device/README.md) and defines `train TAG [hssm-nre train args]`,
# which trains a DDM network under `timeout $LIMIT` and copies its cache folder to /tmp/nets/TAG.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/nets
LIMIT=${LIMIT:-380}
train() {
  local tag=$1; shift
  local t0=$(date +%s)
  timeout "$LIMIT" python3 -m hssm_nre.cli train ddm --cache-dir /tmp/c_$tag "$@" > /tmp/nets/$tag.log 2>&1
  echo "$tag rc=$? wall=$(( $(date +%s) - t0 ))s"
  local d=$(ls -d /tmp/c_$tag/ddm/*/ 2>/dev/null | head -1)
  [ -n "$d" ] && cp -r "$d" /tmp/nets/$tag
}
