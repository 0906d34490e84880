/**
 * What the training loop needs of a DP-SGD plan: Poisson sampling of each iteration's batch from the
 * OS's secure randomness (subsampling only amplifies privacy when the attacker cannot know which series
 * were drawn, so, like the noise, it is not taken from the seed). The plan itself is made and accounted
 * for in core/privacy/dp.ts.
 */
import { webcrypto } from 'node:crypto';

export interface DpPlan {
  clipNorm: number;
  noiseMultiplier: number;
  delta: number;
  /** The epsilon the noise was solved for (absent when the noise multiplier was given). */
  targetEpsilon?: number;
  /** Expected series per iteration (the batch size setting). */
  expectedBatch: number;
  /** Poisson sampling rate: expectedBatch / training series. */
  samplingRate: number;
  /** Noised releases per iteration on one sample: critic steps x critics. */
  releasesPerIteration: number;
  /**
   * Series split into pieces at import (longer than the longest trainable length): the privacy unit is
   * the source series, not the piece. Each iteration Poisson-samples source series (at samplingRate) and
   * takes all of a sampled series' pieces; each piece's gradient is clipped to clipNorm / maxPieces, so a
   * whole series moves the clipped sum by at most clipNorm and the accountant's guarantee is per series.
   * Absent when no training series was split.
   */
  seriesUnit?: SeriesUnit;
}

export interface SeriesUnit {
  /** Source series in training. */
  series: number;
  /** Most pieces any one series has. */
  maxPieces: number;
  /** groupOfRow[r]: the source series (0..series-1) of training row r. */
  groupOfRow: number[];
}

/** What the engine is told: per-piece clip norm and a noise multiplier that keep the noise at sigma x C. */
export function engineDp(plan: DpPlan): { clipNorm: number; noiseMultiplier: number; expectedBatch: number } {
  const k = plan.seriesUnit?.maxPieces ?? 1;
  return { clipNorm: plan.clipNorm / k, noiseMultiplier: plan.noiseMultiplier * k, expectedBatch: plan.expectedBatch };
}

/** Uniform numbers in (0, 1] with 53 random bits each, from the OS's secure randomness. */
export function secureUniforms(): () => number {
  const words = new Uint32Array(1024);
  let next = words.length;
  return () => {
    if (next + 2 > words.length) {
      webcrypto.getRandomValues(words);
      next = 0;
    }
    const high = words[next++] >>> 5; // 27 bits
    const low = words[next++] >>> 6; // 26 bits
    return (high * 67108864 + low + 1) / 9007199254740992;
  };
}

/**
 * Poisson sampling of whole source series at rate q: the rows of every sampled series, in increasing
 * order. Draws again when empty.
 */
export function createSeriesPoissonSampler(unit: SeriesUnit, q: number, uniform: () => number = secureUniforms()): () => Int32Array {
  const rowsOf: number[][] = Array.from({ length: unit.series }, () => []);
  unit.groupOfRow.forEach((g, r) => rowsOf[g].push(r));
  const pickSeries = createPoissonSampler(unit.series, q, uniform);
  return () => {
    const rows: number[] = [];
    for (const g of pickSeries()) rows.push(...rowsOf[g]);
    return Int32Array.from(rows.sort((a, b) => a - b));
  };
}

/**
 * Poisson sampling of row numbers 0..n-1 at rate q, in increasing order: the gaps between kept rows
 * are geometric, so a draw costs about qn random numbers instead of n. Draws again when empty.
 */
export function createPoissonSampler(n: number, q: number, uniform: () => number = secureUniforms()): () => Int32Array {
  if (!(q > 0 && q <= 1)) throw new Error(`the sampling rate must be in (0, 1], got ${q}`);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const logKeepOut = Math.log1p(-q);
  let rows = new Int32Array(Math.max(16, Math.ceil(2 * q * n)));
  return () => {
    if (q === 1) return all;
    for (;;) {
      let count = 0;
      for (let i = Math.floor(Math.log(uniform()) / logKeepOut); i < n; i += 1 + Math.floor(Math.log(uniform()) / logKeepOut)) {
        if (count === rows.length) {
          const grown = new Int32Array(rows.length * 2);
          grown.set(rows);
          rows = grown;
        }
        rows[count++] = i;
      }
      if (count > 0) return rows.subarray(0, count);
    }
  };
}
