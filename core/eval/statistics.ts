/**
 * Shape statistics: skewness and kurtosis of pooled values (TSGBench SD / KD), and the distributions of
 * per-series summary statistics compared by the Kolmogorov-Smirnov statistic (SDMetrics' KS complement).
 */

import { excessKurtosis, max, mean, min, skewness, std } from '../util/stats.ts';
import { ksStatistic } from './distances.ts';

export interface MomentDifference {
  realSkewness: number;
  otherSkewness: number;
  /** |skewness_other - skewness_real| (TSGBench SD). */
  skewnessDifference: number;
  realKurtosis: number;
  otherKurtosis: number;
  /** |excess kurtosis_other - excess kurtosis_real| (TSGBench KD). */
  kurtosisDifference: number;
}

export function momentDifference(real: ArrayLike<number>, other: ArrayLike<number>): MomentDifference {
  const realSkewness = skewness(real);
  const otherSkewness = skewness(other);
  const realKurtosis = excessKurtosis(real);
  const otherKurtosis = excessKurtosis(other);
  return {
    realSkewness,
    otherSkewness,
    skewnessDifference: Math.abs(otherSkewness - realSkewness),
    realKurtosis,
    otherKurtosis,
    kurtosisDifference: Math.abs(otherKurtosis - realKurtosis),
  };
}

export const SERIES_STATISTICS = ['mean', 'std', 'min', 'max'] as const;
export type SeriesStatistic = (typeof SERIES_STATISTICS)[number];

const STATISTIC_FUNCTIONS: Record<SeriesStatistic, (values: ArrayLike<number>) => number> = { mean, std, min, max };

/** One summary statistic of every series. */
export function perSeries(seriesList: ReadonlyArray<ArrayLike<number>>, statistic: SeriesStatistic): number[] {
  return seriesList.map((series) => STATISTIC_FUNCTIONS[statistic](series));
}

/** The KS statistic between the real and other distributions of each per-series statistic. */
export function seriesStatisticsKs(real: ReadonlyArray<ArrayLike<number>>, other: ReadonlyArray<ArrayLike<number>>): Record<SeriesStatistic, number> {
  const out = {} as Record<SeriesStatistic, number>;
  for (const statistic of SERIES_STATISTICS) out[statistic] = ksStatistic(perSeries(real, statistic), perSeries(other, statistic));
  return out;
}
