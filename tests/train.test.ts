import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoDataset } from '../core/data/demo.ts';
import { readCheckpoint } from '../core/train/checkpoint.ts';
import { EtaClock, WARMUP_ITERATIONS } from '../core/train/loop.ts';
import { prepareTraining, resumeTraining, startTraining, type TrainRequest } from '../core/api/training.ts';
import { UNMONITORED_EPOCH_CAP } from '../core/train/privacy-guard.ts';
import type { ApiError } from '../core/util/errors.ts';
import { generateFromRun, generatePartsFromRun, loadEncoded, readRun, RUN_FILES, runDatasets } from '../core/train/run-folder.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dg-train-'));

const small = { lstmUnits: 12, criticHidden: [24, 24], auxCriticHidden: [16, 16], attributeHidden: [16], minMaxHidden: [16] };

function request(runDir: string, overrides: Partial<TrainRequest> = {}): TrainRequest {
  return {
    data: { dataset: demoDataset({ series: 30, length: 12, seed: 3 }), label: 'demo' },
    runDir,
    sampleLen: 4,
    batchSize: 8,
    iterations: 8,
    seed: 11,
    engine: 'reference',
    checkpointEvery: 3,
    model: small,
    ...overrides,
  };
}

const tensors = (runDir: string) => readCheckpoint(path.join(runDir, RUN_FILES.checkpoint)).engineState.tensors;

test('cancel writes a checkpoint; resume continues exactly as an uninterrupted run (the generator average too)', async () => {
  const straight = path.join(tmp(), 'straight');
  // 25 iterations, cancelled at 13: the generator average is updated at 10 and 20, on each side of the cancel
  const done = await startTraining(request(straight, { iterations: 25 }));
  assert.equal(done.status, 'complete');
  assert.equal(done.iteration, 25);

  const interrupted = path.join(tmp(), 'interrupted');
  const controller = new AbortController();
  const first = await startTraining(request(interrupted, { iterations: 25 }), {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.iteration === 13) controller.abort();
    },
  });
  assert.equal(first.status, 'cancelled');
  assert.equal(first.iteration, 13);
  const saved = readCheckpoint(path.join(interrupted, RUN_FILES.checkpoint));
  assert.equal(saved.status, 'cancelled');
  assert.equal(saved.iteration, 13);
  assert.equal(saved.engineState.counters.averageUpdates, 1, 'the average was updated once, at iteration 10');
  assert.ok(!fs.readdirSync(interrupted).some((f) => f.includes('.tmp-')), 'no temporary files left behind');

  const second = await resumeTraining(interrupted);
  assert.equal(second.status, 'complete');
  assert.equal(second.iteration, 25);

  const a = tensors(straight);
  const b = tensors(interrupted);
  assert.deepEqual(
    a.map((t) => t.name),
    b.map((t) => t.name),
  );
  a.forEach((t, i) => assert.deepEqual(b[i].data, t.data, `tensor ${t.name} differs after resume`));
  // Both include optimizer slots and the generator average, so the equality covers them too.
  assert.ok(a.some((t) => t.name.endsWith('.adam.m')));
  assert.ok(a.some((t) => t.name === 'avg.gen.feat.lstm.kernel'));
  assert.ok(!a.some((t) => t.name.startsWith('avg.') && t.name.includes('.adam.')), 'Adam moments are not averaged');

  const genA = await generateFromRun({ runDir: straight, n: 5, seed: 4 });
  const genB = await generateFromRun({ runDir: interrupted, n: 5, seed: 4 });
  assert.deepEqual(genA.series, genB.series);
});

