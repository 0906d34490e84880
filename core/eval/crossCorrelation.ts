/**
 * Cross-feature correlation: the distribution over series of the Pearson correlation between two
 * features, compared by Wasserstein-1 (correlations live in [-1, 1], so no further normalisation).
 */

import { pearson } from '../util/stats.ts';
import { wasserstein1 } from './distances.ts';

/** Per-series Pearson correlation of two features; series where either is constant are left out. */
export function perSeriesCorrelations(a: ReadonlyArray<ArrayLike<number>>, b: ReadonlyArray<ArrayLike<number>>): number[] {
  const out: number[] = [];
  for (let s = 0; s < a.length; s++) {
    const r = pearson(a[s], b[s]);
    if (r !== null) out.push(r);
  }
  return out;
}

export interface CorrelationComparison {
  /** Wasserstein-1 between the real and other distributions; null when either side has no defined correlation. */
  wasserstein: number | null;
  realMean: number | null;
  otherMean: number | null;
  /** Series whose correlation is defined (neither feature constant). */
  realDefined: number;
  otherDefined: number;
}

export function compareCorrelations(
  realA: ReadonlyArray<ArrayLike<number>>,
  realB: ReadonlyArray<ArrayLike<number>>,
  otherA: ReadonlyArray<ArrayLike<number>>,
  otherB: ReadonlyArray<ArrayLike<number>>,
): CorrelationComparison {
  const real = perSeriesCorrelations(realA, realB);
  const other = perSeriesCorrelations(otherA, otherB);
  const average = (values: number[]) => (values.length > 0 ? values.reduce((sum, v) => sum + v, 0) / values.length : null);
  return {
    wasserstein: real.length > 0 && other.length > 0 ? wasserstein1(real, other) : null,
    realMean: average(real),
    otherMean: average(other),
    realDefined: real.length,
    otherDefined: other.length,
  };
}
