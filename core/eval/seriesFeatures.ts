/**
 * Fixed-size numeric descriptions of series, the inputs of the classifiers.
 */

import { mean, quantileSorted, sorted, std } from '../util/stats.ts';

export const SUMMARY_QUANTILES = [0.1, 0.25, 0.5, 0.75, 0.9];
export const DOWNSAMPLED_SEGMENTS = 8;

/** Means of `segments` equal slices of the series (by its own length, so lengths need not match). */
export function downsample(series: ArrayLike<number>, segments: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < segments; k++) {
    const start = Math.floor((k * series.length) / segments);
    const end = Math.max(start + 1, Math.floor(((k + 1) * series.length) / segments));
    let sum = 0;
    let count = 0;
    for (let t = start; t < Math.min(end, series.length); t++) {
      sum += series[t];
      count++;
    }
    out.push(count > 0 ? sum / count : 0);
  }
  return out;
}

/** mean, std, min, max and quantiles of each feature, then a coarse downsampled copy of each feature. */
export function summaryRow(features: ReadonlyArray<ReadonlyArray<ArrayLike<number>>>, s: number): number[] {
  const row: number[] = [];
  for (const feature of features) {
    const values = sorted(feature[s]);
    row.push(mean(values), std(values), values[0] ?? 0, values[values.length - 1] ?? 0);
    for (const q of SUMMARY_QUANTILES) row.push(quantileSorted(values, q));
  }
  for (const feature of features) row.push(...downsample(feature[s], DOWNSAMPLED_SEGMENTS));
  return row;
}
