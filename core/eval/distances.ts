/**
 * Distances between two samples or two distributions, over plain arrays.
 */

import { sorted } from '../util/stats.ts';

/**
 * 1-D Wasserstein-1 distance between two empirical distributions (scipy.stats.wasserstein_distance):
 * the area between their CDFs. Samples may differ in size.
 */
export function wasserstein1(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length === 0 || b.length === 0) return NaN;
  const x = sorted(a);
  const y = sorted(b);
  let i = 0;
  let j = 0;
  let area = 0;
  let previous = Math.min(x[0], y[0]);
  // Walk the merged breakpoints; between two breakpoints both CDFs are constant.
  while (i < x.length || j < y.length) {
    const next = j >= y.length || (i < x.length && x[i] <= y[j]) ? x[i] : y[j];
    area += Math.abs(i / x.length - j / y.length) * (next - previous);
    while (i < x.length && x[i] === next) i++;
    while (j < y.length && y[j] === next) j++;
    previous = next;
  }
  return area;
}

/** Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs. */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length === 0 || b.length === 0) return NaN;
  const x = sorted(a);
  const y = sorted(b);
  let i = 0;
  let j = 0;
  let gap = 0;
  while (i < x.length || j < y.length) {
    const next = j >= y.length || (i < x.length && x[i] <= y[j]) ? x[i] : y[j];
    // Step past every copy of the value on both sides before comparing, so ties do not inflate the gap.
    while (i < x.length && x[i] === next) i++;
    while (j < y.length && y[j] === next) j++;
    gap = Math.max(gap, Math.abs(i / x.length - j / y.length));
  }
  return gap;
}

/** Label counts, in first-seen order. */
export function countLabels(labels: ReadonlyArray<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return counts;
}

/** The union of keys of two count maps, first map's order first. */
function unionKeys(p: Map<string, number>, q: Map<string, number>): string[] {
  const keys = [...p.keys()];
  for (const key of q.keys()) if (!p.has(key)) keys.push(key);
  return keys;
}

function total(counts: Map<string, number>): number {
  let sum = 0;
  for (const value of counts.values()) sum += value;
  return sum;
}

/**
 * Jensen-Shannon distance (the square root of the divergence, natural log, as scipy's jensenshannon)
 * between two categorical distributions given as counts or weights, over the union of categories.
 * 0 for identical distributions, sqrt(ln 2) ~ 0.8326 for disjoint ones.
 */
export function jensenShannonDistance(p: Map<string, number>, q: Map<string, number>): number {
  const pTotal = total(p);
  const qTotal = total(q);
  let divergence = 0;
  for (const key of unionKeys(p, q)) {
    const pi = (p.get(key) ?? 0) / pTotal;
    const qi = (q.get(key) ?? 0) / qTotal;
    const mi = (pi + qi) / 2;
    if (pi > 0) divergence += 0.5 * pi * Math.log(pi / mi);
    if (qi > 0) divergence += 0.5 * qi * Math.log(qi / mi);
  }
  return Math.sqrt(Math.max(0, divergence));
}

/** Total variation distance, half the L1 distance between two categorical distributions (counts or weights). */
export function totalVariation(p: Map<string, number>, q: Map<string, number>): number {
  const pTotal = total(p);
  const qTotal = total(q);
  let sum = 0;
  for (const key of unionKeys(p, q)) sum += Math.abs((p.get(key) ?? 0) / pTotal - (q.get(key) ?? 0) / qTotal);
  return sum / 2;
}
