/**
 * The privacy review (core/privacy/review.ts): its statistics against brute force, and its verdicts on
 * synthetic data that copies the training series (must be flagged) and on fresh draws from the same
 * source as the real data (must not be).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runEvaluate } from '../core/api/evaluate.ts';
import { demoDataset } from '../core/data/demo.ts';
import type { Dataset } from '../core/data/types.ts';
import { writeDataset } from '../core/export/index.ts';
import { rocAuc, tprAtFpr, evaluateAttack } from '../core/privacy/attacks.ts';
import { attackInconclusive, attackVerdict, reviewPrivacy, seriesForConclusiveAuc } from '../core/privacy/review.ts';
import { categoricalKeys, forEachDistance, nearCopies, seriesVectors } from '../core/privacy/vectors.ts';
import { startTraining } from '../core/api/training.ts';
import { Rng } from '../core/util/rng.ts';

test('ROC AUC is the share of member/non-member pairs ordered right (ties half), as counted pair by pair', () => {
  assert.equal(rocAuc([3, 4, 5], [1, 2, 3]), 8.5 / 9);
  assert.equal(rocAuc([1, 1], [1, 1]), 0.5);
  assert.equal(rocAuc([1, 2, -Infinity], [-Infinity, 0, -Infinity]), 7 / 9, 'series scored -Infinity (a label training never had) tie among themselves');
  const rng = new Rng(3, 0);
  const members = Float64Array.from({ length: 57 }, () => Math.round(rng.normal() * 4) / 4 + 0.3);
  const nonMembers = Float64Array.from({ length: 43 }, () => Math.round(rng.normal() * 4) / 4);
  let pairs = 0;
  for (const m of members) for (const n of nonMembers) pairs += m > n ? 1 : m === n ? 0.5 : 0;
  assert.ok(Math.abs(rocAuc(members, nonMembers) - pairs / (57 * 43)) < 1e-12);
  // 1 of 10 non-members may be flagged: the threshold is the second highest non-member score
  assert.equal(tprAtFpr([5, 6, 7, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 9.5], 0.1), 0.25);
  const result = evaluateAttack(members, nonMembers, 1);
  assert.ok(result.aucLow <= result.auc && result.auc <= result.aucHigh && result.aucHigh - result.aucLow < 0.35);
});

test('attack verdicts: an interval wider than +-0.1 that shows no exposure is inconclusive, with the holdout size that would decide', () => {
  const attack = (auc: number, aucLow: number, aucHigh: number, members = 14) => ({ auc, aucLow, aucHigh, members, nonMembers: members, tprAtLowFpr: 0, fpr: 0.01 });
  // the case: 14 held-out series, AUC 0.68 [0.46, 0.85] is not "close to guessing"
  const wide = attack(0.68, 0.46, 0.85);
  assert.ok(attackInconclusive(wide));
  assert.equal(seriesForConclusiveAuc(wide), 60, '14 x (0.195 / 0.1)^2 = 53, rounded up to tens');
  assert.match(attackVerdict(wide), /^inconclusive \(the interval is wider than ±0\.1[^)]*about 60 unseen series a side would narrow it to ±0\.1, an estimate\)$/);
  assert.doesNotMatch(attackVerdict(wide), /close to guessing/);
  assert.equal(attackVerdict(attack(0.52, 0.45, 0.59, 400)), 'close to guessing');
  // a wide interval above 0.5 still shows exposure; one below 0.5 still shows none
  assert.match(attackVerdict(attack(0.85, 0.7, 0.98)), /clearly exposed/);
  assert.match(attackVerdict(attack(0.3, 0.1, 0.45)), /^below guessing/);
  assert.ok(!attackInconclusive(attack(0.85, 0.7, 0.98)) && !attackInconclusive(attack(0.3, 0.1, 0.45)));
});

test('series distances equal the plain Euclidean distance over the scaled values; near-copies are found exactly', () => {
  const data = demoDataset({ series: 23, length: 9, seed: 4 });
  const other = demoDataset({ series: 7, length: 9, seed: 5 });
  const [a, b] = seriesVectors(data, data, other);
  assert.equal(a.dim, b.dim);
  const nearest = new Float64Array(b.n).fill(Infinity);
  forEachDistance(b, a, (i, j, d) => {
    let sum = 0;
    for (let k = 0; k < a.dim; k++) sum += (b.data[i * b.dim + k] - a.data[j * a.dim + k]) ** 2;
    assert.ok(Math.abs(d - Math.sqrt(sum)) < 1e-9 * Math.max(1, d), `pair ${i},${j}: ${d} vs ${Math.sqrt(sum)}`);
    nearest[i] = Math.min(nearest[i], d);
  });
  // near-copies by buckets and early stops = a brute-force threshold on the nearest distance, for every radius
  const counts: number[] = [];
  for (const within of [1e-3, 0.3, 0.6, 1, 2]) {
    const found = nearCopies(b, categoricalKeys(other), a, categoricalKeys(data), within);
    counts.push(found.reduce((x, y) => x + y, 0));
    nearest.forEach((d, i) => {
      const sameKeyNearest = Math.min(
        ...Array.from({ length: a.n }, (_, j) => j)
          .filter((j) => categoricalKeys(data)[j] === categoricalKeys(other)[i])
          .map((j) => Math.sqrt(Array.from({ length: a.dim }, (_, k) => (b.data[i * b.dim + k] - a.data[j * a.dim + k]) ** 2).reduce((x, y) => x + y, 0))),
      );
      assert.equal(found[i], sameKeyNearest <= within ? 1 : 0, `series ${i} within ${within} (nearest ${d}, same attributes ${sameKeyNearest})`);
      if (d <= within && d < Math.SQRT2 - 1e-9) assert.equal(found[i], 1, 'anything nearer than sqrt(2) shares the categorical attributes');
    });
  }
  assert.ok(counts[0] === 0 && counts.at(-1)! > 0, `series found per radius: ${counts}`);
  // continuous values land in [0, 1] of the training range; one-hot blocks hold one 1
  assert.ok(a.data.every((x) => x >= -1e-12 && x <= 1 + 1e-12));
});

function split(dataset: Dataset, holdout: number): { train: Dataset; holdout: Dataset } {
  return { train: { ...dataset, series: dataset.series.slice(holdout) }, holdout: { ...dataset, series: dataset.series.slice(0, holdout) } };
}

test('the review flags synthetic data that copies the training series, and clears fresh draws from the same source', async () => {
  const real = split(demoDataset({ series: 400, length: 16, seed: 7 }), 150);

  const copied: Dataset = { ...real.train, series: real.train.series.slice(0, 200).map((s, i) => ({ ...s, id: `copy-${i}` })) };
  const leaky = await reviewPrivacy({ ...real, synthetic: copied, seed: 1 });
  assert.equal(leaky.copies.ofTraining, 200);
  assert.equal(leaky.copies.ofHoldout, 0);
  assert.ok(leaky.closestRecord!.closerToTraining > leaky.closestRecord!.chanceHigh, 'copies sit nearer the training side than chance');
  const gan = leaky.attacks.find((a) => a.name === 'nearest generated series')!;
  assert.ok(gan.auc > 0.75 && gan.aucLow > 0.65, `nearest-generated AUC ${gan.auc}`);
  assert.ok(gan.tprAtLowFpr > 0.5, 'copied members are found at a low false-positive rate');
  assert.match(leaky.statements[0], /^200 synthetic series \(100%\) are copies of training series/);
  assert.ok(leaky.statements.some((s) => /What would lower the risk/.test(s)));

  const fresh = demoDataset({ series: 300, length: 16, seed: 99 });
  const clean = await reviewPrivacy({ ...real, synthetic: fresh, seed: 1 });
  assert.equal(clean.copies.ofTraining, 0);
  const { closerToTraining, chanceLow, chanceHigh } = clean.closestRecord!;
  assert.ok(closerToTraining >= chanceLow && closerToTraining <= chanceHigh, `share ${closerToTraining} within chance [${chanceLow}, ${chanceHigh}]`);
  for (const attack of clean.attacks) assert.ok(attack.aucLow < 0.5 && attack.aucHigh > 0.5, `${attack.name}: AUC ${attack.auc} [${attack.aucLow}, ${attack.aucHigh}] covers guessing`);
  assert.ok(!clean.statements.some((s) => /What would lower the risk/.test(s)));
  assert.equal(clean.attacks.length, 2, 'no critic attack without a model');

  // a holdout that repeats 50 training series: those are left out, and said to be
  const mixed = await reviewPrivacy({ train: real.train, holdout: { ...real.holdout, series: [...real.holdout.series, ...real.train.series.slice(0, 50)] }, synthetic: copied, seed: 1 });
  assert.equal(mixed.holdoutInTraining, 50);
  assert.equal(mixed.closestRecord!.seriesPerSide, 150, 'only the 150 unseen holdout series are non-members');
  assert.ok(mixed.statements.some((s) => /^50 of the 200 holdout series also appear in the training data/.test(s)));
  assert.equal(clean.holdoutInTraining, 0);

  const noHoldout = await reviewPrivacy({ train: real.train, synthetic: fresh, dp: { epsilon: 2, delta: 1e-5 } });
  assert.equal(noHoldout.closestRecord, null);
  assert.equal(noHoldout.attacks.length, 0);
  assert.ok(noHoldout.statements.some((s) => /No unseen real series/.test(s)));
  assert.ok(
    noHoldout.statements.some((s) => /epsilon 2\.00 at delta 1e-5: .* finds at most 7% of the members/.test(s)),
    noHoldout.statements.join('\n'),
  );
});

test('dg evaluate --run scores unseen series with the critic, a label training never had scoring lowest', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-review-'));
  const all = demoDataset({ series: 160, length: 8, seed: 2 });
  const { train, holdout } = split(all, 40);
  await startTraining({
    data: { dataset: train, label: 'demo' },
    runDir: path.join(dir, 'run'),
    sampleLen: 4,
    batchSize: 20,
    iterations: 3,
    holdoutFraction: 0,
    engine: 'native',
    model: { lstmUnits: 8, criticHidden: [16], auxCriticHidden: [8], attributeHidden: [8], minMaxHidden: [8] },
  });
  // a holdout region the training data never had
  const unseen: Dataset = { ...holdout, series: holdout.series.map((s, i) => (i < 5 ? { ...s, attributes: [s.attributes[0], s.attributes[1], 'Atlantis'] } : s)) };
  await writeDataset(unseen, path.join(dir, 'holdout.csv'));
  await writeDataset({ ...train, series: train.series.slice(0, 60) }, path.join(dir, 'synth.csv'));
  const result = await runEvaluate({
    real: { runDir: path.join(dir, 'run') },
    synthetic: path.join(dir, 'synth.csv'),
    holdout: path.join(dir, 'holdout.csv'),
    options: {},
    outDir: path.join(dir, 'eval'),
    log: () => {},
  });
  const critic = result.privacy.attacks.find((a) => a.name === 'critic score');
  assert.ok(critic, result.privacy.statements.join('\n'));
  assert.equal(critic.nonMembers, 40);
  assert.equal(result.privacy.copies.ofTraining, 60, 'training series passed off as synthetic are copies');
});
