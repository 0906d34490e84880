/**
 * Histograms for the report's charts (the metrics bin their own way, see marginals.ts).
 */

import { quantileSorted, sorted } from '../util/stats.ts';

/** Share of values in each of `bins` equal bins over [lo, hi]; values outside land in the end bins. */
export function histogramShares(values: ArrayLike<number>, lo: number, hi: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  const width = hi > lo ? (hi - lo) / bins : 1;
  for (let i = 0; i < values.length; i++) {
    const bin = Math.min(bins - 1, Math.max(0, Math.floor((values[i] - lo) / width)));
    counts[bin]++;
  }
  return counts.map((count) => (values.length > 0 ? count / values.length : 0));
}

/**
 * A display range for heavy-tailed data: the real minimum to the real 99th percentile (the real maximum
 * when that collapses onto the minimum), so a few huge values do not squash every bar into one.
 */
export function displayRange(real: ArrayLike<number>): [number, number] {
  const s = sorted(real);
  const lo = s[0];
  let hi = quantileSorted(s, 0.99);
  if (!(hi > lo)) hi = s[s.length - 1];
  if (!(hi > lo)) hi = lo + 1;
  return [lo, hi];
}

/** Share of each label, for the given label order. */
export function labelShares(labels: ReadonlyArray<string>, order: ReadonlyArray<string>): number[] {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return order.map((label) => (labels.length > 0 ? (counts.get(label) ?? 0) / labels.length : 0));
}
