/**
 * DP-SGD accounting and training: the accountant against the published test vectors of
 * shared/design/quality-and-privacy.md and an independent numerical integral, the plan's noise for a
 * target epsilon, Poisson sampling, and `dg train` with DP on the native engine (epsilon reported,
 * written to the run, carried over a resume; the noise is not from the seed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoDataset } from '../core/data/demo.ts';
import { DEFAULT_ORDERS, logAFractional, logAInteger, logErfc, noiseForEpsilon, privacySpent, rdpOfStep } from '../core/privacy/accountant.ts';
import { defaultDelta, effectiveNoise, epsilonSpent, planDp } from '../core/privacy/dp.ts';
import { createPoissonSampler, secureUniforms } from '../core/train/dp-sampling.ts';
import { readCheckpoint } from '../core/train/checkpoint.ts';
import { resumeTraining, startTraining, type RunProgress, type TrainRequest } from '../core/api/training.ts';
import { RUN_FILES } from '../core/train/run-folder.ts';
import type { ApiError } from '../core/util/errors.ts';
import { Rng } from '../core/util/rng.ts';
import type { EngineState } from '../core/model/engine.ts';
import { createEngine } from '../core/model/engines.ts';
import { randomBatch, tinyConfig } from './fixtures/tiny-model.ts';

const close = (actual: number, expected: number, relative: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= relative * Math.abs(expected), `${what}: ${actual}, expected ${expected} (within ${relative} relative)`);

test('accountant: the published test vectors (Mironov et al. sampled Gaussian RDP, improved conversion)', () => {
  // q = 100/1e5, sigma 1, 30 epochs = 30,000 steps, delta 1e-7, orders 2..64 plus the fractional ones
  const one = privacySpent([{ q: 100 / 1e5, noiseMultiplier: 1, steps: 30_000 }], 1e-7);
  close(one.epsilon, 1.4154988495444842, 1e-9, 'epsilon');
  assert.equal(one.order, 13);
  // composition of (q 1e-5, sigma 1, 10 steps) and (q 1e-4, sigma 3, 4 steps), delta 1e-5, orders 2..32
  const orders = Array.from({ length: 31 }, (_, i) => i + 2);
  const two = privacySpent(
    [
      { q: 1e-5, noiseMultiplier: 1, steps: 10 },
      { q: 1e-4, noiseMultiplier: 3, steps: 4 },
    ],
    1e-5,
    orders,
  );
  close(two.epsilon, 0.33634, 2e-5, 'composed epsilon');
  assert.equal(two.order, 23);
});

test('accountant: log A of the fractional-order series equals the binomial sum at integer orders, and a numerical integral at fractional ones', () => {
  for (const [q, sigma] of [
    [0.01, 1.1],
    [0.2, 4],
    [0.05, 0.7],
  ]) {
    for (const alpha of [2, 3, 8, 20]) close(logAFractional(q, sigma, alpha), logAInteger(q, sigma, alpha), 1e-9, `log A(q ${q}, sigma ${sigma}, alpha ${alpha})`);
    // A_alpha = E_{z ~ N(0, sigma^2)} [((1 - q) + q exp((2z - 1) / (2 sigma^2)))^alpha], by Simpson's rule
    for (const alpha of [1.25, 1.5, 2.5, 4.5]) {
      const steps = 200_000;
      const lo = -40 * sigma;
      const h = (80 * sigma) / steps;
      let sum = 0;
      for (let i = 0; i <= steps; i++) {
        const z = lo + i * h;
        const f = (Math.exp(-(z * z) / (2 * sigma * sigma)) / (sigma * Math.sqrt(2 * Math.PI))) * (1 - q + q * Math.exp((2 * z - 1) / (2 * sigma * sigma))) ** alpha;
        sum += f * (i === 0 || i === steps ? 1 : i % 2 === 1 ? 4 : 2);
      }
      close(logAFractional(q, sigma, alpha), Math.log((sum * h) / 3), 1e-7, `log A(q ${q}, sigma ${sigma}, alpha ${alpha}) vs the integral`);
    }
  }
});

test('accountant: log erfc against mpmath, the full-batch Gaussian in closed form, and the edge cases', () => {
  // mpmath.log(mpmath.erfc(x)) at 30 digits
  for (const [x, expected] of [
    [0.5, -0.7350111298370844],
    [3, -10.720363041981113],
    [-1, 0.6112323176780705],
    // biome-ignore lint/correctness/noPrecisionLoss: mpmath's digits, as printed
    [10, -102.87988902484488857],
    // biome-ignore lint/correctness/noPrecisionLoss: mpmath's digits, as printed
    [30, -903.97411711064387808],
  ]) {
    close(logErfc(x), expected, 1e-13, `log erfc(${x})`);
  }
  // q = 1: RDP = alpha / (2 sigma^2) per step
  close(rdpOfStep(1, 2, 10), 10 / 8, 1e-15, 'full-batch RDP');
  assert.equal(rdpOfStep(0, 1, 10), 0);
  assert.equal(rdpOfStep(0.1, 0, 10), Infinity);
  // more steps or less noise never spend less
  const at = (sigma: number, steps: number) => privacySpent([{ q: 0.01, noiseMultiplier: sigma, steps }], 1e-5).epsilon;
  assert.ok(at(1, 2000) > at(1, 1000) && at(0.8, 1000) > at(1, 1000));
  assert.ok(DEFAULT_ORDERS.includes(1.25) && DEFAULT_ORDERS.includes(63) && DEFAULT_ORDERS.includes(512));
});

test('noise for a target epsilon: the smallest multiplier that stays within it', () => {
  const sigma = noiseForEpsilon(1.4154988495444842, 1e-7, 1e-3, 30_000);
  close(sigma, 1, 2e-3, 'the test vector backwards');
  const target = 3;
  const solved = noiseForEpsilon(target, 1e-5, 0.02, 5000);
  const spent = privacySpent([{ q: 0.02, noiseMultiplier: solved, steps: 5000 }], 1e-5).epsilon;
  assert.ok(spent <= target && spent > target * 0.99, `spends ${spent} of ${target}`);
  assert.ok(privacySpent([{ q: 0.02, noiseMultiplier: solved / 1.01, steps: 5000 }], 1e-5).epsilon > target, 'a 1% smaller multiplier overspends');
  assert.throws(() => noiseForEpsilon(1e-6, 1e-5, 1, 1e6), /no noise multiplier up to 1000/);
});

test('DP plan: the noise of one iteration counts every critic step and both critics on the one sample', () => {
  const shape = { trainingSeries: 5000, batchSize: 100, criticSteps: 2, hasAuxCritic: true, iterations: 2000 };
  const plan = planDp({ epsilon: 5 }, shape);
  assert.equal(plan.releasesPerIteration, 4);
  close(effectiveNoise(plan), plan.noiseMultiplier / 2, 1e-12, 'effective multiplier');
  assert.equal(plan.samplingRate, 0.02);
  assert.equal(plan.delta, defaultDelta(5000));
  const spent = epsilonSpent(plan, shape.iterations).epsilon;
  assert.ok(spent <= 5 && spent > 4.95, `the plan spends ${spent} of 5`);
  // one critic, one step: half the releases need less noise for the same epsilon (sqrt(4) vs 1)
  const single = planDp({ epsilon: 5 }, { ...shape, criticSteps: 1, hasAuxCritic: false });
  close(single.noiseMultiplier * 2, plan.noiseMultiplier, 2e-3, 'noise scales with sqrt(releases)');
  const given = planDp({ noiseMultiplier: 3 }, shape);
  assert.equal(given.noiseMultiplier, 3);
  assert.equal(given.targetEpsilon, undefined);
  assert.throws(() => planDp({}, shape), /either a target epsilon/);
  assert.throws(() => planDp({ epsilon: 1, noiseMultiplier: 1 }, shape), /not both/);
  assert.throws(() => planDp({ epsilon: 1, delta: 1e-3 }, shape), /not below 1\/N/);
  assert.throws(() => planDp({ epsilon: 1, clipNorm: 0 }, shape), /clip norm/);
  assert.throws(() => planDp({ epsilon: 1 }, { ...shape, batchSize: 3, trainingSeries: 50, iterations: 10_000 }), /empty sample/);
});

test('Poisson sampling: sorted distinct rows, each kept at the rate, sizes vary; secure uniforms in (0, 1]', () => {
  const rng = new Rng(5, 1);
  const n = 2000;
  const q = 0.05;
  const sample = createPoissonSampler(n, q, () => 1 - rng.uniform());
  const counts = new Float64Array(n);
  const sizes: number[] = [];
  const draws = 2000;
  for (let k = 0; k < draws; k++) {
    const rows = sample();
    sizes.push(rows.length);
    for (let i = 0; i < rows.length; i++) {
      if (i > 0) assert.ok(rows[i] > rows[i - 1], 'increasing, no repeats');
      counts[rows[i]]++;
    }
  }
  const mean = sizes.reduce((a, b) => a + b) / draws;
  const variance = sizes.reduce((a, b) => a + (b - mean) ** 2, 0) / (draws - 1);
  close(mean, q * n, 0.02, 'mean sample size');
  close(variance, q * (1 - q) * n, 0.1, 'sample size variance (binomial)');
  // every row at the rate: the first, last and all rows' frequencies
  const expected = q * draws;
  const chi2 = counts.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
  assert.ok(chi2 < n * 1.15 && chi2 > n * 0.85, `per-row frequencies: chi-square ${chi2.toFixed(0)} on ${n} rows`);
  assert.ok(counts[0] > 0 && counts[n - 1] > 0);
  assert.equal(createPoissonSampler(7, 1)().length, 7);
  const u = secureUniforms();
  const xs = Array.from({ length: 10_000 }, u);
  assert.ok(xs.every((x) => x > 0 && x <= 1));
  close(xs.reduce((a, b) => a + b) / xs.length, 0.5, 0.02, 'secure uniforms mean');
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dg-dp-'));
const small = { lstmUnits: 12, criticHidden: [24, 24], auxCriticHidden: [16, 16], attributeHidden: [16], minMaxHidden: [16], criticSteps: 2 };

function dpRequest(runDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return {
    data: { dataset: demoDataset({ series: 400, length: 12, seed: 3 }), label: 'demo' },
    runDir,
    sampleLen: 4,
    batchSize: 40,
    iterations: 30,
    seed: 11,
    engine: 'native',
    checkpointEvery: 10,
    holdoutFraction: 0,
    model: small,
    dp: { epsilon: 8 },
    ...overrides,
  };
}

test('dg train with DP-SGD: epsilon reported as it is spent, written to the run, carried over a resume; noise not from the seed', async () => {
  const runDir = path.join(tmp(), 'run');
  const controller = new AbortController();
  const seen: RunProgress[] = [];
  const logs: string[] = [];
  const first = await startTraining(dpRequest(runDir), {
    signal: controller.signal,
    onLog: (m) => logs.push(m),
    onProgress: (p) => {
      seen.push(p);
      if (p.iteration === 20) controller.abort();
    },
  });
  assert.equal(first.status, 'cancelled');
  const plan = readCheckpoint(path.join(runDir, RUN_FILES.checkpoint)).plan.dp!;
  assert.ok(plan, 'the checkpoint keeps the DP plan');
  assert.equal(plan.targetEpsilon, 8);
  assert.equal(plan.samplingRate, 0.1);
  assert.ok(
    logs.some((m) => m.startsWith('DP-SGD: noise multiplier') && m.includes('30 iterations spend epsilon')),
    logs.join('\n'),
  );
  // once an epoch (10 iterations), the privacy spent rises
  const reported = seen.filter((p) => p.privacy).map((p) => p.privacy!.epsilon);
  assert.ok(reported.length >= 10 && reported.at(-1)! > reported[0], `epsilon reported and rising: ${reported.slice(0, 3)}...`);
  close(first.privacy!.epsilon, epsilonSpent(plan, 20).epsilon, 1e-12, 'spent after 20 iterations');
  const info = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.run), 'utf8'));
  close(info.privacySpent.epsilon, epsilonSpent(plan, 20).epsilon, 1e-12, 'run.json after the cancel');
  const stepLines = fs
    .readFileSync(path.join(runDir, RUN_FILES.progress), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(
    stepLines.every((l) => typeof l.epsilon === 'number' && l.dp.clippedFraction >= 0),
    'every curve point has epsilon and clip statistics',
  );

  const done = await resumeTraining(runDir);
  assert.equal(done.iteration, 30);
  assert.ok(done.privacy!.epsilon <= 8 && done.privacy!.epsilon > 7.9, `the whole run spends ${done.privacy!.epsilon} of the target 8`);

  // the same seed and data twice: DP noise (and sampling) come from secure randomness, so the models differ
  const again = path.join(tmp(), 'again');
  await startTraining(dpRequest(again, { iterations: 3 }));
  const other = path.join(tmp(), 'other');
  await startTraining(dpRequest(other, { iterations: 3 }));
  const kernel = (dir: string) => readCheckpoint(path.join(dir, RUN_FILES.checkpoint)).engineState.tensors.find((t) => t.name === 'critic.dense0.kernel')!.data;
  assert.notDeepEqual(kernel(again), kernel(other));
});

test('DP-SGD on the reference engine is refused with what to do', async () => {
  await assert.rejects(
    startTraining(dpRequest(path.join(tmp(), 'ref'), { engine: 'reference', iterations: 2 })),
    (e: ApiError) => e.code === 'unsupported' && /reference engine has no DP-SGD/.test(e.message) && e.hint?.option === 'engine' && e.hint.value === 'native',
  );
});

test('a default schedule long enough to memorize a small dataset is pointed out when training starts', async () => {
  const logs: string[] = [];
  const controller = new AbortController();
  // with the privacy guard off (with it on and no holdout, the default is capped instead: tests/train.test.ts)
  await startTraining(dpRequest(path.join(tmp(), 'long'), { dp: undefined, iterations: undefined, privacyGuard: false }), {
    signal: controller.signal,
    onLog: (m) => logs.push(m),
    onProgress: () => controller.abort(),
  });
  assert.ok(
    logs.some((m) => /^note: with 400 series the default trains 2000 epochs for fidelity, .* memorize them/.test(m)),
    logs.join('\n'),
  );
  const chosen: string[] = [];
  await startTraining(dpRequest(path.join(tmp(), 'short'), { dp: undefined, iterations: 2 }), { onLog: (m) => chosen.push(m) });
  assert.ok(!chosen.some((m) => m.startsWith('note: with')), 'not when the user chose the length');
  // with DP-SGD the default is the paper's 400 epochs, not the small-data extension
  const dpRun = path.join(tmp(), 'dp-default');
  const stop = new AbortController();
  await startTraining(dpRequest(dpRun, { iterations: undefined }), { signal: stop.signal, onProgress: () => stop.abort() });
  const { plan } = readCheckpoint(path.join(dpRun, RUN_FILES.checkpoint));
  assert.equal(plan.totalIterations, 400 * plan.iterationsPerEpoch);
});

test('measuring membership exposure between steps leaves training unchanged (both engines); a run with a holdout reports it', async () => {
  for (const kind of ['native', 'reference'] as const) {
    const config = tinyConfig();
    const batches = [1, 2, 3].map((k) => randomBatch(config, 6, new Rng(4, k)));
    const held = randomBatch(config, 9, new Rng(4, 9));
    const states: EngineState[] = [];
    for (const measure of [false, true]) {
      const { engine } = await createEngine(kind, { config, seed: 21 });
      try {
        for (const batch of batches) {
          await engine.trainStep([batch]);
          if (measure) await engine.criticScores(held);
        }
        states.push(await engine.getState());
      } finally {
        engine.dispose();
      }
    }
    states[0].tensors.forEach((t, i) => assert.deepEqual(states[1].tensors[i].data, t.data, `${kind}: ${t.name}`));
    assert.deepEqual(states[1].counters, states[0].counters);
  }
  // 400 series keep a holdout of 40: the run measures the critic's AUC every 1% and reports the last
  const runDir = path.join(tmp(), 'exposed');
  const seen: RunProgress[] = [];
  const done = await startTraining(dpRequest(runDir, { dp: undefined, holdoutFraction: 0.1, iterations: 200 }), { onProgress: (p) => seen.push(p) });
  assert.ok(done.exposure! >= 0 && done.exposure! <= 1);
  assert.equal(seen[0].exposure, undefined, 'first measured at 1% of the run (iteration 2)');
  assert.ok(seen.slice(1).every((p) => p.exposure !== undefined));
  assert.ok(new Set(seen.map((p) => p.exposure)).size > 10, 'measured again and again as training goes');
  const info = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.run), 'utf8'));
  assert.equal(info.exposure, done.exposure);
  assert.ok(fs.readFileSync(path.join(runDir, RUN_FILES.progress), 'utf8').includes('"exposure":'));
});
