/**
 * Runs every fidelity metric on plain arrays extracted from the datasets and assembles Metrics.
 */

import { seamsOf } from './seams.ts';
import type { Dataset } from '../data/types.ts';
import { Rng } from '../util/rng.ts';
import { acfDistance, compareAcfCurves, datasetAcf, meanAcf } from './autocorrelation.ts';
import { compareCorrelations } from './crossCorrelation.ts';
import { metadataDependence } from './dependence.ts';
import { max, mean } from '../util/stats.ts';
import { discriminativeScore } from './discriminative.ts';
import { wasserstein1 } from './distances.ts';
import { assertSameColumns, pooled, toPlain, type PlainDataset } from './extract.ts';
import { labelJsDistance, marginalDistributionDifference, normalisedWasserstein, pairTotalVariation, rangeOf } from './marginals.ts';
import type { AttributeResult, AutocorrelationResult, Comparison, CrossCorrelationResult, DependenceResult, FeatureResult, LengthResult, Metrics, SeriesStatisticsResult } from './metrics.ts';
import { momentDifference, perSeries, SERIES_STATISTICS, seriesStatisticsKs } from './statistics.ts';
import { subset, tstrVsTrtr, type LabelledSeries } from './tstr.ts';

export interface EvaluateOptions {
  /** The training data. */
  real: Dataset;
  synthetic: Dataset;
  /** Real series the generator never saw: the TRTR/TSTR test set and the reference for sampling noise. */
  holdout?: Dataset;
  /** Seeds every random choice (classifier splits and initialisation); default 0. */
  seed?: number;
  /** Categorical attribute to predict for TSTR; default: the first categorical attribute. */
  predictTarget?: string;
  /** Largest lag of the per-series ACF; default 100 (capped at the longest real series - 2). */
  maxLag?: number;
  /** The generator's sample length S, when known (a run's evaluation): the autocorrelation at lags S, 2S, ... is reported. */
  sampleLen?: number;
}

export const DEFAULT_MAX_LAG = 100;
export const ACD_MAX_LAGS = 64;

/** Finite numbers pass; NaN and +-Infinity become null so the result stays valid JSON. */
function finite(value: number | null | undefined): number | null {
  return value !== null && value !== undefined && Number.isFinite(value) ? value : null;
}

function meanOrNull(values: Array<number | null>): number | null {
  const defined = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return defined.length > 0 ? mean(defined) : null;
}

/**
 * sum over features and lags of |real - other| over sum of |real|: pooled rather than a mean of per-feature
 * ratios, so a feature whose real ACF is near zero (a noisy ratio) does not swamp the others.
 */
function pooledRelativeGap(perFeature: Array<{ real: Array<number | null>; other: Array<number | null> }>): number | null {
  let gap = 0;
  let size = 0;
  for (const feature of perFeature) {
    feature.real.forEach((r, j) => {
      gap += Math.abs((r ?? 0) - (feature.other[j] ?? 0));
      size += Math.abs(r ?? 0);
    });
  }
  return perFeature.length > 0 && size > 0 ? gap / size : null;
}

function autocorrelation(real: PlainDataset, other: PlainDataset, maxLag: number, acdLags: number): AutocorrelationResult {
  const perFeature = real.featureNames.map((feature, f) => {
    const realAcf = meanAcf(real.features[f], maxLag);
    const otherAcf = meanAcf(other.features[f], maxLag);
    const curves = compareAcfCurves(realAcf.curve, otherAcf.curve);
    const realDatasetAcf = datasetAcf(real.features[f], acdLags);
    const otherDatasetAcf = datasetAcf(other.features[f], acdLags);
    return {
      feature,
      real: realAcf.curve.map(finite),
      other: otherAcf.curve.map(finite),
      mse: curves.mse,
      relativeGap: finite(curves.relativeGap),
      realDefinedSeries: realAcf.definedSeries,
      otherDefinedSeries: otherAcf.definedSeries,
      realDatasetAcf,
      otherDatasetAcf,
      acd: acfDistance(realDatasetAcf, otherDatasetAcf),
    };
  });
  return {
    maxLag,
    acdLags,
    mse: meanOrNull(perFeature.map((f) => f.mse)),
    relativeGap: pooledRelativeGap(perFeature),
    acd: meanOrNull(perFeature.map((f) => f.acd)),
    perFeature,
  };
}