test('a run refuses to overwrite another; the progress log and holdout are written', async () => {
  const runDir = path.join(tmp(), 'run');
  const logs: string[] = [];
  const summary = await startTraining(request(runDir, { iterations: 4, holdoutFraction: 0.2 }), { onLog: (m) => logs.push(m) });
  // 6 held-out series are too few for the exposure monitor: the run says so once, and in its summary
  const why = /^membership exposure is not measured during this run: 6 series were held out, fewer than the 20 its AUC needs/;
  assert.equal(logs.filter((m) => why.test(m)).length, 1, logs.join('\n'));
  assert.match(summary.exposureUnavailable ?? '', why);
  assert.equal(summary.exposure, undefined);
  await assert.rejects(startTraining(request(runDir)), (e: ApiError) => e.code === 'conflict' && /already holds a training run/.test(e.message) && e.hint?.action === 'resume');
  const lines = fs
    .readFileSync(path.join(runDir, RUN_FILES.progress), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(lines.length >= 1 && Number.isFinite(lines.at(-1).critic));
  const train = loadEncoded(path.join(runDir, RUN_FILES.train));
  const holdout = loadEncoded(path.join(runDir, RUN_FILES.holdout));
  assert.equal(train.n + holdout.n, 30);
  assert.equal(holdout.n, 6);
  assert.ok(!holdout.ids.some((id) => train.ids.includes(id)), 'holdout series are not trained on');
  const { holdout: decodedHoldout } = runDatasets(runDir);
  assert.equal(decodedHoldout?.series.length, 6);
  assert.equal(readCheckpoint(path.join(runDir, RUN_FILES.checkpoint)).model.criticSteps, 2, 'a small dataset trains the critic twice per iteration by default');
  const overridden = path.join(tmp(), 'run-one-critic-step');
  const noHoldout = await startTraining(request(overridden, { iterations: 1, model: { ...small, criticSteps: 1 } }));
  assert.match(noHoldout.exposureUnavailable ?? '', /no series were held out of training/);
  assert.equal(readCheckpoint(path.join(overridden, RUN_FILES.checkpoint)).model.criticSteps, 1, 'an explicit model setting wins over the default');
});

test('data with features only (no attribute column) trains and generates on both engines', async () => {
  const demo = demoDataset({ series: 30, length: 12, seed: 3 });
  const dataset = { ...demo, attributes: [], series: demo.series.map((s) => ({ ...s, attributes: [] })) };
  for (const engine of ['reference', 'native'] as const) {
    const runDir = path.join(tmp(), 'run');
    await startTraining(request(runDir, { data: { dataset, label: 'features only' }, iterations: 3, engine }));
    const synthetic = await generateFromRun({ runDir, n: 4, seed: 1 });
    assert.deepEqual(synthetic.attributes, []);
    assert.equal(synthetic.series.length, 4);
    for (const s of synthetic.series) {
      assert.deepEqual(s.attributes, []);
      assert.equal(s.features.length, demo.features.length);
      assert.ok(
        s.features.every((column) => column.length === s.length && [...column].every((v) => v !== undefined)),
        engine,
      );
    }
  }
});

test('generation: seeded, decoded to known labels, conditional on given attributes', async () => {
  const runDir = path.join(tmp(), 'run');
  await startTraining(request(runDir, { iterations: 3 }));
  const a = await generateFromRun({ runDir, n: 7, seed: 1 });
  const b = await generateFromRun({ runDir, n: 7, seed: 1 });
  const c = await generateFromRun({ runDir, n: 7, seed: 2 });
  assert.deepEqual(a.series, b.series);
  assert.notDeepEqual(a.series, c.series);
  const real = demoDataset({ series: 30, length: 12, seed: 3 });
  real.attributes.forEach((column, k) => {
    if (column.kind === 'categorical') for (const s of a.series) assert.ok(column.categories!.includes(s.attributes[k] as string));
  });
  const given = [real.series[0].attributes, real.series[1].attributes, real.series[0].attributes];
  const conditional = await generateFromRun({ runDir, n: 0, seed: 1, givenAttributes: given });
  assert.deepEqual(
    conditional.series.map((s) => s.attributes),
    given,
  );
});

test('generation in parts of whole noise blocks gives the same series as one part, on both engines', async () => {
  for (const engine of ['reference', 'native'] as const) {
    const runDir = path.join(tmp(), 'run');
    await startTraining(request(runDir, { iterations: 2, engine }));
    const whole = await generateFromRun({ runDir, n: 2500, seed: 5 });
    const progress: number[] = [];
    const parts = [];
    for await (const part of generatePartsFromRun({ runDir, n: 2500, seed: 5, partSeries: 1000, onProgress: (done) => progress.push(done) })) parts.push(part);
    assert.deepEqual(
      parts.map((p) => p.series.length),
      [1000, 1000, 500],
    );
    assert.deepEqual(progress, [1000, 2000, 2500]);
    assert.deepEqual(
      parts.flatMap((p) => p.series),
      whole.series,
      engine,
    );
    assert.equal(whole.series[2499].id, 'synthetic-2499');
    await assert.rejects(generateFromRun({ runDir, n: 2500, partSeries: 700 }), /multiple of 1000, got 700/);
  }
});

test('ETA: the first iterations (warm-up) are left out; then a moving rate that follows a change of speed', () => {
  let now = 0;
  const clock = new EtaClock(0);
  const tick = (ms: number) => {
    now += ms;
    clock.tick(now);
  };
  for (let i = 0; i < WARMUP_ITERATIONS; i++) {
    tick(i === 0 ? 900 : 300);
    assert.ok(Number.isNaN(clock.eta(100)), 'no ETA during warm-up');
  }
  for (let i = 0; i < 20; i++) tick(100);
  assert.ok(Math.abs(clock.eta(1000) - 100) < 1e-9, `steady 0.1 s/iteration: ${clock.eta(1000)}`);
  assert.equal(clock.eta(0), 0);
  // the machine gets twice as fast: within a few windows the ETA follows
  for (let i = 0; i < 200; i++) tick(50);
  assert.ok(Math.abs(clock.eta(1000) - 50) < 1, `after the change: ${clock.eta(1000)}`);
});

/** 50 series, 20 held out: enough for the exposure monitor (and so the guard), read at every iteration of a 40-iteration run. */
const guarded = (runDir: string, overrides: Partial<TrainRequest> = {}) =>
  request(runDir, { data: { dataset: demoDataset({ series: 50, length: 12, seed: 3 }), label: 'demo' }, holdoutFraction: 0.4, iterations: 40, checkpointEvery: 10, ...overrides });

test('privacy guard: a real run stops where the exposure crosses the bound and keeps the checkpoint before it', async () => {
  // without the guard: the full schedule, and the exposure at every iteration (training is deterministic)
  const readings: number[] = [];
  const full = await startTraining(guarded(path.join(tmp(), 'off'), { privacyGuard: false }), { onProgress: (p) => p.exposure !== undefined && readings.push(p.exposure) });
  assert.equal(full.iteration, 40);
  assert.equal(full.privacyGuard?.status, 'off');
  assert.equal(readings.length, 40);
  // a bound that the readings first cross at index `cross`, after `cross` readings within it
  let bound = Number.NaN;
  let cross = -1;
  for (let k = 5; k < 35 && cross < 0; k++) {
    bound = Math.max(...readings.slice(0, k));
    cross = readings.findIndex((r, i) => i >= k && r > bound);
  }
  assert.ok(cross > 0, `the exposure never rose: ${readings.map((r) => r.toFixed(2)).join(' ')}`);
  const keptIteration = cross; // reading i is taken after iteration i + 1: the last one within the bound

  const runDir = path.join(tmp(), 'guarded');
  const logs: string[] = [];
  const summary = await startTraining(guarded(runDir, { privacyGuard: { rise: bound - 0.5, baselineReadings: 0, window: 1, persistence: 1, minIterations: 0 } }), { onLog: (m) => logs.push(m) });
  assert.equal(summary.status, 'complete');
  assert.equal(summary.iteration, keptIteration);
  assert.equal(summary.totalIterations, 40);
  assert.equal(summary.privacyGuard?.status, 'stopped');
  assert.equal(summary.privacyGuard?.stoppedAt, keptIteration + 1);
  assert.equal(summary.privacyGuard?.keptIteration, keptIteration);
  assert.match(summary.privacyGuard?.message ?? '', new RegExp(`stopped at iteration ${keptIteration + 1} of 40 and kept the checkpoint of iteration ${keptIteration}`));
  assert.ok(logs.includes(summary.privacyGuard!.message), 'the log says it too');
  assert.ok(
    logs.some((m) => /^privacy guard: stops the run once/.test(m)),
    'and what the guard would do, before training',
  );
  const { checkpoint, info } = readRun(runDir);
  assert.equal(checkpoint.iteration, keptIteration);
  assert.equal(info.iteration, keptIteration);
  assert.equal(info.privacyGuard?.status, 'stopped');
  // the kept checkpoint is the state after keptIteration iterations, exactly
  const straight = path.join(tmp(), 'straight');
  await startTraining(guarded(straight, { iterations: keptIteration, privacyGuard: false }));
  const a = tensors(straight);
  tensors(runDir).forEach((t, i) => assert.deepEqual(t.data, a[i].data, `tensor ${t.name}`));
  // complete: resume has nothing to do
  const again = await resumeTraining(runDir);
  assert.equal(again.iteration, keptIteration);

  // a bound never crossed: the full schedule, said so
  const held = await startTraining(guarded(path.join(tmp(), 'held'), { privacyGuard: { rise: 0.5, baselineReadings: 0, window: 1, persistence: 1, minIterations: 0 } }));
  assert.equal(held.iteration, 40);
  assert.equal(held.privacyGuard?.status, 'held');
});

test('privacy guard: not used under DP-SGD, and without a holdout a default schedule is capped', async () => {
  const dp = await startTraining(
    guarded(path.join(tmp(), 'dp'), {
      engine: 'native',
      iterations: 6,
      batchSize: 25,
      dp: { epsilon: 10 },
      privacyGuard: { rise: -1, baselineReadings: 0, window: 1, persistence: 1, minIterations: 0 },
    }),
  );
  assert.equal(dp.iteration, 6, 'a guard that would stop at once does not touch a DP-SGD run');
  assert.equal(dp.privacyGuard?.status, 'dp');
  assert.match(dp.privacyGuard?.message ?? '', /would leak/);
  assert.equal(readRun(dp.runDir).checkpoint.plan.privacyGuard, undefined);

  const { iterations: _, ...defaultLength } = request('unused');
  const noHoldout = await prepareTraining(defaultLength);
  assert.equal(noHoldout.plan.totalIterations, UNMONITORED_EPOCH_CAP * noHoldout.plan.iterationsPerEpoch);
  assert.equal(noHoldout.privacyGuard.status, 'capped');
  assert.ok(noHoldout.notes.some((n) => /capped at 1000 epochs/.test(n)));
  assert.ok(!noHoldout.warnings.some((w) => /memorize/.test(w)), 'the long-schedule warning goes with the guard off');
  const off = await prepareTraining({ ...defaultLength, privacyGuard: false });
  assert.ok(off.plan.totalIterations >= 20_000, "off: today's schedule");
  assert.ok(
    off.warnings.some((w) => /memorize/.test(w)),
    'with the existing warning',
  );
});
