/**
 * Descriptive statistics over plain arrays. Population (biased) moments throughout, as scipy.stats uses
 * by default, so numbers can be cross-checked against TSGBench.
 */

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return values.length > 0 ? sum / values.length : NaN;
}

/** Population variance (divides by n). */
export function variance(values: ArrayLike<number>): number {
  const m = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] - m) ** 2;
  return values.length > 0 ? sum / values.length : NaN;
}

export function std(values: ArrayLike<number>): number {
  return Math.sqrt(variance(values));
}

export function min(values: ArrayLike<number>): number {
  let result = Infinity;
  for (let i = 0; i < values.length; i++) if (values[i] < result) result = values[i];
  return result;
}

export function max(values: ArrayLike<number>): number {
  let result = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i] > result) result = values[i];
  return result;
}

/**
 * Pearson correlation of x[xStart..xStart+n) and y[yStart..yStart+n); null when either side is constant
 * (the correlation is undefined there, and averaging a made-up 0 in would bias curves toward 0).
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>, xStart = 0, yStart = 0, n = Math.min(x.length, y.length)): number | null {
  if (n < 2) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[xStart + i];
    my += y[yStart + i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[xStart + i] - mx;
    const dy = y[yStart + i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx <= 0 || syy <= 0) return null;
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

/** Quantile of an ascending-sorted array with linear interpolation (numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

/** Ascending copy as a Float64Array (numeric sort, unlike Array.prototype.sort's default). */
export function sorted(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** Skewness g1 = m3 / m2^1.5 (scipy.stats.skew, bias=True); 0 for constant data. */
export function skewness(values: ArrayLike<number>): number {
  const m = mean(values);
  let m2 = 0;
  let m3 = 0;
  for (let i = 0; i < values.length; i++) {
    const d = values[i] - m;
    m2 += d * d;
    m3 += d * d * d;
  }
  m2 /= values.length;
  m3 /= values.length;
  return m2 > 0 ? m3 / m2 ** 1.5 : 0;
}

/** Excess kurtosis m4 / m2^2 - 3 (scipy.stats.kurtosis, fisher=True, bias=True); 0 for constant data. */
export function excessKurtosis(values: ArrayLike<number>): number {
  const m = mean(values);
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < values.length; i++) {
    const d2 = (values[i] - m) ** 2;
    m2 += d2;
    m4 += d2 * d2;
  }
  m2 /= values.length;
  m4 /= values.length;
  return m2 > 0 ? m4 / (m2 * m2) - 3 : 0;
}