function attributes(real: PlainDataset, other: PlainDataset): AttributeResult {
  const perAttribute = real.categoricalNames.map((attribute, a) => {
    const realSet = new Set(real.categorical[a]);
    const otherSet = new Set(other.categorical[a]);
    return {
      attribute,
      jsDistance: labelJsDistance(real.categorical[a], other.categorical[a]),
      realCategories: realSet.size,
      otherCategories: otherSet.size,
      unseenInReal: [...otherSet].filter((label) => !realSet.has(label)).length,
    };
  });
  const pairs: AttributeResult['pairs'] = [];
  for (let a = 0; a < real.categoricalNames.length; a++) {
    for (let b = a + 1; b < real.categoricalNames.length; b++) {
      pairs.push({
        attributes: [real.categoricalNames[a], real.categoricalNames[b]],
        tvd: pairTotalVariation(real.categorical[a], real.categorical[b], other.categorical[a], other.categorical[b]),
      });
    }
  }
  return {
    jsDistance: meanOrNull(perAttribute.map((p) => p.jsDistance)),
    pairwiseTvd: meanOrNull(pairs.map((p) => p.tvd)),
    perAttribute,
    pairs,
    continuous: real.continuousAttributeNames.map((attribute, a) => ({
      attribute,
      wasserstein: normalisedWasserstein(real.continuousAttributes[a], other.continuousAttributes[a]),
    })),
  };
}

function features(real: PlainDataset, other: PlainDataset): FeatureResult {
  const perFeature = real.featureNames.map((feature, f) => {
    const realValues = pooled(real.features[f]);
    const otherValues = pooled(other.features[f]);
    const range = rangeOf(realValues);
    let realMin = Infinity;
    let realMax = -Infinity;
    for (const v of realValues) {
      realMin = Math.min(realMin, v);
      realMax = Math.max(realMax, v);
    }
    return {
      feature,
      wasserstein: normalisedWasserstein(realValues, otherValues),
      mdd: marginalDistributionDifference(real.features[f], other.features[f], range),
      realMin,
      realMax,
      ...momentDifference(realValues, otherValues),
    };
  });
  return {
    wasserstein: meanOrNull(perFeature.map((f) => f.wasserstein)),
    mdd: meanOrNull(perFeature.map((f) => finite(f.mdd))),
    skewnessDifference: meanOrNull(perFeature.map((f) => f.skewnessDifference)),
    kurtosisDifference: meanOrNull(perFeature.map((f) => f.kurtosisDifference)),
    perFeature,
    categorical: real.categoricalFeatureNames.map((feature, f) => ({
      feature,
      jsDistance: labelJsDistance(real.categoricalFeatures[f].flat(), other.categoricalFeatures[f].flat()),
    })),
  };
}

function seriesStatistics(real: PlainDataset, other: PlainDataset): SeriesStatisticsResult {
  const perFeature = real.featureNames.map((feature, f) => ({ feature, ks: seriesStatisticsKs(real.features[f], other.features[f]) }));
  const ks = meanOrNull(perFeature.flatMap((f) => SERIES_STATISTICS.map((statistic) => f.ks[statistic])));
  return { ks, ksComplement: ks === null ? null : 1 - ks, perFeature };
}

function dependence(real: PlainDataset, other: PlainDataset): DependenceResult {
  const entries = real.categoricalNames.flatMap((attribute, a) =>
    real.featureNames.map((feature, f) => ({
      attribute,
      feature,
      ...metadataDependence(real.categorical[a], perSeries(real.features[f], 'mean'), other.categorical[a], perSeries(other.features[f], 'mean')),
    })),
  );
  return { gap: meanOrNull(entries.map((e) => e.weightedGap)), noiseFloor: meanOrNull(entries.map((e) => e.noiseFloor)), entries };
}

function crossCorrelation(real: PlainDataset, other: PlainDataset): CrossCorrelationResult {
  const pairs: CrossCorrelationResult['pairs'] = [];
  for (let a = 0; a < real.featureNames.length; a++) {
    for (let b = a + 1; b < real.featureNames.length; b++) {
      pairs.push({
        features: [real.featureNames[a], real.featureNames[b]],
        ...compareCorrelations(real.features[a], real.features[b], other.features[a], other.features[b]),
      });
    }
  }
  return { wasserstein: meanOrNull(pairs.map((p) => p.wasserstein)), pairs };
}

