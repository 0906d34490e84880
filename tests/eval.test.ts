import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { ColumnSchema, Dataset, Schema, Value } from '../core/data/types.ts';
import { readDataset } from '../core/data/index.ts';
import { columnsFromRows, featureRows, pickSteps } from '../core/data/feature-column.ts';
import { acfDistance, compareAcfCurves, datasetAcf, meanAcf, seriesAcf } from '../core/eval/autocorrelation.ts';
import { fitStandardiser, logisticPredict, matrixFromRows, standardise, trainLogistic } from '../core/eval/classifiers.ts';
import { compareCorrelations } from '../core/eval/crossCorrelation.ts';
import { metadataDependence } from '../core/eval/dependence.ts';
import { excessKurtosis, pearson, quantileSorted, skewness } from '../core/util/stats.ts';
import { discriminativeScore } from '../core/eval/discriminative.ts';
import { countLabels, jensenShannonDistance, ksStatistic, totalVariation, wasserstein1 } from '../core/eval/distances.ts';
import { toPlain } from '../core/eval/extract.ts';
import { displayRange, histogramShares } from '../core/eval/histogram.ts';
import { seamsOf } from '../core/eval/seams.ts';
import { evaluate, renderReport, summarize, usesVerdict, headlines, HEADLINE_METRICS, withoutRealSeries, type Metrics } from '../core/eval/index.ts';
import { verdictOf } from '../core/eval/summary.ts';
import { labelJsDistance, marginalDistributionDifference, normalisedWasserstein, pairTotalVariation } from '../core/eval/marginals.ts';
import { momentDifference, seriesStatisticsKs } from '../core/eval/statistics.ts';
import { tstrVsTrtr } from '../core/eval/tstr.ts';
import { Rng } from '../core/util/rng.ts';
import { MBA_NAIVE_CSV, mbaSplitFile } from './fixtures/mba.ts';

// ---------- builders ----------

interface SeriesSpec {
  attributes: Value[];
  /** features[t][f] */
  features: number[][];
}

function buildDataset(specs: SeriesSpec[], attributeNames: string[], featureNames: string[]): Dataset {
  const attributes: ColumnSchema[] = attributeNames.map((name) => ({ name, kind: 'categorical', role: 'attribute' }));
  const features: ColumnSchema[] = featureNames.map((name) => ({ name, kind: 'continuous', role: 'feature' }));
  const schema: Schema = {
    version: 1,
    layout: { kind: 'long', idColumn: 'id', timeColumn: 't' },
    columns: [{ name: 'id', kind: 'id', role: 'id' }, { name: 't', kind: 'time', role: 'time' }, ...attributes, ...features],
    maxLength: Math.max(...specs.map((s) => s.features.length)),
    longSeries: 'split',
    missing: 'interpolate',
  };
  return {
    schema,
    attributes,
    features,
    series: specs.map((s, i) => ({ id: String(i), attributes: s.attributes, length: s.features.length, features: columnsFromRows(features, s.features) })),
  };
}

function ar1(rng: Rng, length: number, phi: number): number[] {
  const out: number[] = [];
  let x = rng.normal() / Math.sqrt(1 - phi * phi);
  for (let t = 0; t < length; t++) {
    out.push(x);
    x = phi * x + rng.normal();
  }
  return out;
}

function whiteNoise(rng: Rng, length: number): number[] {
  return Array.from({ length }, () => rng.normal());
}

/**
 * Series whose level depends on a "kind" attribute (a/b/c), with AR(1) noise and a second feature that
 * follows the first: a small dataset with temporal, dependence and cross-feature structure.
 */
function structuredDataset(rng: Rng, count: number, length = 24): Dataset {
  const kinds = ['a', 'b', 'c'];
  const levels: Record<string, number> = { a: -2, b: 0, c: 2 };
  const specs: SeriesSpec[] = [];
  for (let s = 0; s < count; s++) {
    const kind = kinds[rng.int(3)];
    const region = rng.uniform() < 0.7 ? 'north' : 'south';
    const noise = ar1(rng, length, 0.8);
    specs.push({
      attributes: [kind, region],
      features: noise.map((v) => {
        const x = levels[kind] + v;
        return [x, 0.5 * x + 0.3 * rng.normal()];
      }),
    });
  }
  return buildDataset(specs, ['kind', 'region'], ['load', 'delay']);
}

function copyDataset(dataset: Dataset): Dataset {
  return structuredClone(dataset);
}

function mapFeatures(dataset: Dataset, map: (value: number, t: number, f: number, s: number) => number): Dataset {
  const copy = copyDataset(dataset);
  copy.series.forEach((series, s) => {
    series.features = series.features.map((column, f) => Float64Array.from(column as Float64Array, (v, t) => map(v, t, f, s)));
  });
  return copy;
}

