/**
 * The privacy unit under DP-SGD when series are split into pieces at import: the holdout keeps a series'
 * pieces together, Poisson sampling draws whole source series, each piece gets a share of the clip norm
 * (so a series moves the clipped sum by at most C), and the plan says so. Under DP the encoder keeps
 * nothing read from the data beyond what the plan names (no boundary snap).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareTraining, startTraining } from '../core/api/training.ts';
import { readDataset } from '../core/data/index.ts';
import { planDp } from '../core/privacy/dp.ts';
import { sourceSeries, splitHoldout } from '../core/train/defaults.ts';
import { createSeriesPoissonSampler, engineDp } from '../core/train/dp-sampling.ts';
import { Rng } from '../core/util/rng.ts';
import { mbaSplitFile } from './fixtures/mba.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dg-unit-'));

/** A long-format CSV of `series` series x `length` steps: id, step, a continuous feature, an attribute. */
function longCsv(series: number, length: number): string {
  const rng = new Rng(5);
  const lines = ['id,step,load,region'];
  for (let s = 0; s < series; s++) for (let t = 0; t < length; t++) lines.push(`s${s},${t},${(rng.uniform() * 10).toFixed(3)},${['north', 'south'][s % 2]}`);
  const file = path.join(tmp(), 'long.csv');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

test('import: pieces of a split series name their source series; the holdout keeps them on one side', async () => {
  const file = longCsv(150, 30);
  const { dataset } = await readDataset(file, { idColumn: 'id', timeColumn: 'step', maxLength: 12 });
  // 30 steps in pieces of 12, 12 and 6
  assert.equal(dataset.series.length, 450);
  assert.deepEqual(
    dataset.series.slice(0, 3).map((s) => [s.id, s.source]),
    [
      ['s0#0', 's0'],
      ['s0#1', 's0'],
      ['s0#2', 's0'],
    ],
  );
  const units = sourceSeries(dataset.series);
  assert.equal(units.series, 150);
  assert.equal(units.maxPieces, 3);
  const { train, holdout } = splitHoldout(dataset, 0.1, 7);
  const sides = new Map<string, string>();
  for (const [side, part] of [
    ['train', train],
    ['holdout', holdout!],
  ] as const)
    for (const s of part.series) {
      assert.notEqual(sides.get(s.source!), side === 'train' ? 'holdout' : 'train', `${s.source}'s pieces are on both sides`);
      sides.set(s.source!, side);
    }
  assert.equal(holdout!.series.length, 15 * 3, 'a tenth of the series, with all their pieces');
});

test('whole-series splits are unchanged by the grouping (same seed, same holdout as before pieces were grouped)', async () => {
  const file = longCsv(120, 12);
  const { dataset } = await readDataset(file, { idColumn: 'id', timeColumn: 'step' });
  assert.ok(dataset.series.every((s) => s.source === undefined));
  const { holdout } = splitHoldout(dataset, 0.1, 3);
  const order = new Rng(3, 4).permutation(120);
  const expected = new Set(Array.from(order.subarray(0, 12), (i) => dataset.series[i].id));
  assert.deepEqual(new Set(holdout!.series.map((s) => s.id)), expected);
});

test('series sampling: every sampled series brings all its pieces; the rate is per series', () => {
  // 4 series: rows 0-2, 3, 4-5, 6
  const unit = { series: 4, maxPieces: 3, groupOfRow: [0, 0, 0, 1, 2, 2, 3] };
  const draws = [0.9, 0.1, 0.2, 0.95, 0.5];
  let k = 0;
  const uniform = () => draws[k++ % draws.length];
  const sample = createSeriesPoissonSampler(unit, 0.5, uniform);
  for (let i = 0; i < 20; i++) {
    const rows = Array.from(sample());
    assert.ok(rows.length > 0);
    for (const group of new Set(rows.map((r) => unit.groupOfRow[r]))) {
      const all = unit.groupOfRow.flatMap((g, r) => (g === group ? [r] : []));
      assert.deepEqual(
        rows.filter((r) => unit.groupOfRow[r] === group),
        all,
        `series ${group} comes whole`,
      );
    }
    assert.deepEqual(
      rows,
      [...rows].sort((a, b) => a - b),
    );
  }
  // the empirical inclusion rate of a series over secure draws is q
  const secure = createSeriesPoissonSampler(unit, 0.3);
  let hits = 0;
  const trials = 4000;
  for (let i = 0; i < trials; i++) if (secure().includes(3)) hits++;
  const rate = hits / trials;
  // conditioned on a non-empty sample: 0.3 / (1 - 0.7^4) = 0.39
  assert.ok(Math.abs(rate - 0.3 / (1 - 0.7 ** 4)) < 0.03, `series 1 kept at rate ${rate}`);
});

test('planDp with pieces: delta and the empty-sample check count series; the engine clips each piece to C/k with noise sigma*C', () => {
  const unit = { series: 200, maxPieces: 3, groupOfRow: Array.from({ length: 600 }, (_, r) => Math.floor(r / 3)) };
  const shape = { trainingSeries: 600, seriesUnit: unit, batchSize: 120, criticSteps: 1, hasAuxCritic: false, iterations: 100 };
  const plan = planDp({ noiseMultiplier: 2 }, shape);
  assert.equal(plan.samplingRate, 0.2, '120 pieces per iteration on average: each series kept with probability 120/600');
  const engine = engineDp(plan);
  assert.equal(engine.clipNorm, plan.clipNorm / 3);
  assert.equal(engine.noiseMultiplier * engine.clipNorm, plan.noiseMultiplier * plan.clipNorm, 'the noise stays sigma x C');
  assert.equal(engine.expectedBatch, 120);
  // delta is judged per series: 1/150 would pass against 600 pieces, not against 200 series
  assert.throws(() => planDp({ noiseMultiplier: 2, delta: 1 / 150 }, shape), /not below 1\/N = 0.00500 for 200 training series/);
  // empty samples are drawn over series: 20 series at rate 0.1 are too often all left out
  const few = { series: 20, maxPieces: 30, groupOfRow: Array.from({ length: 600 }, (_, r) => Math.floor(r / 30)) };
  assert.throws(() => planDp({ noiseMultiplier: 2, delta: 1e-3 }, { ...shape, seriesUnit: few, batchSize: 60 }), /empty sample is too likely/);
  assert.doesNotThrow(() => planDp({ noiseMultiplier: 2, delta: 1e-3 }, { ...shape, seriesUnit: undefined, batchSize: 60 }), '600 whole series at rate 0.1 rarely are');
});

test('the plan of a DP run on split series: per-series accounting stated, what epsilon does not cover named, no boundary snap', async () => {
  const file = longCsv(150, 30);
  const prepared = await prepareTraining({
    data: { file, options: { idColumn: 'id', timeColumn: 'step', maxLength: 12 } },
    iterations: 10,
    batchSize: 100,
    sampleLen: 4,
    dp: { noiseMultiplier: 1.5 },
  });
  const unit = prepared.plan.dp!.seriesUnit!;
  assert.equal(unit.series, 135, '150 series less the 15 held out');
  assert.equal(unit.maxPieces, 3);
  assert.equal(unit.groupOfRow.length, prepared.data.n);
  const notes = prepared.notes.join('\n');
  assert.match(notes, /privacy unit is one source series: 405 pieces come from 135 series split at import \(up to 3 each\)/);
  assert.match(notes, /not covered \(read from the data and kept as they are\): the value ranges of load; the category lists of region; the number of training series \(135\)/);
  assert.match(notes, /the choice of auto-normalization/);
  assert.match(notes, /run\.json \(held-out series ids\)/);
  assert.equal(prepared.encoder.boundarySnap, undefined, 'no value read from the data for snapping under DP');

  const plain = await prepareTraining({ data: { file, options: { idColumn: 'id', timeColumn: 'step' } }, iterations: 10, sampleLen: 5, dp: { noiseMultiplier: 1.5 }, autoNormalize: false });
  assert.equal(plain.plan.dp!.seriesUnit, undefined, 'whole series: the unit is the row');
  assert.match(plain.notes.join('\n'), /the privacy unit is one series/);
  assert.doesNotMatch(plain.notes.join('\n'), /the choice of auto-normalization/, 'given explicitly: not read from the data');
  const noDp = await prepareTraining({ data: { file, options: { idColumn: 'id', timeColumn: 'step' } }, iterations: 10, sampleLen: 5 });
  assert.ok(noDp.encoder.boundarySnap, 'without DP the snap stays');
});

test('"at the bound" categories under DP: chosen from the data and named as not covered, or turned off and not named', async () => {
  const file = mbaSplitFile('train');
  const options = { idColumn: 'series_id', timeColumn: 'step', attributes: ['isp', 'technology', 'state'], features: ['traffic_byte_counter', 'ping_loss_rate'] };
  const base = { data: { file, options }, iterations: 10, dp: { noiseMultiplier: 1.5 }, autoNormalize: false };
  const auto = await prepareTraining(base);
  assert.deepEqual(auto.encoder.pointMasses, [null, { min: true, max: false }], 'ping loss: 0 in 98% of steps');
  assert.match(auto.notes.join('\n'), /which features' bounds get a category of their own \(ping_loss_rate: from the share of values at each bound; turn the categories off/);
  assert.match(auto.notes.join('\n'), /ping_loss_rate sits at its minimum 0 in at least 20% of steps/);
  const off = await prepareTraining({ ...base, boundCategories: false });
  assert.equal(off.encoder.pointMasses, undefined);
  assert.ok(!off.encoder.layout.features.some((v) => v.name.endsWith('__at_bound')));
  assert.doesNotMatch(off.notes.join('\n'), /bounds get a category|sits at its minimum/);
});

test('a DP run on split series trains on the native engine, sampling whole series', async () => {
  const file = longCsv(150, 30);
  const runDir = path.join(tmp(), 'run');
  const logs: string[] = [];
  const summary = await startTraining(
    {
      data: { file, options: { idColumn: 'id', timeColumn: 'step', maxLength: 12 } },
      runDir,
      iterations: 6,
      batchSize: 100,
      sampleLen: 4,
      engine: 'native',
      model: { lstmUnits: 8, criticHidden: [16], auxCriticHidden: [8], attributeHidden: [8], minMaxHidden: [8], criticSteps: 1 },
      dp: { noiseMultiplier: 1.5 },
    },
    { onLog: (m) => logs.push(m) },
  );
  assert.equal(summary.status, 'complete');
  assert.ok(summary.privacy && summary.privacy.epsilon > 0);
  assert.ok(logs.some((m) => m.includes('the privacy unit is one source series')));
});
