/**
 * Issue 14: DP-SGD on Poisson-sampled batches must not reveal the sample except through the clipped,
 * noised critic gradients. Through the real native engine (CPU core): the engine's counters after N
 * iterations (a checkpoint's noise position included) do not depend on the sample sizes drawn, and a
 * run of the training loop, with its own secure Poisson samples, checkpoints the same counters and the
 * same tensor names and shapes as another run whose samples differ: only the (noised) weights differ.
 *
 * What a whole run folder cannot promise (so this test does not claim it): progress.jsonl and run.json
 * record each iteration's losses and DP clipping statistics, which are computed on the sample and not
 * noised, plus timings; those are outside the engine (issue 14's other items).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { EncodedDataset } from '../core/encoding/types.ts';
import type { EngineState, RealBatch } from '../core/model/engine.ts';
import { createNativeEngine, nativeAddonPath } from '../core/model/native.ts';
import type { TrainingPlan } from '../core/train/checkpoint.ts';
import { runLoop } from '../core/train/loop.ts';
import { Rng } from '../core/util/rng.ts';
import { randomBatch, tinyConfig } from './fixtures/tiny-model.ts';

assert.ok(fs.existsSync(nativeAddonPath), `the native addon is not built (${nativeAddonPath}); build it with \`npm run build:native\``);

const config = tinyConfig({ criticSteps: 2 });
const expectedBatch = 6;
const dp = { clipNorm: 1, noiseMultiplier: 1, expectedBatch };
const all = randomBatch(config, 40, new Rng(3, 9));

/** Rows `rows` of the training set as a batch that carries them. */
function rowsBatch(rows: number[]): RealBatch {
  const A = all.attributes.length / all.size;
  const M = all.additionalAttributes.length / all.size;
  const TF = all.features.length / all.size;
  const batch: RealBatch = {
    size: rows.length,
    attributes: new Float32Array(rows.length * A),
    additionalAttributes: new Float32Array(rows.length * M),
    features: new Float32Array(rows.length * TF),
    rows: Int32Array.from(rows),
  };
  rows.forEach((r, b) => {
    batch.attributes.set(all.attributes.subarray(r * A, (r + 1) * A), b * A);
    batch.additionalAttributes.set(all.additionalAttributes.subarray(r * M, (r + 1) * M), b * M);
    batch.features.set(all.features.subarray(r * TF, (r + 1) * TF), b * TF);
  });
  return batch;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const shapes = (state: EngineState) => state.tensors.map((t) => `${t.name} ${t.shape.join('x')}`);

test('DP-SGD on Poisson batches: the engine counters after N iterations do not depend on the sample sizes', async () => {
  const states: EngineState[] = [];
  for (const sizes of [
    [6, 3, 11, 1],
    [1, 9, 2, 14],
  ]) {
    const engine = await createNativeEngine({ config, seed: 12, threads: 2, dp });
    try {
      for (const [i, size] of sizes.entries()) {
        const batch = rowsBatch(range((7 * i) % 20, size));
        await engine.trainStep([batch, batch]);
      }
      states.push(await engine.getState());
    } finally {
      engine.dispose();
    }
  }
  const [a, b] = states;
  assert.deepEqual(a.counters, b.counters, 'noise position and step counts are the same for samples of 21 and 26 series');
  assert.ok(a.counters.noisePosition > 0);
  assert.deepEqual(shapes(a), shapes(b));

  // the same engine refuses Poisson batches that do not say which training rows they hold
  const engine = await createNativeEngine({ config, seed: 12, threads: 2, dp });
  try {
    const { rows: _, ...noRows } = rowsBatch(range(0, 5));
    await assert.rejects(engine.trainStep([noRows, noRows]), /training-set rows \(batch\.rows\)/);
    const other = await createNativeEngine({ config, seed: 12, threads: 2, dp: { clipNorm: 1, noiseMultiplier: 1 } });
    try {
      await other.trainStep([noRows, noRows]); // fixed-size batches need no rows
    } finally {
      other.dispose();
    }
  } finally {
    engine.dispose();
  }
});

test('DP-SGD training loop: two runs with different Poisson samples checkpoint the same counters; only the noised weights differ', async () => {
  const data: EncodedDataset = { ...all, layout: config.layout, n: all.size, lengths: new Int32Array(all.size), ids: [] };
  const samplingRate = expectedBatch / data.n;
  const plan: TrainingPlan = {
    seed: 5,
    batchSize: expectedBatch,
    iterationsPerEpoch: 6,
    totalIterations: 6,
    checkpointEvery: 3,
    engine: 'native',
    dp: { clipNorm: 1, noiseMultiplier: 1, delta: 1e-5, expectedBatch, samplingRate, releasesPerIteration: 4 },
  };
  const run = async () => {
    const engine = await createNativeEngine({ config, seed: 12, threads: 2, dp });
    const sizes: number[] = [];
    const checkpoints: { iteration: number; status: string; state: EngineState }[] = [];
    try {
      const train = engine.trainStep.bind(engine);
      engine.trainStep = (batches) => {
        sizes.push(batches[0].size);
        assert.ok(
          batches.every((b) => b.rows?.length === b.size),
          'the loop sends each batch with its rows',
        );
        return train(batches);
      };
      await runLoop({
        engine,
        data,
        plan,
        startIteration: 0,
        onCheckpoint: async (iteration, status) => {
          checkpoints.push({ iteration, status, state: await engine.getState() });
        },
      });
    } finally {
      engine.dispose();
    }
    return { sizes, checkpoints };
  };
  // Samples come from the OS's secure randomness: rerun until two runs' sample sizes differ (six
  // iterations of Poisson(6)-ish sizes all equal by chance is rare).
  const first = await run();
  let second = await run();
  for (let tries = 0; tries < 5 && second.sizes.join() === first.sizes.join(); tries++) second = await run();
  assert.notDeepEqual(second.sizes, first.sizes, 'the two runs drew different sample sizes');
  assert.equal(second.checkpoints.length, first.checkpoints.length);
  for (const [i, c] of first.checkpoints.entries()) {
    const d = second.checkpoints[i];
    assert.deepEqual([d.iteration, d.status], [c.iteration, c.status]);
    assert.deepEqual(d.state.counters, c.state.counters, `checkpoint at iteration ${c.iteration}: counters (sizes ${first.sizes} vs ${second.sizes})`);
    assert.deepEqual(shapes(d.state), shapes(c.state));
  }
});
