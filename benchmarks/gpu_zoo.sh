#!/usr/bin/env bash
# The pretrained zoo, trained in parallel on a borrowed GPU box (16 cores, one GPU shared by
# every training; timings are for this shared run, not solo). Each training stops at
# ZOO_MINUTES (simulation included) and keeps its weights so far, so the script always
# returns: $OUT/nets.tgz (one cache folder per model) and $OUT/zoo_logs.txt.
# Usage: bash benchmarks/gpu_zoo.sh MODEL... ; budget from ZOO_ARGS. The shipped zoo (issue 5):
#   ZOO_ARGS="--n-simulations 4000000 --steps 50000 --batch-size 4096" ZOO_MINUTES=8 \
#     bash benchmarks/gpu_zoo.sh ddm_sdv full_ddm angle weibull levy ornstein race_no_bias_3 lca_3
# (8 at once on one H200: ~130 steps/s each, so most stopped at 83-97 % of their steps and
# lca_3, the slowest simulator, at 61 %; lca_3 was then rerun alone and finished. The full_ddm
# network from this run predates the t - st support-edge fix and was not shipped.)
# Next GPU budget: structured features. ddm_sdv and angle take the DDM features by default
# (config.DDM_SCALING_MODELS) and full_ddm the leading-edge term (config.EDGE_FEATURE_MODELS);
# --features in ZOO_ARGS applies to every model named, so run the groups separately:
#   ZOO_ARGS="--n-simulations 8000000 --steps 60000 --batch-size 4096" ZOO_MINUTES=8 \
#     bash benchmarks/gpu_zoo.sh ddm_sdv full_ddm angle
#   ZOO_ARGS="--features edge --n-simulations 4000000 --steps 50000 --batch-size 4096" ZOO_MINUTES=8 \
#     bash benchmarks/gpu_zoo.sh weibull levy ornstein
# Continuous time (issue 21): angle's, weibull's and ornstein's training data are
# boundary-corrected (config.BOUNDARY_CORRECTED_MODELS, FINE_STEP_MODELS); their shipped networks
# were retrained on 2 CPU cores at the default budget. A GPU budget for the three:
#   ZOO_ARGS="--n-simulations 4000000 --steps 50000 --batch-size 4096" ZOO_MINUTES=8 \
#     bash benchmarks/gpu_zoo.sh angle weibull
#   ZOO_ARGS="--features edge --n-simulations 4000000 --steps 50000 --batch-size 4096" ZOO_MINUTES=8 \
#     bash benchmarks/gpu_zoo.sh ornstein
# The races are boundary-corrected too (config.RACE_CORRECTED_MODELS: threshold - 2 beta sqrt(dt),
# start points - beta sqrt(dt)); race_no_bias_3 was retrained on 2 CPU cores. Issue 21's new races:
#   ZOO_ARGS="--features race --n-simulations 4000000 --steps 50000 --batch-size 4096" ZOO_MINUTES=8 \
#     bash benchmarks/gpu_zoo.sh race_no_bias_3 race_3 race_4 race_no_bias_4
set -uo pipefail
source benchmarks/gpu_common.sh
ZOO_ARGS=${ZOO_ARGS:---n-simulations 4000000 --steps 40000 --batch-size 4096}
ZOO_MINUTES=${ZOO_MINUTES:-7.5}
nproc; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
zoo_train() {
  local m=$1; shift
  local t0=$(date +%s)
  python3 -m hssm_nre.cli train "$m" --cache-dir /tmp/c_$m --time-limit "$ZOO_MINUTES" $ZOO_ARGS "$@" \
    > /tmp/nets/$m.log 2>&1
  echo "$m rc=$? wall=$(( $(date +%s) - t0 ))s"
  local d=$(ls -d /tmp/c_$m/$m/*/ 2>/dev/null | head -1)
  rm -rf /tmp/nets/$m  # a warm machine keeps the last call's folders
  [ -n "$d" ] && cp -r "$d" /tmp/nets/$m
}
for m in "$@"; do zoo_train "$m" & done
wait
for m in "$@"; do echo "== $m"; tr '\r' '\n' < /tmp/nets/$m.log | grep -v '^\s*$' | tail -4; done > "$OUT/zoo_logs.txt"
cat "$OUT/zoo_logs.txt"
tar czf "$OUT/nets.tgz" -C /tmp nets
