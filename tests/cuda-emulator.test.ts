/**
 * The CUDA core's own test (core/native/test_dg_cuda.cu: every gradient, the updated weights, running
 * statistics, generation, graph replay, each against the CPU core) on the CUDA emulator, which runs
 * dg_cuda.cu's kernels thread by thread on the CPU (core/native/cuda_emu/). Three runs: in order with
 * AddressSanitizer and UBSan, in reverse thread and block order, and with 48 KiB of shared memory per
 * block. What this cannot tell (speed, the GPU's own rounding, races the orders hide) is left to
 * core/native/gpu-check.sh on a GPU machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../core/native');

test('dg_cuda.cu passes test_dg_cuda --quick on the CUDA emulator: in order with AddressSanitizer, in reverse order, with 48 KiB of shared memory', () => {
  const result = spawnSync('make', ['-C', nativeDir, '-j2', 'cuda-emu-test'], { encoding: 'utf8', timeout: 1_200_000, maxBuffer: 64 << 20 });
  if (result.error) throw result.error;
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, 0, `make -C core/native cuda-emu-test failed (exit ${result.status}):\n${output.slice(-8000)}`);
  for (const run of ['in-order-asan', 'reverse', 'small-shared']) {
    const line = new RegExp(`^${run}: (\\d+) passed, 0 failed$`, 'm').exec(output);
    assert.ok(line, `no passing summary for the ${run} run:\n${output.slice(-4000)}`);
    // tiny, tiny with 2 critic steps, WWT-shaped, graph replay: every tensor of each is a check
    assert.ok(Number(line[1]) >= 600, `the ${run} run made only ${line[1]} checks`);
  }
});