function lengths(real: PlainDataset, other: PlainDataset): LengthResult {
  const distance = wasserstein1(real.lengths, other.lengths);
  return { wasserstein: distance, normalised: distance / Math.max(1, max(real.lengths)), realMean: mean(real.lengths), otherMean: mean(other.lengths) };
}

function compare(real: PlainDataset, other: PlainDataset, maxLag: number, acdLags: number, rng: Rng): Comparison {
  return {
    size: other.lengths.length,
    autocorrelation: autocorrelation(real, other, maxLag, acdLags),
    attributes: attributes(real, other),
    features: features(real, other),
    seriesStatistics: seriesStatistics(real, other),
    dependence: dependence(real, other),
    crossCorrelation: crossCorrelation(real, other),
    length: lengths(real, other),
    discriminative: discriminativeScore(real, other, rng),
  };
}

function labelled(data: PlainDataset, attributeIndex: number): LabelledSeries {
  return { features: data.features, labels: data.categorical[attributeIndex] };
}

export function evaluate(options: EvaluateOptions): Metrics {
  const started = performance.now();
  const seed = options.seed ?? 0;
  if (options.real.series.length < 2) throw new Error('Evaluation needs at least 2 real series.');
  if (options.synthetic.series.length < 2) throw new Error('Evaluation needs at least 2 synthetic series.');
  assertSameColumns(options.real, options.synthetic, 'synthetic');
  if (options.holdout) assertSameColumns(options.real, options.holdout, 'holdout');
  const real = toPlain(options.real, options.real, 'real');
  const synthetic = toPlain(options.synthetic, options.real, 'synthetic');
  const holdout = options.holdout ? toPlain(options.holdout, options.real, 'holdout') : null;

  const longest = max(real.lengths);
  const maxLag = Math.max(0, Math.min(options.maxLag ?? DEFAULT_MAX_LAG, longest - 2));
  const acdLags = Math.min(ACD_MAX_LAGS, longest);

  let tstr: Metrics['tstr'] = null;
  let tstrSkipped: string | null = null;
  const target = options.predictTarget ?? real.categoricalNames[0];
  const targetIndex = target === undefined ? -1 : real.categoricalNames.indexOf(target);
  if (target === undefined) tstrSkipped = 'There is no categorical attribute to predict.';
  else if (targetIndex < 0) throw new Error(`predictTarget "${target}" is not a categorical attribute; choose one of: ${real.categoricalNames.join(', ')}.`);
  else if (real.featureNames.length === 0) tstrSkipped = 'There is no continuous feature to predict from.';
  else if (holdout && holdout.lengths.length > 0) {
    tstr = tstrVsTrtr(target, labelled(real, targetIndex), labelled(synthetic, targetIndex), labelled(holdout, targetIndex), 'holdout');
  } else {
    // Without a holdout, 30% of the real series become the test set (the generator may have seen them).
    const order = Array.from(new Rng(seed, 3).permutation(real.lengths.length));
    const cut = Math.round(order.length * 0.7);
    const all = labelled(real, targetIndex);
    tstr = tstrVsTrtr(target, subset(all, order.slice(0, cut)), labelled(synthetic, targetIndex), subset(all, order.slice(cut)), 'split');
  }

  const syntheticComparison = compare(real, synthetic, maxLag, acdLags, new Rng(seed, 1));
  const holdoutComparison = holdout && holdout.lengths.length >= 2 ? compare(real, holdout, maxLag, acdLags, new Rng(seed, 2)) : null;
  return {
    version: 1,
    seed,
    columns: {
      continuousFeatures: real.featureNames,
      categoricalFeatures: real.categoricalFeatureNames,
      categoricalAttributes: real.categoricalNames,
      continuousAttributes: real.continuousAttributeNames,
    },
    sizes: { real: real.lengths.length, synthetic: synthetic.lengths.length, holdout: holdout ? holdout.lengths.length : null, longestRealSeries: longest },
    synthetic: syntheticComparison,
    holdout: holdoutComparison,
    ...(options.sampleLen !== undefined ? { seams: seamsOf(options.sampleLen, syntheticComparison.autocorrelation, holdoutComparison?.autocorrelation ?? null) } : {}),
    tstr,
    tstrSkipped,
    elapsedMs: performance.now() - started,
  };
}
