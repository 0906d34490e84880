#!/bin/bash
# test_dg_cuda --quick on the CUDA emulator, three ways at once (make cuda-emu-test builds them first):
#   in order, with AddressSanitizer and UBSan    out-of-bounds device memory, undefined behaviour
#   threads and blocks in reverse order           a missing __syncthreads, blocks reading each other
#   48 KiB of shared memory per block             the LSTM kernels' weights-in-global-memory path
# Each log is in EMU_DIR (default out/emu); a failing run's log is printed whole.
set -u
cd "$(dirname "$0")/.."
dir=${EMU_DIR:-out/emu}
ASAN_OPTIONS=detect_leaks=0 "$dir/asan/test_dg_cuda" --quick > "$dir/in-order-asan.log" 2>&1 &
asan=$!
EMU_ORDER=reverse "$dir/test_dg_cuda" --quick > "$dir/reverse.log" 2>&1 &
reverse=$!
EMU_MAX_SMEM=49152 "$dir/test_dg_cuda" --quick > "$dir/small-shared.log" 2>&1 &
small=$!
failed=0
for run in "asan in-order-asan" "reverse reverse" "small small-shared"; do
  set -- $run
  wait "${!1}"
  rc=$?
  if [ $rc = 0 ]; then
    echo "$2: $(tail -n 1 "$dir/$2.log")"
  else
    failed=1
    echo "== $2: exit $rc"
    cat "$dir/$2.log"
  fi
done
exit $failed