const close = (actual: number, expected: number, tolerance: number, what = '') => assert.ok(Math.abs(actual - expected) <= tolerance, `${what} expected ${expected} +- ${tolerance}, got ${actual}`);

// ---------- pure metric functions ----------

describe('descriptive statistics', () => {
  it('skewness and excess kurtosis match hand-computed values', () => {
    // Symmetric 1..5: skewness 0; m2 = 2, m4 = 6.8, excess kurtosis = 6.8 / 4 - 3 = -1.3.
    close(skewness([1, 2, 3, 4, 5]), 0, 1e-12);
    close(excessKurtosis([1, 2, 3, 4, 5]), -1.3, 1e-12);
    // Bernoulli(1/4) sample: skewness (1 - 2p) / sqrt(p q) = 2 / sqrt(3), excess kurtosis (1 - 6pq) / (pq) = -2/3.
    close(skewness([0, 0, 0, 1]), 2 / Math.sqrt(3), 1e-12);
    close(excessKurtosis([0, 0, 0, 1]), -2 / 3, 1e-12);
    assert.equal(skewness([3, 3, 3]), 0);
  });

  it("skewness and kurtosis of large samples approach the distributions' values", () => {
    const rng = new Rng(1);
    const normal = Array.from({ length: 200_000 }, () => rng.normal());
    const exponential = Array.from({ length: 200_000 }, () => -Math.log(rng.uniform()));
    close(skewness(normal), 0, 0.03, 'normal skewness');
    close(excessKurtosis(normal), 0, 0.06, 'normal kurtosis');
    close(skewness(exponential), 2, 0.1, 'exponential skewness');
    close(excessKurtosis(exponential), 6, 1, 'exponential kurtosis');
    const d = momentDifference(normal, exponential);
    close(d.skewnessDifference, 2, 0.12);
    assert.deepEqual(momentDifference(normal, normal).kurtosisDifference, 0);
  });

  it('pearson is null for constant input and exact for linear relations', () => {
    assert.equal(pearson([1, 1, 1], [1, 2, 3]), null);
    close(pearson([1, 2, 3, 4], [2, 4, 6, 8])!, 1, 1e-12);
    close(pearson([1, 2, 3, 4], [8, 6, 4, 2])!, -1, 1e-12);
    close(quantileSorted([1, 2, 3, 4], 0.5), 2.5, 1e-12);
  });
});

describe('distances', () => {
  it('Wasserstein-1: 0 for identical samples, c for a shift by c, hand values for small samples', () => {
    const rng = new Rng(2);
    const x = Array.from({ length: 1000 }, () => rng.normal());
    assert.equal(wasserstein1(x, [...x].reverse()), 0);
    close(
      wasserstein1(
        x,
        x.map((v) => v + 0.7),
      ),
      0.7,
      1e-9,
    );
    // CDFs of {0, 1} and {0, 2} differ by 1/2 on [1, 2).
    close(wasserstein1([0, 1], [0, 2]), 0.5, 1e-12);
    close(wasserstein1([0], [0, 1]), 0.5, 1e-12);
    // Normalised by the real range: a shift by c is c / range.
    const range = Math.max(...x) - Math.min(...x);
    close(
      normalisedWasserstein(
        x,
        x.map((v) => v + 0.7),
      ),
      0.7 / range,
      1e-9,
    );
  });

  it('KS statistic matches a hand computation, ties included', () => {
    // At 4: F_a = 1, F_b = 2/6.
    close(ksStatistic([1, 2, 3, 4], [3, 4, 5, 6, 7, 8]), 2 / 3, 1e-12);
    // Ties: at 1, 2/3 vs 1/3; at 2 both reach 1.
    close(ksStatistic([1, 1, 2], [1, 2, 2]), 1 / 3, 1e-12);
    assert.equal(ksStatistic([5, 1, 3], [3, 5, 1]), 0);
    assert.equal(ksStatistic([0, 1], [2, 3]), 1);
  });

  it('Jensen-Shannon distance matches the formula by hand, natural log', () => {
    // p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4).
    const expected = Math.sqrt(0.5 * (0.5 * Math.log(0.5 / 0.75) + 0.5 * Math.log(0.5 / 0.25)) + 0.5 * Math.log(1 / 0.75));
    close(jensenShannonDistance(countLabels(['a', 'b']), countLabels(['a', 'a', 'a'])), expected, 1e-12);
    close(expected, 0.4645, 1e-4);
    assert.equal(labelJsDistance(['x', 'y', 'y'], ['y', 'x', 'y']), 0);
    close(labelJsDistance(['x', 'x'], ['y']), Math.sqrt(Math.log(2)), 1e-12);
  });

  it('total variation of joints: pairs that match one by one but not jointly', () => {
    close(totalVariation(countLabels(['a', 'b']), countLabels(['a', 'a', 'a', 'b'])), 0.25, 1e-12);
    // Same marginals (half a, half b; half x, half y) but opposite pairing: the joints are disjoint.
    close(pairTotalVariation(['a', 'b'], ['x', 'y'], ['a', 'b'], ['y', 'x']), 1, 1e-12);
    assert.equal(pairTotalVariation(['a', 'b'], ['x', 'y'], ['b', 'a'], ['y', 'x']), 0);
  });
});

