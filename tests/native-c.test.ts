/**
 * The native core's standalone C tests, run from `npm test`: `make -C core/native test` builds
 * out/test_dg and runs its suite, then one iteration of the TF.js reference engine is dumped
 * (core/model/dump-reference.ts) and `out/test_dg --compare` rebuilds the model in C, loads the
 * reference's initial state, reruns the iteration and compares every tensor it knows. Needs make and a
 * C compiler; without them this test fails (it does not skip), saying what to install.
 *
 * The dumped iterations train the critics with their real learning rates, so the generator step runs
 * against updated critics. That needs the critics' bias gradients summed the way the reference sums
 * them. WGAN critic gradients have directions that are zero in exact arithmetic: the output bias, and
 * the bias of a unit that is active on every row along with everything between it and the output
 * (e.g. a last-layer unit active on every row). They shift D by a constant, which the loss ignores, and
 * the penalty does not see biases. A first Adam step turns any rounding noise there into a full +-lr
 * step that moves D by a constant in one engine only, and the generator step after it then differs by
 * 1e-4..1e-1. TF.js differentiates D(R) and D(G) separately, so each bias gets the sum over the real
 * rows plus the sum over the fake rows; their row deltas are equal and opposite, so the two sums cancel
 * to exactly 0. The C core (dg_layers.c, dg_cuda.cu) now does the same: real and fake rows summed
 * separately in row order, fake sum + real sum. Its former single running sum over real then fake rows
 * left ~1e-9..1e-8 there. assertOutputBiasesStayZero checks that the output biases' gradients, Adam
 * slots and updated values are exactly 0 in both engines. Weight gradients need no such care (the
 * shift invariance gives them no zero directions; they agree to ~1e-7 relative). Biases that feed a
 * batch norm (generator side) are rounding noise in both engines by construction and are compared in
 * absolute terms only (isNoiseByConstruction). The largest remaining relative error, ~1.3e-5 on every
 * `adam.v`, is 1 - beta2: the reference forms it in double (0.001), the C core in float32 from
 * beta2 = 0.999f (0.00099998713). Each engine bias-corrects v with its own matching 1 - beta2^t, so
 * vhat and the steps agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelConfig } from '../core/model/config.ts';
import { feedsBatchNorm } from '../core/model/dump-reference.ts';
import { parameterSpecs } from '../core/model/params.ts';
import { readTensorDump } from '../core/native/tensor-dump.ts';
import { isNoiseByConstruction, parseComparison, referenceDumps, writeReferenceDump, type ComparedTensor, type ReferenceDump } from './fixtures/reference-dumps.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(repoRoot, 'core/native');
const testBinary = path.join(nativeDir, 'out/test_dg');
const TOLERANCE = 1e-4;
const INSTALL_HINT = 'install make and a C compiler (gcc), e.g. `apt-get install build-essential`';

function run(command: string, args: string[], timeoutSeconds: number) {
  const result = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', timeout: timeoutSeconds * 1000, maxBuffer: 64 << 20 });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    assert.fail(`\`${command}\` is not installed: the native core's C tests need it; ${INSTALL_HINT}`);
  }
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Set once make has (re)built out/test_dg, so a failed build never leaves the comparisons on a stale binary. */
let built = false;

test('the C core builds and its standalone test suite passes (make -C core/native test)', () => {
  run('make', ['--version'], 30);
  // make's own default compiler, unless CC says otherwise
  run(process.env.CC || 'cc', ['--version'], 30);
  const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  const { status, output } = run('make', ['-C', nativeDir, `-j${jobs}`, 'test'], 600);
  assert.equal(status, 0, `make -C core/native test failed (exit ${status}):\n${output.slice(-6000)}`);
  built = fs.existsSync(testBinary);
  const summary = output.match(/^(\d+) passed, (\d+) failed$/m);
  assert.ok(summary, `no test summary in out/test_dg's output:\n${output.slice(-3000)}`);
  assert.equal(Number(summary[2]), 0, output.slice(-6000));
  assert.ok(Number(summary[1]) >= 100, `only ${summary[1]} C checks ran`);
});

/** Inputs of the rerun: the C test reads them, it does not compare them. */
const isInput = (name: string) => name.startsWith('config/') || name === 'seed' || /^batch\d+\//.test(name) || name === 'init/counters';

