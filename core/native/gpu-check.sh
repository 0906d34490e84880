#!/bin/bash
# The CUDA core's whole check on a GPU machine, in one go (it needs nvcc, gcc, make and a driver; no
# Node.js): builds out/test_dg_cuda, runs its tests (CUDA vs the CPU core), compares it with the
# reference engine's dumped iterations in out/dumps (when carried along), then its benchmark, and the
# CPU benchmark for a same-machine baseline. Each step has a time limit so a hang cannot eat the
# device budget. Logs go to $OUT (default: core/native/out/gpu-check).
#   core/native/gpu-check.sh            from the repository root
set -uo pipefail
cd "$(dirname "$0")"
OUT=${OUT:-out/gpu-check}
mkdir -p "$OUT"
CUDA_LIB=${CUDA_LIB:-$(dirname "$(ls -d /usr/local/cuda*/targets/x86_64-linux/lib/libcublas.so* 2>/dev/null | head -1)" 2>/dev/null)}
export LD_LIBRARY_PATH="${CUDA_LIB:+$CUDA_LIB:}${LD_LIBRARY_PATH:-}"
step() { # step NAME SECONDS COMMAND...: run, log to $OUT/NAME.log, report the exit status
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc in $((SECONDS - start)) s (log: $OUT/$name.log)"
  tail -n 40 "$OUT/$name.log"
  return $rc
}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nvcc --version | tail -1; } > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"
step build 300 make -C . out/test_dg_cuda out/bench_dg out/libdg_cuda.so || exit 1
step cuda-test 240 ./out/test_dg_cuda --test
# Reference-engine iterations written beforehand (no Node.js here): node --import tsx
# tests/fixtures/reference-dumps.ts core/native/out/dumps, and `carry` core/native/out/dumps along.
for dump in out/dumps/*.dgtd; do
  [ -e "$dump" ] && step "compare-$(basename "$dump" .dgtd)" 120 ./out/test_dg_cuda --compare "$dump"
done
step cuda-bench 240 ./out/test_dg_cuda --bench
step cpu-bench 240 ./out/bench_dg --quick