describe('autocorrelation', () => {
  it('per-series ACF: AR(1) with phi 0.8 gives about 0.8 at lag 1, white noise about 0', () => {
    const rng = new Rng(3);
    const ar = Array.from({ length: 200 }, () => ar1(rng, 200, 0.8));
    const noise = Array.from({ length: 200 }, () => whiteNoise(rng, 200));
    const arAcf = meanAcf(ar, 10);
    const noiseAcf = meanAcf(noise, 10);
    close(arAcf.curve[0]!, 0.8, 0.04, 'AR(1) lag 1');
    close(arAcf.curve[1]!, 0.64, 0.05, 'AR(1) lag 2');
    close(noiseAcf.curve[0]!, 0, 0.02, 'white noise lag 1');
    assert.equal(arAcf.definedSeries, 200);
    // The gap between the curves is about the AR curve itself.
    const gap = compareAcfCurves(arAcf.curve, noiseAcf.curve);
    assert.ok(gap.relativeGap > 0.9, `relative gap ${gap.relativeGap}`);
    assert.deepEqual(compareAcfCurves(arAcf.curve, arAcf.curve), { mse: 0, relativeGap: 0 });
  });

  it('per-series ACF is null where undefined (constant windows, too-short series)', () => {
    assert.deepEqual(seriesAcf([2, 2, 2, 2], 2), [null, null]);
    assert.deepEqual(seriesAcf([1, 2, 3], 2), [1, null]);
    assert.equal(meanAcf([[5, 5, 5, 5]], 1).curve[0], null);
  });

  it('TSGBench dataset ACF: lag 0 is 1, AR(1) lag 1 about 0.8, and the ACD is the L2 distance', () => {
    const rng = new Rng(4);
    const ar = Array.from({ length: 100 }, () => ar1(rng, 100, 0.8));
    const acf = datasetAcf(ar, 5);
    close(acf[0], 1, 1e-12);
    close(acf[1], 0.8, 0.04);
    // White noise has none; shuffling time keeps only the share of variance between series levels
    // (centring is by the dataset mean, so each series' own level still correlates with itself).
    close(
      datasetAcf(
        Array.from({ length: 100 }, () => whiteNoise(rng, 100)),
        5,
      )[1],
      0,
      0.02,
    );
    const shuffled = ar.map((series) => Array.from(rng.permutation(series.length), (i) => series[i]));
    const flat = datasetAcf(shuffled, 5);
    assert.ok(flat[1] < 0.2, `shuffled AR(1) lag 1: ${flat[1]}`);
    assert.ok(acfDistance(acf, flat) > 0.8);
    close(acfDistance([1, 0.8, 0.64], [1, 0, 0]), Math.sqrt(0.8 ** 2 + 0.64 ** 2), 1e-12);
    assert.deepEqual(datasetAcf([[3, 3, 3]], 3), [1, 0, 0]);
  });
});

describe('feature marginals', () => {
  it('MDD: 0 for identical data, a hand value for a two-bin case', () => {
    const rng = new Rng(5);
    const series = Array.from({ length: 50 }, () => whiteNoise(rng, 10));
    assert.equal(
      marginalDistributionDifference(
        series,
        series.map((s) => [...s]),
      ),
      0,
    );
    // One time step, real {0, 1} in 2 bins of width 0.5: densities 1, 1. Other {0, 0}: densities 2, 0.
    close(marginalDistributionDifference([[0], [1]], [[0], [0]], 1, 2), 1, 1e-12);
    // Values outside the real range count in no bin: the real densities alone, mean 1 / (bins * width) = 1.
    close(marginalDistributionDifference([[0], [1]], [[5], [6]], 1, 2), 1, 1e-12);
  });

  it('KS of per-series statistics: 0 for the same series, 1 for a total shift', () => {
    const rng = new Rng(6);
    const series = Array.from({ length: 40 }, () => whiteNoise(rng, 20));
    const same = seriesStatisticsKs(series, [...series].reverse());
    assert.deepEqual(same, { mean: 0, std: 0, min: 0, max: 0 });
    const shifted = seriesStatisticsKs(
      series,
      series.map((s) => s.map((v) => v + 100)),
    );
    assert.equal(shifted.mean, 1);
    assert.equal(shifted.min, 1);
    assert.equal(shifted.max, 1);
  });

  it('histogram shares sum to 1 and clamp outliers into the end bins', () => {
    const shares = histogramShares([0, 0.1, 0.6, 5, -3], 0, 1, 2);
    assert.deepEqual(shares, [3 / 5, 2 / 5]);
    const [lo, hi] = displayRange(Array.from({ length: 101 }, (_, i) => i));
    assert.equal(lo, 0);
    close(hi, 99, 1e-9);
  });
});

