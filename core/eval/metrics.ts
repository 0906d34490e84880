/**
 * The shape of an evaluation's results: a plain JSON-serialisable object (no NaN or Infinity: undefined
 * quantities are null). "real" is always the training data; "other" is the data compared against it
 * (the synthetic data, or the real holdout used as a reference for sampling noise).
 */

import type { CategoryComparison } from './dependence.ts';
import type { DiscriminativeResult } from './discriminative.ts';
import type { MomentDifference, SeriesStatistic } from './statistics.ts';
import type { SeamResult } from './seams.ts';
import type { TstrResult } from './tstr.ts';

export interface AutocorrelationFeature {
  feature: string;
  /** DoppelGANger ACF: real[j - 1] is the mean over real series of Pearson corr(x[0:T-j], x[j:T]), lag j = 1..maxLag;
   * null where no series defines it (constant series define none). */
  real: Array<number | null>;
  other: Array<number | null>;
  /** Mean over lags of (real - other)^2 (undefined lags count as 0). */
  mse: number;
  /** sum |real - other| / sum |real|; null when the real curve is all zero. */
  relativeGap: number | null;
  /** Series that define the lag-1 correlation. */
  realDefinedSeries: number;
  otherDefinedSeries: number;
  /** TSGBench dataset ACF, k = 0..acdLags-1 (index 0 is lag 0, always 1). */
  realDatasetAcf: number[];
  otherDatasetAcf: number[];
  /** L2 distance between realDatasetAcf and otherDatasetAcf (TSGBench ACD for this feature). */
  acd: number;
}

export interface AutocorrelationResult {
  /** Lags 1..maxLag of the per-series ACF: min(requested maxLag, longest real series - 2). */
  maxLag: number;
  /** Lags 0..acdLags-1 of the TSGBench ACF: min(64, longest real series). */
  acdLags: number;
  /** Mean over continuous features of the per-feature MSE; null without continuous features. */
  mse: number | null;
  /** Pooled over features: sum of |real - other| over all features and lags / sum of |real|; null if that is 0. */
  relativeGap: number | null;
  /** Mean over continuous features of the per-feature ACD. */
  acd: number | null;
  perFeature: AutocorrelationFeature[];
}

export interface AttributeResult {
  /** Mean over categorical attributes of the Jensen-Shannon distance (natural log; 0..0.8326); null without any. */
  jsDistance: number | null;
  /** Mean over pairs of categorical attributes of the total variation distance of their joint (0..1); null with fewer than two. */
  pairwiseTvd: number | null;
  perAttribute: Array<{ attribute: string; jsDistance: number; realCategories: number; otherCategories: number; unseenInReal: number }>;
  pairs: Array<{ attributes: [string, string]; tvd: number }>;
  /** Continuous attributes: Wasserstein-1 in units of the real range. */
  continuous: Array<{ attribute: string; wasserstein: number }>;
}

/** Moments are TSGBench's SD/KD: skewness and excess kurtosis (0 for a normal distribution). */
export interface FeatureMarginal extends MomentDifference {
  feature: string;
  /** Wasserstein-1 of pooled values over all series and steps, in units of the real range (realMax - realMin). */
  wasserstein: number;
  /** TSGBench MDD, bin widths in units of the real range. */
  mdd: number;
  realMin: number;
  realMax: number;
}

export interface FeatureResult {
  /** Means over continuous features; null without any. */
  wasserstein: number | null;
  mdd: number | null;
  skewnessDifference: number | null;
  kurtosisDifference: number | null;
  perFeature: FeatureMarginal[];
  /** Categorical features: Jensen-Shannon distance of pooled labels. */
  categorical: Array<{ feature: string; jsDistance: number }>;
}

export interface SeriesStatisticsResult {
  /** Mean over continuous features and the four statistics of the KS statistic; null without continuous features. */
  ks: number | null;
  /** 1 - ks (SDMetrics' KS complement; 1 is a perfect match). */
  ksComplement: number | null;
  perFeature: Array<{ feature: string; ks: Record<SeriesStatistic, number> }>;
}

export interface DependenceEntry {
  attribute: string;
  feature: string;
  /** Real-frequency-weighted mean over categories of |mean of per-series means (other) - (real)|, in units of `unit`. */
  weightedGap: number;
  /** Std of per-series means of the feature over all real series. */
  unit: number;
  /** The weightedGap expected from sampling noise alone at these sample sizes (see dependence.ts). */
  noiseFloor: number;
  /** Per category, most frequent first. */
  categories: CategoryComparison[];
}

export interface DependenceResult {
  /** Mean of weightedGap over (categorical attribute, continuous feature) pairs; null without any. */
  gap: number | null;
  /** Mean of noiseFloor over the same pairs: a gap close to it is as small as the sample sizes allow. */
  noiseFloor: number | null;
  entries: DependenceEntry[];
}

export interface CrossCorrelationResult {
  /** Mean over feature pairs of the Wasserstein-1 between per-series correlation distributions; null if none is defined. */
  wasserstein: number | null;
  pairs: Array<{
    features: [string, string];
    wasserstein: number | null;
    realMean: number | null;
    otherMean: number | null;
    realDefined: number;
    otherDefined: number;
  }>;
}

export interface LengthResult {
  /** Wasserstein-1 of series lengths, in steps. */
  wasserstein: number;
  /** The same over the longest real series (0..1-ish, comparable across datasets). */
  normalised: number;
  realMean: number;
  otherMean: number;
}

/** Everything that compares one dataset ("other") against the real training data. */
export interface Comparison {
  size: number;
  autocorrelation: AutocorrelationResult;
  attributes: AttributeResult;
  features: FeatureResult;
  seriesStatistics: SeriesStatisticsResult;
  dependence: DependenceResult;
  crossCorrelation: CrossCorrelationResult;
  length: LengthResult;
  discriminative: DiscriminativeResult;
}

export interface Metrics {
  version: 1;
  seed: number;
  columns: {
    continuousFeatures: string[];
    categoricalFeatures: string[];
    categoricalAttributes: string[];
    continuousAttributes: string[];
  };
  sizes: { real: number; synthetic: number; holdout: number | null; longestRealSeries: number };
  /** Synthetic vs real. */
  synthetic: Comparison;
  /** Real holdout vs real: how far two real samples differ, the yardstick for the synthetic numbers. */
  holdout: Comparison | null;
  /** Autocorrelation at the generator's seams (lags S, 2S, ...); present when S was given (a run's evaluation). */
  seams?: SeamResult | null;
  /** Null when there is no categorical attribute to predict (see tstrSkipped). */
  tstr: TstrResult | null;
  tstrSkipped: string | null;
  /** Wall-clock time of evaluate(). */
  elapsedMs: number;
}
