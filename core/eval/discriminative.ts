/**
 * Discriminative score (TSGBench): how well a classifier tells real series from other series on a held-out
 * split. score = |accuracy - 0.5|: 0 means indistinguishable, 0.5 means perfectly separable.
 */

import type { Rng } from '../util/rng.ts';
import { accuracy, fitStandardiser, matrixFromRows, mlpPredict, selectRows, standardise, trainMlp, type MlpOptions } from './classifiers.ts';
import { max, mean, min, std } from '../util/stats.ts';
import type { PlainDataset } from './extract.ts';
import { pooled } from './extract.ts';

export interface DiscriminativeResult {
  /** |test accuracy - 0.5|. */
  score: number;
  /** Accuracy on the held-out 30%. */
  accuracy: number;
  /** Accuracy on the training 70% (far above `accuracy` means the classifier memorised). */
  trainAccuracy: number;
  /** Series per class after balancing (the larger side is subsampled; at most MAX_PER_CLASS). */
  perClass: number;
  trainSize: number;
  testSize: number;
}

export const TRAIN_SHARE = 0.7;
/** At most this many series per class take part: enough for a stable score, bounded time on big datasets. */
export const MAX_PER_CLASS = 1000;
/** Longer series enter the classifier as this many segment means per feature (the cost grows with the input width). */
export const MAX_FLAT_STEPS = 128;

/** Averages `values` into `segments` equal consecutive slices (identity when it is not longer). */
function shrink(values: number[], segments: number): number[] {
  if (values.length <= segments) return values;
  const out: number[] = [];
  for (let k = 0; k < segments; k++) {
    const start = Math.floor((k * values.length) / segments);
    const end = Math.floor(((k + 1) * values.length) / segments);
    let sum = 0;
    for (let t = start; t < end; t++) sum += values[t];
    out.push(sum / (end - start));
  }
  return out;
}

/**
 * One row per series: the series standardised by the real feature mean and std and flattened (zero past
 * its end; longer than MAX_FLAT_STEPS, as that many segment means), its length when lengths vary, per-series mean/std/min/max of each feature, one-hot
 * categorical attributes (categories of both sides) and continuous attributes.
 */
export function discriminatorRows(real: PlainDataset, datasets: PlainDataset[]): number[][][] {
  const centres = real.features.map((feature) => {
    const values = pooled(feature);
    const spread = std(values);
    return { centre: mean(values), scale: spread > 0 ? spread : 1 };
  });
  const steps = Math.max(0, ...datasets.map((d) => max(d.lengths)));
  const lengthsVary = new Set(datasets.flatMap((d) => d.lengths)).size > 1;
  const categories = real.categoricalNames.map((_, a) => [...new Set(datasets.flatMap((d) => d.categorical[a]))].sort());
  return datasets.map((dataset) =>
    dataset.lengths.map((length, s) => {
      const row: number[] = [];
      dataset.features.forEach((feature, f) => {
        const { centre, scale } = centres[f];
        const flat: number[] = [];
        for (let t = 0; t < steps; t++) flat.push(t < length ? (feature[s][t] - centre) / scale : 0);
        row.push(...shrink(flat, MAX_FLAT_STEPS));
      });
      if (lengthsVary) row.push(length);
      for (const feature of dataset.features) {
        const values = feature[s];
        row.push(mean(values), std(values), min(values), max(values));
      }
      categories.forEach((labels, a) => {
        for (const label of labels) row.push(dataset.categorical[a][s] === label ? 1 : 0);
      });
      for (const attribute of dataset.continuousAttributes) row.push(attribute[s]);
      return row;
    }),
  );
}

/** Picks `count` distinct indices out of 0..n-1, in random order. */
function sample(n: number, count: number, rng: Rng): number[] {
  return Array.from(rng.permutation(n).subarray(0, count));
}

export function discriminativeScore(real: PlainDataset, other: PlainDataset, rng: Rng, options: MlpOptions = {}): DiscriminativeResult {
  const [realRows, otherRows] = discriminatorRows(real, [real, other]);
  const perClass = Math.min(realRows.length, otherRows.length, MAX_PER_CLASS);
  if (perClass < 2) throw new Error('The discriminative score needs at least 2 series on each side.');
  const realPick = sample(realRows.length, perClass, rng);
  const otherPick = sample(otherRows.length, perClass, rng);
  // Split each class 70/30 so both halves stay balanced.
  const trainPerClass = Math.max(1, Math.min(perClass - 1, Math.round(perClass * TRAIN_SHARE)));
  const rows = [...realPick.map((i) => realRows[i]), ...otherPick.map((i) => otherRows[i])];
  const labels = [...realPick.map(() => 0), ...otherPick.map(() => 1)];
  const trainIndex: number[] = [];
  const testIndex: number[] = [];
  for (let i = 0; i < perClass; i++) {
    (i < trainPerClass ? trainIndex : testIndex).push(i, perClass + i);
  }
  const all = matrixFromRows(rows);
  const trainRaw = selectRows(all, trainIndex);
  const standardiser = fitStandardiser(trainRaw);
  const train = standardise(trainRaw, standardiser);
  const test = standardise(selectRows(all, testIndex), standardiser);
  const trainLabels = trainIndex.map((i) => labels[i]);
  const testLabels = testIndex.map((i) => labels[i]);
  const model = trainMlp(train, trainLabels, rng, options);
  const decide = (probabilities: Float64Array) => Array.from(probabilities, (p) => (p >= 0.5 ? 1 : 0));
  const testAccuracy = accuracy(decide(mlpPredict(model, test)), testLabels);
  return {
    score: Math.abs(testAccuracy - 0.5),
    accuracy: testAccuracy,
    trainAccuracy: accuracy(decide(mlpPredict(model, train)), trainLabels),
    perClass,
    trainSize: trainIndex.length,
    testSize: testIndex.length,
  };
}