describe('dependence and cross-feature correlation', () => {
  it('metadata dependence: hand case in units of the std of per-series means', () => {
    // Real per-series means: a -> 0, 0; b -> 2, 2 (std over all series = 1). Other: everything at 1.
    const result = metadataDependence(['a', 'a', 'b', 'b'], [0, 0, 2, 2], ['a', 'b', 'a', 'b'], [1, 1, 1, 1]);
    close(result.unit, 1, 1e-12);
    close(result.weightedGap, 1, 1e-12);
    assert.equal(result.categories.length, 2);
    assert.equal(result.categories[0].gapInStd, 1);
    // A perfect copy has no gap.
    assert.equal(metadataDependence(['a', 'b'], [0, 2], ['a', 'b'], [0, 2]).weightedGap, 0);
    // A category the other data lacks is compared with the other data's overall mean (3 here): |3 - 0| / 1.
    const missing = metadataDependence(['a', 'a', 'b', 'b'], [0, 0, 2, 2], ['b', 'b'], [3, 3]);
    close(missing.weightedGap, 0.5 * 3 + 0.5 * 1, 1e-12);
    assert.equal(missing.categories.find((c) => c.category === 'a')!.otherMean, null);
  });

  it('metadata dependence noise floor is about the gap of an independent sample of the same distribution', () => {
    const rng = new Rng(7);
    const draw = (n: number) => {
      const labels = Array.from({ length: n }, () => ['a', 'b', 'c'][rng.int(3)]);
      return { labels, means: labels.map((l) => (l === 'a' ? 0 : l === 'b' ? 1 : 3) + rng.normal()) };
    };
    let gaps = 0;
    let floors = 0;
    const runs = 40;
    for (let i = 0; i < runs; i++) {
      const real = draw(300);
      const other = draw(300);
      const result = metadataDependence(real.labels, real.means, other.labels, other.means);
      gaps += result.weightedGap;
      floors += result.noiseFloor;
    }
    close(gaps / runs, floors / runs, 0.25 * (floors / runs), 'mean gap vs noise floor');
  });

  it('cross-feature correlation: identical 0, opposite sign 2', () => {
    const rng = new Rng(8);
    const a = Array.from({ length: 30 }, () => whiteNoise(rng, 15));
    const same = compareCorrelations(a, a, a, a);
    assert.equal(same.wasserstein, 0);
    const negated = compareCorrelations(
      a,
      a,
      a,
      a.map((s) => s.map((v) => -v)),
    );
    close(negated.wasserstein!, 2, 1e-9);
    assert.equal(compareCorrelations([[1, 1, 1]], [[1, 2, 3]], a, a).wasserstein, null);
  });
});

// ---------- classifiers ----------

describe('classifiers', () => {
  it('discriminative score is near 0 for two samples of one distribution and near 0.5 for separable data', () => {
    const real = toPlain(structuredDataset(new Rng(10), 300));
    const sameDistribution = toPlain(structuredDataset(new Rng(11), 300));
    const same = discriminativeScore(real, sameDistribution, new Rng(12));
    assert.ok(same.score < 0.12, `same distribution: accuracy ${same.accuracy}`);
    assert.equal(same.perClass, 300);
    assert.equal(same.trainSize + same.testSize, 600);
    const shifted = toPlain(mapFeatures(structuredDataset(new Rng(11), 300), (v) => v + 4));
    const separable = discriminativeScore(real, shifted, new Rng(12));
    assert.ok(separable.score > 0.45, `separable: accuracy ${separable.accuracy}`);
  });

  it('discriminative score balances classes by subsampling the larger side', () => {
    const real = toPlain(structuredDataset(new Rng(13), 200));
    const other = toPlain(structuredDataset(new Rng(14), 50));
    const result = discriminativeScore(real, other, new Rng(15));
    assert.equal(result.perClass, 50);
    assert.equal(result.testSize, 2 * (50 - 35));
  });

  it('multinomial logistic regression learns a linearly separable 3-class problem', () => {
    const rng = new Rng(16);
    const rows: number[][] = [];
    const labels: number[] = [];
    for (let i = 0; i < 300; i++) {
      const c = i % 3;
      rows.push([c * 3 + rng.normal() * 0.5, rng.normal()]);
      labels.push(c);
    }
    const x = matrixFromRows(rows);
    const scaled = standardise(x, fitStandardiser(x));
    const predicted = logisticPredict(trainLogistic(scaled, labels, 3), scaled);
    const correct = labels.filter((label, i) => predicted[i] === label).length / labels.length;
    assert.ok(correct > 0.95, `accuracy ${correct}`);
  });

  it('TSTR / TRTR is 1 when the synthetic data is a copy of the real data, lower when labels are scrambled', () => {
    const real = toPlain(structuredDataset(new Rng(17), 240));
    const holdout = toPlain(structuredDataset(new Rng(18), 90));
    const labelled = (d: ReturnType<typeof toPlain>) => ({ features: d.features, labels: d.categorical[0] });
    const copy = tstrVsTrtr('kind', labelled(real), labelled(real), labelled(holdout), 'holdout');
    assert.ok(copy.trtr > copy.majority + 0.2, `TRTR ${copy.trtr} vs majority ${copy.majority}`);
    assert.equal(copy.tstr, copy.trtr);
    assert.equal(copy.ratio, 1);
    const rng = new Rng(19);
    const scrambled = { features: real.features, labels: Array.from(rng.permutation(real.categorical[0].length), (i) => real.categorical[0][i]) };
    const bad = tstrVsTrtr('kind', labelled(real), scrambled, labelled(holdout), 'holdout');
    assert.ok(bad.ratio! < 0.75, `scrambled-label ratio ${bad.ratio}`);
  });
});