async function compareReferenceIteration(spec: ReferenceDump) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-native-c-'));
  try {
    const file = path.join(dir, 'iteration.dgtd');
    const losses = await writeReferenceDump(spec, file);
    const dump = readTensorDump(file);
    assert.ok(built, `${testBinary} was not built: see the build test above (${INSTALL_HINT})`);
    const { status, output } = run(testBinary, ['--compare', file], 120);
    const report = parseComparison(output);
    const failures = output.split('\n').filter((l) => l.startsWith('MISMATCH'));
    assert.equal(status, 0, `test_dg --compare exit ${status}:\n${failures.join('\n') || output.slice(-3000)}`);
    assert.equal(report.mismatched, 0);

    // every tensor of the dump that is not an input was compared, and nothing else
    const expected = [...dump.keys()].filter((n) => !isInput(n));
    assert.deepEqual(
      expected.filter((n) => !report.tensors.has(n)),
      [],
      'tensors of the dump that test_dg did not compare',
    );
    assert.equal(report.compared, expected.length);
    assert.equal(report.tensors.size, expected.length);

    // relative error < 1e-4 everywhere except the gradients that are only rounding noise, which
    // must then agree in absolute terms (test_dg's floor of 1e-7)
    let worst = { name: '', rel: 0 };
    const noise: string[] = [];
    for (const [name, t] of report.tensors) {
      if (isNoiseByConstruction(name)) {
        noise.push(name);
        assert.ok(t.diff < 1e-7 && t.scale < 1e-6, `${name} should be rounding noise: max|diff| ${t.diff}, max|ref| ${t.scale}`);
        continue;
      }
      assert.ok(t.rel < TOLERANCE, `${name}: relative error ${t.rel}`);
      if (t.rel >= worst.rel) worst = { name, rel: t.rel };
    }
    return { dump, report, worst, noise, losses };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The critics' output biases have gradient 0 in exact arithmetic (mean D(G) - mean D(R) ignores a
 * constant shift of D; the penalty does not see biases): both engines must then give exactly 0, so no
 * Adam step moves them. A single running sum over real then fake rows would leave rounding noise here
 * whenever 1/B is inexact (B = 20: ~4e-8).
 */
function assertOutputBiasesStayZero(report: { tensors: Map<string, ComparedTensor> }, config: ModelConfig) {
  const critics = parameterSpecs(config)
    .filter((s) => s.network !== 'generator' && s.name.endsWith('.out.bias'))
    .map((s) => s.name);
  assert.ok(critics.length >= 1);
  for (const p of critics) {
    for (const name of [`critic0/grad/${p}`, `final/${p}`, `final/${p}.adam.m`, `final/${p}.adam.v`]) {
      const t = report.tensors.get(name);
      assert.ok(t, `${name} was not compared`);
      assert.ok(t.diff === 0 && t.scale === 0, `${name} should be exactly 0 in both engines: max|diff| ${t.diff}, max|ref| ${t.scale}`);
    }
  }
}

test('the C core reruns a reference iteration of the tiny model within 1e-4 (test_dg --compare)', async () => {
  const spec = referenceDumps.find((d) => d.name === 'tiny')!;
  const config = spec.config;
  const { dump, report, worst, noise, losses } = await compareReferenceIteration(spec);
  const specs = parameterSpecs(config);
  // state before and after (bar the noise-driven biases), both critics' first-step gradients, the
  // generator's gradients, the fake batch, losses, counters
  for (const s of specs) {
    assert.ok(report.tensors.has(`init/${s.name}`) && report.tensors.has(`final/${s.name}.adam.m`) && report.tensors.has(`final/${s.name}.adam.v`));
    assert.equal(report.tensors.has(`final/${s.name}`), !feedsBatchNorm(s.name), s.name);
    assert.ok(report.tensors.has(`${s.network === 'generator' ? 'generator' : 'critic0'}/grad/${s.name}`), s.name);
  }
  for (const name of ['critic0/fake/features', 'critic0/a', 'critic0/aAux', 'critic0/losses', 'losses', 'final/counters']) assert.ok(report.tensors.has(name), name);
  assert.ok(report.compared >= 4 * specs.length + 10, `only ${report.compared} tensors compared`);
  assert.equal(noise.length, 3 * specs.filter((s) => feedsBatchNorm(s.name)).length);

  // the recomputed first critic step is the engine's own: with one critic step from zero Adam slots,
  // m = (1 - beta1) g, and the step's losses are the iteration's
  for (const s of specs.filter((x) => x.network !== 'generator')) {
    const g = dump.get(`critic0/grad/${s.name}`)!.data;
    const m = dump.get(`final/${s.name}.adam.m`)!.data;
    const scale = g.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
    g.forEach((x, i) => assert.ok(Math.abs((1 - config.adamBeta1) * x - m[i]) <= 1e-6 * scale, `critic0/grad/${s.name}[${i}] is not the engine's gradient`));
  }
  assert.deepEqual([...dump.get('critic0/losses')!.data], [...Float32Array.of(losses.critic, losses.auxCritic, losses.gradientPenalty, losses.auxGradientPenalty)]);
  assertOutputBiasesStayZero(report, config);
  console.log(`tiny model: ${report.compared} tensors compared, worst relative error ${worst.rel.toExponential(2)} (${worst.name})`);
});

test('the C core reruns a reference iteration of a WWT-shaped model (T=50, S=5, 2 critic steps, batch 20) within 1e-4', async () => {
  const spec = referenceDumps.find((d) => d.name === 'wwt-shaped-t50')!;
  const config = spec.config;
  const { report, worst } = await compareReferenceIteration(spec);
  assert.ok(report.tensors.has('final/critic.dense2.kernel.adam.m'));
  assert.ok(report.compared >= 4 * parameterSpecs(config).length + 10, `only ${report.compared} tensors compared`);
  assertOutputBiasesStayZero(report, config);
  console.log(`WWT-shaped model: ${report.compared} tensors compared, worst relative error ${worst.rel.toExponential(2)} (${worst.name})`);
});
