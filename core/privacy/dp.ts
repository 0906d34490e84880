/**
 * DP-SGD training plans: how much noise a run needs for a target epsilon, what a run has spent, and
 * the Poisson sampling the accountant assumes.
 *
 * Each iteration samples the training series Poisson-style (each kept with probability q = expected
 * batch / series) from the OS's secure randomness: subsampling only amplifies privacy when the
 * attacker cannot know which series were drawn, so, like the noise, it is not taken from the seed.
 * Every critic step of the iteration and both critics (main and auxiliary) train on that one sample,
 * each releasing a clipped sum with its own N(0, (sigma C)^2) noise. k adaptive Gaussian releases with
 * sensitivity C on the same sample are together a Gaussian mechanism with noise multiplier sigma / sqrt(k)
 * (Gaussian DP composes that way: Dong, Roth, Su 2019, Cor. 3.3), and Poisson subsampling then applies
 * once per iteration: the accountant sees T sampled Gaussian steps at rate q and multiplier sigma / sqrt(k).
 * (DoppelGANger's authors halved sigma for their two critics: conservative where sqrt(2) is exact.)
 */
import { webcrypto } from 'node:crypto';
import { noiseForEpsilon, privacySpent, type PrivacySpent } from './accountant.ts';

export interface DpRequest {
  /** Target epsilon for the whole run: the noise multiplier is solved for it. */
  epsilon?: number;
  /** Or the noise multiplier itself (then the run spends what it spends). */
  noiseMultiplier?: number;
  /** Default: `defaultDelta` of the training set's size. */
  delta?: number;
  /** Per-example gradient norm bound C (default 1). */
  clipNorm?: number;
}

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
}

export const DEFAULT_CLIP_NORM = 1;

/** 1e-5, 2.5e-7, 0.01: how a delta reads in messages. */
export const formatDelta = (delta: number) => (delta < 1e-3 ? delta.toExponential(2).replace(/\.?0*e/, 'e') : String(delta));

/** Well below 1/N (a delta near 1/N allows publishing a record outright), and at most 1e-5. */
export const defaultDelta = (series: number) => Math.min(1e-5, 1 / (10 * series));

/**
 * An empty sample is drawn again, which makes the run differ from the analysed one on an event of
 * probability T (1 - q)^N at most; the accountant gets delta minus this share, and a plan where that
 * event is not negligible is refused.
 */
const EMPTY_SAMPLE_DELTA_SHARE = 0.01;

export interface DpRunShape {
  trainingSeries: number;
  batchSize: number;
  criticSteps: number;
  hasAuxCritic: boolean;
  iterations: number;
}

/** The noise multiplier the accountant sees per iteration. */
export const effectiveNoise = (plan: DpPlan) => plan.noiseMultiplier / Math.sqrt(plan.releasesPerIteration);

/** What `iterations` iterations of a plan spend. */
export function epsilonSpent(plan: DpPlan, iterations: number): PrivacySpent {
  const delta = plan.delta * (1 - EMPTY_SAMPLE_DELTA_SHARE);
  const spent = privacySpent([{ q: plan.samplingRate, noiseMultiplier: effectiveNoise(plan), steps: iterations }], delta);
  return { ...spent, delta: plan.delta };
}

export function planDp(request: DpRequest, shape: DpRunShape): DpPlan {
  const { trainingSeries: n, batchSize, criticSteps, iterations } = shape;
  if ((request.epsilon === undefined) === (request.noiseMultiplier === undefined)) {
    throw new Error('DP-SGD needs either a target epsilon (--dp-epsilon) or a noise multiplier (--dp-noise), not both');
  }
  const clipNorm = request.clipNorm ?? DEFAULT_CLIP_NORM;
  if (!(clipNorm > 0 && Number.isFinite(clipNorm))) throw new Error(`the DP clip norm must be a positive number, got ${clipNorm}`);
  const delta = request.delta ?? defaultDelta(n);
  if (!(delta > 0 && delta < 1)) throw new Error(`DP delta must be between 0 and 1, got ${delta}`);
  if (delta >= 1 / n) throw new Error(`DP delta ${formatDelta(delta)} is not below 1/N = ${(1 / n).toPrecision(3)} for ${n} training series: such a delta allows publishing a record outright; use a smaller one (default ${formatDelta(defaultDelta(n))})`);
  const samplingRate = Math.min(1, batchSize / n);
  const releasesPerIteration = criticSteps * (shape.hasAuxCritic ? 2 : 1);
  const base = { clipNorm, delta, expectedBatch: batchSize, samplingRate, releasesPerIteration };
  let plan: DpPlan;
  if (request.epsilon !== undefined) {
    const effective = noiseForEpsilon(request.epsilon, delta * (1 - EMPTY_SAMPLE_DELTA_SHARE), samplingRate, iterations);
    plan = { ...base, noiseMultiplier: effective * Math.sqrt(releasesPerIteration), targetEpsilon: request.epsilon };
  } else {
    const sigma = request.noiseMultiplier!;
    if (!(sigma > 0 && Number.isFinite(sigma))) throw new Error(`the DP noise multiplier must be a positive number, got ${sigma}`);
    plan = { ...base, noiseMultiplier: sigma };
  }
  const epsilon = epsilonSpent(plan, iterations).epsilon;
  const emptyRisk = iterations * Math.exp(n * Math.log1p(-Math.min(samplingRate, 1 - 1e-16)));
  if (emptyRisk * (1 + Math.exp(Math.min(epsilon, 700))) > EMPTY_SAMPLE_DELTA_SHARE * delta) {
    throw new Error(`with an expected batch of ${batchSize} series, an empty sample is too likely for delta ${formatDelta(delta)}: use a larger batch (--batch)`);
  }
  return plan;
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
