import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../core/data/types.ts';
import { readDataset } from '../core/data/index.ts';
import { iterationsPerEpoch } from '../core/train/loop.ts';
import { defaultAutoNormalize, defaultCriticSteps, defaultEpochs, defaultHoldoutFraction, defaultSampleLen, MIN_DEFAULT_ITERATIONS } from '../core/train/defaults.ts';
import { mbaSplitFile } from './fixtures/mba.ts';

const mbaTrain = mbaSplitFile('train');

test('default S: the largest divisor of T up to 10 that leaves at least 4 LSTM steps', () => {
  assert.equal(defaultSampleLen(56), 8, 'MBA');
  assert.equal(defaultSampleLen(550), 10, "WWT, the paper's best");
  assert.equal(defaultSampleLen(24), 6);
  assert.equal(defaultSampleLen(12), 3);
  assert.equal(defaultSampleLen(53), 1, 'a prime length has no other divisor');
  assert.equal(defaultSampleLen(3), 1);
  for (const T of [5, 16, 56, 97, 168, 550, 2500]) {
    const S = defaultSampleLen(T);
    assert.equal(T % S, 0, `S divides T=${T}`);
    assert.ok(S <= 10 && (S === 1 || T / S >= 4), `T=${T} S=${S}`);
  }
});

test("default epochs: the paper's 400, raised so that small datasets still train MIN_DEFAULT_ITERATIONS iterations", () => {
  assert.equal(defaultEpochs(50_000, 100), 400, "WWT-sized: the paper's epochs");
  assert.equal(defaultEpochs(480, 100), MIN_DEFAULT_ITERATIONS / 4, 'MBA split: 4 iterations per epoch');
  for (const [n, batch] of [
    [30, 8],
    [480, 100],
    [5_000, 100],
    [123, 50],
  ]) {
    assert.ok(defaultEpochs(n, batch) * iterationsPerEpoch(n, batch) >= MIN_DEFAULT_ITERATIONS, `n=${n} batch=${batch}`);
  }
});

test("default critic steps: 2 for small datasets on the long schedule, the paper's 1 for large ones", () => {
  assert.equal(defaultCriticSteps(480, 100), 2, 'MBA split');
  assert.equal(defaultCriticSteps(50_000, 100), 1, 'WWT-sized');
  assert.equal(defaultCriticSteps(5_000, 100), 1, '50 iterations per epoch x 400 epochs reaches MIN_DEFAULT_ITERATIONS');
  assert.equal(defaultCriticSteps(4_999, 100), 2);
});

/** Series whose single feature is a sine of a chosen amplitude. */
/** Series of 20 steps: amplitude x sin(t), plus a level per series (default 0). */
function sines(amplitudes: number[], level: (i: number) => number = () => 0): Dataset {
  const column = { name: 'x', kind: 'continuous' as const, role: 'feature' as const };
  return {
    schema: { version: 1, layout: { kind: 'long', idColumn: 'id' }, columns: [column], maxLength: 20, longSeries: 'split', missing: 'interpolate' },
    attributes: [],
    features: [column],
    series: amplitudes.map((a, i) => ({ id: `s${i}`, attributes: [], length: 20, features: [Float64Array.from({ length: 20 }, (_, t) => level(i) + a * Math.sin(t))] })),
  };
}

test("auto-normalization by default when a feature's series span scales 100x apart or differ mainly by level", async () => {
  const { dataset } = await readDataset(mbaTrain, { idColumn: 'series_id', timeColumn: 'step', attributes: ['isp', 'technology', 'state'], features: ['traffic_byte_counter', 'ping_loss_rate'] });
  const mba = defaultAutoNormalize(dataset);
  assert.equal(mba.on, false, 'MBA: per-series ranges within about 10x, series overlap');
  assert.match(mba.reason, /spread share 0\.[0-7]\d < 0\.8/);
  const orders = Array.from({ length: 50 }, (_, i) => 10 ** ((4 * i) / 49));
  const wide = defaultAutoNormalize(sines(orders));
  assert.equal(wide.on, true, 'amplitudes over four orders of magnitude');
  assert.match(wide.reason, /very different scales/);
  assert.equal(defaultAutoNormalize(sines(orders.map((a) => 1 + a / 1e3))).on, false, 'amplitudes within 11x');
  assert.equal(defaultAutoNormalize(sines(orders.map(() => 0))).on, false, 'flat series give no ranges');
  // unit sines around levels 0, 10, 20, ...: the levels spread ~200x the within-series std (spread share ~1)
  const unit = orders.map(() => 1);
  const levels = defaultAutoNormalize(sines(unit, (i) => 10 * i));
  assert.equal(levels.on, true, 'series that differ by level, each in a narrow band');
  assert.match(levels.reason, /differ mainly by level.*spread share (0\.9\d|1\.00) >= 0\.8/);
  // the same sines around levels 0 and 1 only: they overlap, each covers most of the range
  assert.equal(defaultAutoNormalize(sines(unit, (i) => i % 2)).on, false, 'overlapping series');
});

test('default holdout: none under 100 series; 10% from 100 on, but never fewer than the exposure monitor needs', () => {
  assert.equal(defaultHoldoutFraction(99, 20), 0);
  assert.equal(Math.round(100 * defaultHoldoutFraction(100, 20)), 20, '100 series: 20 held out, not 10');
  assert.equal(Math.round(147 * defaultHoldoutFraction(147, 20)), 20, "gapminder's 147: 20, not 15");
  assert.equal(defaultHoldoutFraction(480, 20), 0.1, 'MBA: 48');
  assert.equal(defaultHoldoutFraction(150), 0.1, 'without a minimum: 10%');
});
