/**
 * Autocorrelation, two ways:
 * - DoppelGANger's: a Pearson ACF per series, averaged over series, curves compared lag by lag.
 * - TSGBench's ACD: one ACF over the whole dataset after centring by the dataset mean.
 */

import { pearson } from '../util/stats.ts';

/** r_j = Pearson corr(x[0:T-j], x[j:T]) for j = 1..maxLag; null where undefined (a constant window or T-j < 2). */
export function seriesAcf(x: ArrayLike<number>, maxLag: number): Array<number | null> {
  const out: Array<number | null> = [];
  for (let lag = 1; lag <= maxLag; lag++) out.push(x.length - lag >= 2 ? pearson(x, x, 0, lag, x.length - lag) : null);
  return out;
}

export interface MeanAcf {
  /** curve[j-1]: the mean of r_j over the series where it is defined; null where no series defines it. */
  curve: Array<number | null>;
  /** How many series define r_1 (constant series define none). */
  definedSeries: number;
}

/** The average of seriesAcf over series, lag by lag (DoppelGANger's autocorrelation curve). */
export function meanAcf(seriesList: ReadonlyArray<ArrayLike<number>>, maxLag: number): MeanAcf {
  const sums = new Float64Array(maxLag);
  const counts = new Float64Array(maxLag);
  for (const series of seriesList) {
    const acf = seriesAcf(series, maxLag);
    for (let j = 0; j < maxLag; j++) {
      const r = acf[j];
      if (r === null) continue;
      sums[j] += r;
      counts[j]++;
    }
  }
  return {
    curve: Array.from(sums, (sum, j) => (counts[j] > 0 ? sum / counts[j] : null)),
    definedSeries: maxLag > 0 ? counts[0] : 0,
  };
}

export interface CurveComparison {
  /** Mean over lags of (r_real - r_other)^2. */
  mse: number;
  /** sum |r_real - r_other| / sum |r_real|: the gap relative to the real curve's size. */
  relativeGap: number;
}

/**
 * Compares two mean ACF curves. A lag undefined on one side (every series constant there) counts as 0:
 * a constant series carries no correlation, which is what the other side is then compared against.
 */
export function compareAcfCurves(real: ReadonlyArray<number | null>, other: ReadonlyArray<number | null>): CurveComparison {
  const lags = Math.min(real.length, other.length);
  let squared = 0;
  let absolute = 0;
  let realSize = 0;
  for (let j = 0; j < lags; j++) {
    const r = real[j] ?? 0;
    const o = other[j] ?? 0;
    squared += (r - o) ** 2;
    absolute += Math.abs(r - o);
    realSize += Math.abs(r);
  }
  return {
    mse: lags > 0 ? squared / lags : 0,
    relativeGap: realSize > 0 ? absolute / realSize : absolute > 0 ? Infinity : 0,
  };
}

/**
 * TSGBench's dataset-level ACF of one feature: acf_k = mean over (series, t) of x_t x_{t+k} / var, after
 * centring by the mean over all series and steps, for k = 0..lags-1 (acf_0 = 1). Series may differ in
 * length: each average runs over the pairs that exist. A constant feature gives [1, 0, 0, ...].
 */
export function datasetAcf(seriesList: ReadonlyArray<ArrayLike<number>>, lags: number): number[] {
  let sum = 0;
  let count = 0;
  for (const series of seriesList) {
    for (let t = 0; t < series.length; t++) sum += series[t];
    count += series.length;
  }
  const centre = count > 0 ? sum / count : 0;
  let squares = 0;
  for (const series of seriesList) for (let t = 0; t < series.length; t++) squares += (series[t] - centre) ** 2;
  const variance = count > 0 ? squares / count : 0;
  const out: number[] = [];
  for (let k = 0; k < lags; k++) {
    if (!(variance > 0)) {
      out.push(k === 0 ? 1 : 0);
      continue;
    }
    let products = 0;
    let pairs = 0;
    for (const series of seriesList) {
      for (let t = 0; t + k < series.length; t++) products += (series[t] - centre) * (series[t + k] - centre);
      pairs += Math.max(0, series.length - k);
    }
    out.push(pairs > 0 ? products / pairs / variance : 0);
  }
  return out;
}

/** The L2 distance between two ACF vectors (TSGBench's ACD for one feature). */
export function acfDistance(a: ReadonlyArray<number>, b: ReadonlyArray<number>): number {
  let sum = 0;
  for (let k = 0; k < Math.min(a.length, b.length); k++) sum += (a[k] - b[k]) ** 2;
  return Math.sqrt(sum);
}
