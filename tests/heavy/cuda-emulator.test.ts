/**
 * The CUDA core's own test (core/native/test_dg_cuda.cu: every gradient, the updated weights, running
 * statistics, generation, graph replay, each against the CPU core) on the CUDA emulator, which runs
 * dg_cuda.cu's kernels thread by thread on the CPU (core/native/cuda_emu/). Three runs: in order with
 * AddressSanitizer and UBSan, in reverse thread and block order, and with 48 KiB of shared memory per
 * block. Then the reference engine's dumped iterations (tests/fixtures/reference-dumps.ts) rerun on it
 * and compared tensor by tensor, as tests/native-c.test.ts does for the CPU core. What this cannot tell (speed, the GPU's own rounding, races the orders hide) is left to
 * core/native/gpu-check.sh on a GPU machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parameterSpecs } from '../../core/model/params.ts';
import { isNoiseByConstruction, parseComparison, referenceDumps, writeReferenceDump } from '../fixtures/reference-dumps.ts';

const nativeDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../core/native');

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

test("dg_cuda.cu reruns the reference engine's dumped iterations within 1e-4 (test_dg_cuda --compare, on the emulator)", async () => {
  // built by the previous test (make cuda-emu-test)
  const binary = path.join(nativeDir, 'out/emu/test_dg_cuda');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-cuda-compare-'));
  try {
    for (const spec of referenceDumps) {
      const file = path.join(dir, `${spec.name}.dgtd`);
      await writeReferenceDump(spec, file);
      const result = spawnSync(binary, ['--compare', file], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
      if (result.error) throw result.error;
      const output = `${result.stdout}${result.stderr}`;
      assert.equal(result.status, 0, `test_dg_cuda --compare ${spec.name} failed (exit ${result.status}):\n${output.slice(-6000)}`);
      const report = parseComparison(output);
      assert.equal(report.mismatched, 0);
      // init/ (the CUDA core's own initialization: the CPU core's), final/ state and Adam slots, losses,
      // generator gradients; with one critic step also the critic's gradients and losses
      assert.ok(report.compared >= 4 * parameterSpecs(spec.config).length, `${spec.name}: only ${report.compared} tensors compared`);
      // within 1e-4 relative, but for the gradients that are rounding noise by construction (absolute 1e-7)
      let worst = { name: '', rel: 0 };
      for (const [name, t] of report.tensors) {
        if (isNoiseByConstruction(name)) assert.ok(t.diff < 1e-7, `${name} should be rounding noise: max|diff| ${t.diff}`);
        else if (t.rel >= worst.rel) worst = { name, rel: t.rel };
      }
      assert.ok(worst.rel < 1e-4, `${spec.name}: ${worst.name} differs by ${worst.rel}`);
      console.log(`${spec.name}: ${report.compared} tensors compared against the reference engine, worst relative error ${worst.rel.toExponential(2)} (${worst.name})`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
