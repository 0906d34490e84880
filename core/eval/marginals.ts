/**
 * Marginal distributions: of categorical attributes (Jensen-Shannon distance, pairwise total variation),
 * of continuous values (Wasserstein-1 over the real range) and per time step (TSGBench's MDD).
 */

import { max, min } from '../util/stats.ts';
import { countLabels, jensenShannonDistance, totalVariation, wasserstein1 } from './distances.ts';

/** Jensen-Shannon distance between the label distributions of two samples of one categorical column. */
export function labelJsDistance(real: ReadonlyArray<string>, other: ReadonlyArray<string>): number {
  return jensenShannonDistance(countLabels(real), countLabels(other));
}

/**
 * Total variation distance between the joint distributions of two categorical columns.
 * Labels are joined with a separator that cannot occur in CSV-sourced text (U+0000).
 */
export function pairTotalVariation(realA: ReadonlyArray<string>, realB: ReadonlyArray<string>, otherA: ReadonlyArray<string>, otherB: ReadonlyArray<string>): number {
  const join = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.map((label, i) => `${label}\u0000${b[i]}`);
  return totalVariation(countLabels(join(realA, realB)), countLabels(join(otherA, otherB)));
}

/** The real range max - min, or 1 where the real values are constant (so distances stay finite). */
export function rangeOf(values: ArrayLike<number>): number {
  const range = max(values) - min(values);
  return range > 0 ? range : 1;
}

/** Wasserstein-1 between two samples in units of the real sample's range: a shift by c gives c / range. */
export function normalisedWasserstein(real: ArrayLike<number>, other: ArrayLike<number>): number {
  return wasserstein1(real, other) / rangeOf(real);
}

export const MDD_BINS = 50;

/**
 * TSGBench's marginal distribution difference for one feature: at every time step t, a 50-bin histogram
 * over the real [min, max] at t; density = count / (n * binWidth); the mean over bins of |density_other -
 * density_real|, averaged over time steps. Bin widths are measured in units of `scale` (pass the real
 * range of the whole feature: TSGBench min-max scales the data first, so densities are comparable across
 * features). Values outside the real range at t fall in no bin, as in TSGBench; unlike TSGBench both
 * samples are binned the same way (TSGBench drops generated values lying exactly on the outer edges).
 * seriesList[s][t]; series shorter than t + 1 steps do not take part at t.
 */
export function marginalDistributionDifference(real: ReadonlyArray<ArrayLike<number>>, other: ReadonlyArray<ArrayLike<number>>, scale = 1, bins = MDD_BINS): number {
  let steps = 0;
  for (const series of real) steps = Math.max(steps, series.length);
  let total = 0;
  let counted = 0;
  const realCounts = new Float64Array(bins);
  const otherCounts = new Float64Array(bins);
  for (let t = 0; t < steps; t++) {
    let lo = Infinity;
    let hi = -Infinity;
    let realN = 0;
    for (const series of real) {
      if (t >= series.length) continue;
      lo = Math.min(lo, series[t]);
      hi = Math.max(hi, series[t]);
      realN++;
    }
    if (hi === lo) hi = lo + 1e-5 * scale;
    const width = (hi - lo) / bins;
    const binOf = (value: number) => (value < lo || value > hi ? -1 : value === hi ? bins - 1 : Math.floor((value - lo) / width));
    realCounts.fill(0);
    otherCounts.fill(0);
    let otherN = 0;
    for (const series of real) if (t < series.length) realCounts[binOf(series[t])]++;
    for (const series of other) {
      if (t >= series.length) continue;
      otherN++;
      const bin = binOf(series[t]);
      if (bin >= 0) otherCounts[bin]++;
    }
    if (otherN === 0) continue;
    const scaledWidth = width / scale;
    let sum = 0;
    for (let b = 0; b < bins; b++) sum += Math.abs(otherCounts[b] / (otherN * scaledWidth) - realCounts[b] / (realN * scaledWidth));
    total += sum / bins;
    counted++;
  }
  return counted > 0 ? total / counted : NaN;
}
