/**
 * Downstream usefulness: train-on-synthetic-test-on-real (TSTR) against train-on-real-test-on-real (TRTR).
 * The task predicts a categorical attribute from a series' summary (seriesFeatures.summaryRow) with a
 * multinomial logistic regression; both models are tested on the same real series.
 */

import { accuracy, fitStandardiser, logisticPredict, matrixFromRows, standardise, trainLogistic, type LogisticOptions } from './classifiers.ts';
import { summaryRow } from './seriesFeatures.ts';

export interface LabelledSeries {
  /** features[f][s]: continuous feature f of series s. */
  features: ReadonlyArray<ReadonlyArray<ArrayLike<number>>>;
  /** labels[s]: the target attribute of series s. */
  labels: ReadonlyArray<string>;
}

export interface TstrResult {
  target: string;
  /** Accuracy on the real test set of the model trained on real training series. */
  trtr: number;
  /** Accuracy on the same real test set of the model trained on synthetic series. */
  tstr: number;
  /** tstr / trtr; null when trtr is 0. */
  ratio: number | null;
  /** Accuracy of always answering the most frequent real training label: the floor both should beat. */
  majority: number;
  /** Series available for training (at most MAX_TRAINING_SERIES of them are used). */
  trainSize: number;
  syntheticSize: number;
  testSize: number;
  /** 'holdout' when a real holdout was the test set, 'split' when 30% of the real data was held back. */
  testSet: 'holdout' | 'split';
  classes: number;
}

/** Accuracy on `test` of a logistic regression trained on `train`; labels outside the training set count as wrong. */
export function trainAndTest(train: LabelledSeries, test: LabelledSeries, options: LogisticOptions = {}): number {
  const classes = [...new Set(train.labels)].sort();
  const index = new Map(classes.map((label, i) => [label, i]));
  const rows = (data: LabelledSeries) => matrixFromRows(data.labels.map((_, s) => summaryRow(data.features, s)));
  const trainRaw = rows(train);
  const standardiser = fitStandardiser(trainRaw);
  const model = trainLogistic(
    standardise(trainRaw, standardiser),
    train.labels.map((label) => index.get(label)!),
    classes.length,
    options,
  );
  const predicted = logisticPredict(model, standardise(rows(test), standardiser));
  return accuracy(
    predicted,
    test.labels.map((label) => index.get(label) ?? -1),
  );
}

export function majorityAccuracy(trainLabels: ReadonlyArray<string>, testLabels: ReadonlyArray<string>): number {
  const counts = new Map<string, number>();
  for (const label of trainLabels) counts.set(label, (counts.get(label) ?? 0) + 1);
  let best = '';
  let bestCount = -1;
  for (const [label, count] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (count > bestCount) {
      best = label;
      bestCount = count;
    }
  }
  return testLabels.length > 0 ? testLabels.filter((label) => label === best).length / testLabels.length : NaN;
}

/** Training sets larger than this are subsampled (evenly spaced, deterministic), to bound the time. */
export const MAX_TRAINING_SERIES = 10_000;

function capped(data: LabelledSeries): LabelledSeries {
  const n = data.labels.length;
  if (n <= MAX_TRAINING_SERIES) return data;
  return subset(
    data,
    Array.from({ length: MAX_TRAINING_SERIES }, (_, i) => Math.floor((i * n) / MAX_TRAINING_SERIES)),
  );
}

export function tstrVsTrtr(target: string, realTrain: LabelledSeries, synthetic: LabelledSeries, realTest: LabelledSeries, testSet: 'holdout' | 'split', options: LogisticOptions = {}): TstrResult {
  const trtr = trainAndTest(capped(realTrain), realTest, options);
  const tstr = trainAndTest(capped(synthetic), realTest, options);
  return {
    target,
    trtr,
    tstr,
    ratio: trtr > 0 ? tstr / trtr : null,
    majority: majorityAccuracy(realTrain.labels, realTest.labels),
    trainSize: realTrain.labels.length,
    syntheticSize: synthetic.labels.length,
    testSize: realTest.labels.length,
    testSet,
    classes: new Set([...realTrain.labels, ...realTest.labels]).size,
  };
}

/** Picks series s of every feature and label. */
export function subset(data: LabelledSeries, indices: ReadonlyArray<number>): LabelledSeries {
  return {
    features: data.features.map((feature) => indices.map((s) => feature[s])),
    labels: indices.map((s) => data.labels[s]),
  };
}