// ---------- evaluate and the report ----------

function headlineNumbers(m: Metrics) {
  const c = m.synthetic;
  return {
    acfMse: c.autocorrelation.mse,
    acfGap: c.autocorrelation.relativeGap,
    acd: c.autocorrelation.acd,
    js: c.attributes.jsDistance,
    tvd: c.attributes.pairwiseTvd,
    wasserstein: c.features.wasserstein,
    mdd: c.features.mdd,
    sd: c.features.skewnessDifference,
    kd: c.features.kurtosisDifference,
    ks: c.seriesStatistics.ks,
    dependence: c.dependence.gap,
    crossCorrelation: c.crossCorrelation.wasserstein,
    length: c.length.wasserstein,
  };
}

describe('evaluate', () => {
  it('identical data scores 0 everywhere (1 for the KS complement) and the result is plain JSON', () => {
    const real = structuredDataset(new Rng(20), 150);
    const holdout = structuredDataset(new Rng(21), 60);
    const metrics = evaluate({ real, synthetic: copyDataset(real), holdout, seed: 3 });
    for (const [name, value] of Object.entries(headlineNumbers(metrics))) assert.equal(value, 0, name);
    assert.equal(metrics.synthetic.seriesStatistics.ksComplement, 1);
    // Exact copies are the one case where the classifier does worse than chance: it memorises a series as
    // real in training and meets its copy labelled synthetic in the test split.
    assert.ok(metrics.synthetic.discriminative.accuracy < 0.5, `discriminative accuracy ${metrics.synthetic.discriminative.accuracy}`);
    assert.equal(metrics.tstr!.ratio, 1);
    assert.equal(metrics.tstr!.testSet, 'holdout');
    assert.deepEqual(JSON.parse(JSON.stringify(metrics)), metrics);
    assert.equal(metrics.sizes.holdout, 60);
    assert.ok(metrics.holdout !== null);
    assert.deepEqual(metrics.columns.categoricalAttributes, ['kind', 'region']);
  });

  it('a shift of the features by c gives Wasserstein c / range and leaves autocorrelation untouched', () => {
    const real = structuredDataset(new Rng(22), 120);
    const shift = 0.5;
    const metrics = evaluate({ real, synthetic: mapFeatures(real, (v) => v + shift) });
    metrics.synthetic.features.perFeature.forEach((feature) => close(feature.wasserstein, shift / (feature.realMax - feature.realMin), 1e-9, feature.feature));
    close(metrics.synthetic.autocorrelation.mse!, 0, 1e-20);
    close(metrics.synthetic.autocorrelation.acd!, 0, 1e-9);
    assert.equal(metrics.synthetic.attributes.jsDistance, 0);
    assert.equal(metrics.tstr!.testSet, 'split');
  });

  it('shuffled time opens an ACF gap; dropped attribute dependence opens a dependence gap', () => {
    const real = structuredDataset(new Rng(23), 150);
    const rng = new Rng(24);
    const shuffled = copyDataset(real);
    for (const series of shuffled.series) {
      const order = rng.permutation(series.length);
      series.features = series.features.map((column) => pickSteps(column, order));
    }
    const timeShuffled = evaluate({ real, synthetic: shuffled });
    // Per-series ACF of AR(1) noise with phi 0.8 over 24 steps, against about 0 after shuffling.
    const lag1 = timeShuffled.synthetic.autocorrelation.perFeature[0];
    assert.ok(lag1.real[0]! > 0.5 && Math.abs(lag1.other[0]!) < 0.15, `lag 1: real ${lag1.real[0]}, shuffled ${lag1.other[0]}`);
    assert.ok(timeShuffled.synthetic.autocorrelation.relativeGap! > 0.7);
    // Marginals and per-series means are untouched by reordering steps.
    assert.equal(timeShuffled.synthetic.features.wasserstein, 0);
    close(timeShuffled.synthetic.dependence.gap!, 0, 1e-12);

    const scrambled = copyDataset(real);
    const order = rng.permutation(real.series.length);
    scrambled.series.forEach((series, s) => (series.attributes = [...real.series[order[s]].attributes]));
    const lost = evaluate({ real, synthetic: scrambled });
    const loadByKind = lost.synthetic.dependence.entries.find((e) => e.attribute === 'kind' && e.feature === 'load')!;
    assert.ok(loadByKind.weightedGap > 0.8, `kind x load gap ${loadByKind.weightedGap}`);
    assert.ok(loadByKind.weightedGap > 4 * loadByKind.noiseFloor);
    assert.equal(lost.synthetic.attributes.jsDistance, 0);
    assert.ok(lost.tstr!.ratio! < 0.75, `TSTR ratio with scrambled attributes ${lost.tstr!.ratio}`);
  });

  it('a small holdout cannot excuse metrics beyond their unfaithful thresholds: they are reported unfaithful', () => {
    const real = structuredDataset(new Rng(26), 150);
    const rng = new Rng(27);
    const shuffledTime = (d: Dataset) => {
      const copy = copyDataset(d);
      for (const series of copy.series) {
        const order = rng.permutation(series.length);
        series.features = series.features.map((column) => pickSteps(column, order));
      }
      return copy;
    };
    // jagged synthetic series next to smooth real ones, and a 14-series holdout just as jagged (a poor yardstick)
    const synthetic = shuffledTime(structuredDataset(new Rng(28), 150));
    const holdout = shuffledTime(structuredDataset(new Rng(29), 14));
    const metrics = evaluate({ real, synthetic, holdout, seed: 1 });
    const acf = headlines(metrics).find((row) => row.key === 'acfRelativeGap')!;
    assert.ok(acf.value! > acf.poor, `ACF gap ${acf.value}`);
    assert.equal(acf.referenceName, 'holdout');
    // the old rule ("within 1.25x of the holdout") would have called it faithful
    assert.ok(acf.value! <= 1.25 * acf.reference!, `ACF gap ${acf.value} vs holdout ${acf.reference}`);
    assert.equal(acf.verdict, 'unfaithful');
    for (const row of headlines(metrics)) {
      if (row.value !== null && row.key !== 'tstrRatio' && row.value > row.poor) assert.equal(row.verdict, 'unfaithful', row.key);
    }
    const summary = summarize(metrics);
    // the paragraph opens with what the data is good enough for: not for anything that reads the dynamics
    assert.equal(usesVerdict(metrics).find((u) => u.use.startsWith("the series' dynamics"))?.verdict, 'unfaithful');
    assert.match(summary, /^This synthetic data is [^.]*not for [^.]*the series' dynamics \(forecasting or anomaly detection\)/);
    assert.match(summary, /not faithful in [^.]*temporal structure/);
    assert.match(summary, /The largest departures: [^.]*ACF gap \(relative\)/);
    assert.doesNotMatch(summary, /No metric is beyond/);
    assert.match(summary, /The holdout itself is beyond the threshold on [^.]*ACF gap \(relative\)[^.]*\(14 series: a noisy yardstick\)/);
  });

  it('verdicts: thresholds are floors; between them the holdout can make a metric faithful', () => {
    const acf = HEADLINE_METRICS.find((m) => m.key === 'acfRelativeGap')!;
    assert.equal(verdictOf(acf, 0.1, null), 'faithful');
    assert.equal(verdictOf(acf, 0.3, null), 'approximate');
    assert.equal(verdictOf(acf, 0.3, 0.25), 'faithful');
    assert.equal(verdictOf(acf, 0.45, 0.3), 'approximate');
    assert.equal(verdictOf(acf, 0.51, 0.5), 'unfaithful');
    assert.equal(verdictOf(acf, 1.09, 1.0), 'unfaithful');
    const tstr = HEADLINE_METRICS.find((m) => m.key === 'tstrRatio')!;
    assert.equal(verdictOf(tstr, 0.95, null), 'faithful');
    assert.equal(verdictOf(tstr, 0.5, null), 'unfaithful');
  });

  it('series lengths: Wasserstein-1 in steps', () => {
    const rng = new Rng(25);
    const make = (length: number) =>
      buildDataset(
        Array.from({ length: 20 }, () => ({ attributes: ['x'], features: whiteNoise(rng, length).map((v) => [v]) })),
        ['a'],
        ['f'],
      );
    const metrics = evaluate({ real: make(10), synthetic: make(12) });
    assert.equal(metrics.synthetic.length.wasserstein, 2);
    close(metrics.synthetic.length.normalised, 0.2, 1e-12);
  });

  it('rejects mismatched columns, missing values and an unknown target, naming what is wrong', () => {
    const real = structuredDataset(new Rng(26), 10);
    const other = buildDataset(
      real.series.map((s) => ({ attributes: s.attributes, features: featureRows(s) as number[][] })),
      ['kind', 'region'],
      ['load', 'latency'],
    );
    assert.throws(() => evaluate({ real, synthetic: other }), /different columns/);
    const holed = copyDataset(real);
    holed.series[3].features[1][2] = NaN;
    assert.throws(() => evaluate({ real, synthetic: holed }), /series 3, step 2, feature delay/);
    assert.throws(() => evaluate({ real, synthetic: real, predictTarget: 'load' }), /not a categorical attribute/);
  });

  it('renders a self-contained report with SVG charts and a summary from the numbers', () => {
    const real = structuredDataset(new Rng(27), 100);
    const synthetic = mapFeatures(structuredDataset(new Rng(28), 100), (v) => v * 1.5);
    const holdout = structuredDataset(new Rng(29), 40);
    const metrics = evaluate({ real, synthetic, holdout });
    const html = renderReport(metrics, { real, synthetic, holdout }, 'Test <report>');
    assert.match(html, /^<!DOCTYPE html>/);
    assert.ok(html.includes('<title>Test &lt;report&gt;</title>'));
    assert.ok(!/<script/i.test(html), 'no scripts');
    assert.ok(!/(src|href)=["']https?:/i.test(html), 'no network resources');
    // 2 ACF + 2 histograms + 2 attribute bars + 4 dependence bars + 1 length + 4 samples.
    assert.equal((html.match(/<svg /g) ?? []).length, 15);
    assert.ok(html.includes('Autocorrelation: load'));
    assert.ok(html.includes(summarize(metrics).slice(0, 60)));
    const rows = headlines(metrics);
    assert.ok(rows.every((row) => row.value === null || html.includes(row.label)));
    // it warns that it plots real training series one by one
    assert.match(html, /This report contains real data:<\/strong> 3 real training series are plotted one by one/);
    assert.equal((html.match(/Real series: /g) ?? []).length, 2);
  });

  it('renders without the real series, for sharing: the same page less the real series and its warning', () => {
    const real = structuredDataset(new Rng(27), 100);
    const synthetic = mapFeatures(structuredDataset(new Rng(28), 100), (v) => v * 1.5);
    const metrics = evaluate({ real, synthetic });
    const full = renderReport(metrics, { real, synthetic }, 'Shared');
    const shared = renderReport(metrics, { real, synthetic }, 'Shared', [], '', { realSeries: false });
    // echarts numbers its CSS classes per render
    const same = (html: string) => html.replace(/zr\d+-(cls-)?[a-z]*\d+/g, 'zr');
    assert.equal(same(withoutRealSeries(full)!), same(shared), 'one page, cut: not drawn a second way');
    assert.ok(!shared.includes('Real series: ') && !shared.includes('This report contains real data'));
    assert.match(shared, /This copy of the report leaves out the real series/);
    assert.equal((shared.match(/Synthetic series: /g) ?? []).length, 2, 'the synthetic samples stay');
    assert.equal((shared.match(/<svg /g) ?? []).length, 13);
    // no value of a plotted real series' path survives: the sample charts' polylines are all synthetic
    assert.ok(!shared.includes('dg:real-series'), 'no marks left');
    assert.equal(withoutRealSeries('<html>an older report</html>'), null);
  });
});

// ---------- the real MBA baselines ----------

describe('MBA baselines', () => {
  const read = async (file: string) =>
    (
      await readDataset(file, {
        idColumn: 'series_id',
        timeColumn: 'step',
        attributes: ['isp', 'technology', 'state'],
        features: ['traffic_byte_counter', 'ping_loss_rate'],
      })
    ).dataset;

  it('the naive baseline is worse than the real holdout on autocorrelation; the report renders', async (t) => {
    const [train, holdout, naive] = await Promise.all([read(mbaSplitFile('train')), read(mbaSplitFile('holdout')), read(MBA_NAIVE_CSV)]);
    assert.equal(train.series.length, 480);
    const started = performance.now();
    const metrics = evaluate({ real: train, synthetic: naive, holdout, seed: 0 });
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`evaluate on MBA (480 real, 480 synthetic, 120 holdout, 56 steps): ${seconds.toFixed(1)} s`);
    assert.ok(seconds < 60, `evaluate took ${seconds} s`);
    const naiveAcf = metrics.synthetic.autocorrelation;
    const holdoutAcf = metrics.holdout!.autocorrelation;
    assert.ok(naiveAcf.acd! > 2 * holdoutAcf.acd!, `ACD naive ${naiveAcf.acd} vs holdout ${holdoutAcf.acd}`);
    assert.ok(naiveAcf.relativeGap! > holdoutAcf.relativeGap!, `ACF gap naive ${naiveAcf.relativeGap} vs holdout ${holdoutAcf.relativeGap}`);
    const traffic = (c: typeof naiveAcf) => c.perFeature.find((f) => f.feature === 'traffic_byte_counter')!;
    assert.ok(traffic(naiveAcf).mse > 5 * traffic(holdoutAcf).mse, `traffic ACF MSE naive ${traffic(naiveAcf).mse} vs holdout ${traffic(holdoutAcf).mse}`);
    // Naive series are told apart from real ones; a real holdout is not (much).
    assert.ok(metrics.synthetic.discriminative.score > 0.3);
    assert.ok(metrics.holdout!.discriminative.score < 0.2);
    // Naive draws attributes from the real joint but features independently of them.
    assert.ok(metrics.synthetic.dependence.gap! > 1.5 * metrics.synthetic.dependence.noiseFloor!);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-eval-'));
    try {
      const file = path.join(dir, 'report.html');
      fs.writeFileSync(file, renderReport(metrics, { real: train, synthetic: naive, holdout }, 'MBA: naive baseline'));
      const html = fs.readFileSync(file, 'utf8');
      const svgs = html.match(/<svg [\s\S]*?<\/svg>/g) ?? [];
      // 2 ACF + 2 histograms + 3 attribute bars + 6 dependence bars + 1 length + 4 samples.
      assert.equal(svgs.length, 18);
      assert.ok(
        svgs.every((svg) => svg.includes('<path')),
        'every chart draws something',
      );
      assert.ok(html.includes('Autocorrelation: traffic_byte_counter'));
      assert.ok(html.includes('Mean traffic_byte_counter by technology'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('seams', () => {
  const curve = (n: number, f: (lag: number) => number) => Array.from({ length: n }, (_, j) => f(j + 1));
  const result = (real: Array<number | null>, other: Array<number | null>) =>
    ({
      maxLag: real.length,
      acdLags: 0,
      mse: null,
      relativeGap: null,
      acd: null,
      perFeature: [{ feature: 'load', real, other, mse: 0, relativeGap: null, realDefinedSeries: 10, otherDefinedSeries: 10, realDatasetAcf: [], otherDatasetAcf: [], acd: 0 }],
    }) as unknown as Parameters<typeof seamsOf>[1];

  it('finds the spike at multiples of S that the real curve does not have', () => {
    const smooth = curve(30, (lag) => 0.9 ** lag);
    const seamed = curve(30, (lag) => 0.9 ** lag + (lag % 5 === 0 ? 0.2 : 0));
    const seams = seamsOf(5, result(smooth, seamed), result(smooth, smooth))!;
    assert.deepEqual(seams.perFeature[0].lags, [5, 10, 15, 20, 25]);
    assert.ok(Math.abs(seams.excess! - 0.2) < 1e-9, `excess ${seams.excess}`);
    assert.ok(Math.abs(seams.perFeature[0].holdoutSpike! - seams.perFeature[0].realSpike!) < 1e-12);
    // a real pattern at the same lags (weekly data, S = 7) is the yardstick, not a seam
    const weekly = curve(30, (lag) => 0.9 ** lag + (lag % 5 === 0 ? 0.2 : 0));
    assert.ok(Math.abs(seamsOf(5, result(weekly, seamed), null)!.excess!) < 1e-9);
    assert.equal(seamsOf(1, result(smooth, seamed), null), null, 'S = 1 has no seams');
    assert.equal(seamsOf(40, result(smooth, seamed), null), null, 'lag S + 1 beyond the curve');
    assert.equal(seamsOf(5, result([...smooth.slice(0, 4), null, ...smooth.slice(5)], seamed), null)!.perFeature[0].real[0], null);
  });

  it('an evaluation with S reports its seams, and the report shows them', () => {
    const real = structuredDataset(new Rng(31), 60);
    const synthetic = structuredDataset(new Rng(32), 60);
    const metrics = evaluate({ real, synthetic, sampleLen: 4 });
    assert.ok(metrics.seams && metrics.seams.sampleLen === 4 && metrics.seams.perFeature.length === metrics.synthetic.autocorrelation.perFeature.length);
    assert.equal(evaluate({ real, synthetic }).seams, undefined, 'no S, no seams');
    const html = renderReport(metrics, { real, synthetic }, 'Seams');
    assert.match(html, /<h3>Seams every 4 steps<\/h3>/);
  });
});
