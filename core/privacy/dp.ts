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
import type { DpPlan, SeriesUnit } from '../train/dp-sampling.ts';
import { ApiError } from '../util/errors.ts';
import { noiseForEpsilon, privacySpent, type PrivacySpent } from './accountant.ts';

export type { DpPlan } from '../train/dp-sampling.ts';

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
  /** Training rows (series, or pieces of series split at import). */
  trainingSeries: number;
  /** When series were split into pieces: the source series are the privacy unit (see DpPlan.seriesUnit). */
  seriesUnit?: SeriesUnit;
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
  const { batchSize, criticSteps, iterations, seriesUnit } = shape;
  // the privacy unit: delta is judged against, and empty samples drawn over, source series
  const n = seriesUnit?.series ?? shape.trainingSeries;
  if ((request.epsilon === undefined) === (request.noiseMultiplier === undefined)) {
    throw new ApiError('invalid_argument', 'DP-SGD needs either a target epsilon or a noise multiplier, not both', {
      hint: { text: 'give a target epsilon (the noise is solved for it) or a noise multiplier', option: 'dp.epsilon' },
    });
  }
  const clipNorm = request.clipNorm ?? DEFAULT_CLIP_NORM;
  if (!(clipNorm > 0 && Number.isFinite(clipNorm)))
    throw new ApiError('invalid_argument', `the DP clip norm must be a positive number, got ${clipNorm}`, { hint: { text: 'the default is 1', option: 'dp.clipNorm', value: DEFAULT_CLIP_NORM } });
  const delta = request.delta ?? defaultDelta(n);
  if (!(delta > 0 && delta < 1))
    throw new ApiError('invalid_argument', `DP delta must be between 0 and 1, got ${delta}`, {
      hint: { text: `the default for this dataset is ${formatDelta(defaultDelta(n))}`, option: 'dp.delta', value: defaultDelta(n) },
    });
  if (delta >= 1 / n)
    throw new ApiError(
      'invalid_argument',
      `DP delta ${formatDelta(delta)} is not below 1/N = ${(1 / n).toPrecision(3)} for ${n} training series: such a delta allows publishing a record outright; use a smaller one`,
      { hint: { text: `the default for this dataset is ${formatDelta(defaultDelta(n))}`, option: 'dp.delta', value: defaultDelta(n) } },
    );
  // each source series is kept with this probability: batchSize rows per iteration on average
  const samplingRate = Math.min(1, batchSize / shape.trainingSeries);
  const releasesPerIteration = criticSteps * (shape.hasAuxCritic ? 2 : 1);
  const base = { clipNorm, delta, expectedBatch: batchSize, samplingRate, releasesPerIteration, ...(seriesUnit ? { seriesUnit } : {}) };
  let plan: DpPlan;
  if (request.epsilon !== undefined) {
    const effective = noiseForEpsilon(request.epsilon, delta * (1 - EMPTY_SAMPLE_DELTA_SHARE), samplingRate, iterations);
    plan = { ...base, noiseMultiplier: effective * Math.sqrt(releasesPerIteration), targetEpsilon: request.epsilon };
  } else {
    const sigma = request.noiseMultiplier!;
    if (!(sigma > 0 && Number.isFinite(sigma)))
      throw new ApiError('invalid_argument', `the DP noise multiplier must be a positive number, got ${sigma}`, { hint: { text: 'or give a target epsilon instead', option: 'dp.noiseMultiplier' } });
    plan = { ...base, noiseMultiplier: sigma };
  }
  const epsilon = epsilonSpent(plan, iterations).epsilon;
  const emptyRisk = iterations * Math.exp(n * Math.log1p(-Math.min(samplingRate, 1 - 1e-16)));
  if (emptyRisk * (1 + Math.exp(Math.min(epsilon, 700))) > EMPTY_SAMPLE_DELTA_SHARE * delta) {
    throw new ApiError('invalid_argument', `with an expected batch of ${batchSize} series, an empty sample is too likely for delta ${formatDelta(delta)}: use a larger batch size`, {
      hint: { text: 'use a larger batch size', option: 'batchSize', value: batchSize * 2 },
    });
  }
  return plan;
}

export interface DpSgdQuestion {
  /** Records (training series). */
  records: number;
  /** Expected batch size: the Poisson sampling rate is batchSize / records. */
  batchSize: number;
  epochs: number;
  delta: number;
  /** Noised releases per step on one sample (default 1: plain DP-SGD); the accountant sees sigma / sqrt(R). */
  releasesPerStep?: number;
  /** The noise multiplier, to get the epsilon it spends ... */
  noiseMultiplier?: number;
  /** ... or the epsilon to reach, to get the noise multiplier it needs. */
  targetEpsilon?: number;
}

export interface DpSgdAnswer extends PrivacySpent {
  noiseMultiplier: number;
  steps: number;
  samplingRate: number;
}

/**
 * The accountant on its own (dg epsilon): the epsilon `epochs` passes of DP-SGD spend, or the noise
 * multiplier a target epsilon needs. Steps = ceil(epochs * records / batchSize), TF Privacy's
 * compute_dp_sgd_privacy convention, so published figures can be checked against it.
 */
export function accountDpSgd(question: DpSgdQuestion): DpSgdAnswer {
  const { records, batchSize, epochs, delta } = question;
  const releases = question.releasesPerStep ?? 1;
  const bad = (option: string, message: string, text: string) => new ApiError('invalid_argument', message, { hint: { text, option } });
  if (!(Number.isInteger(records) && records >= 1)) throw bad('records', `the number of records must be a positive integer, got ${records}`, 'the training series');
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= records))
    throw bad('batchSize', `the batch size must be an integer from 1 to the number of records (${records}), got ${batchSize}`, 'the expected batch size');
  if (!(epochs > 0 && Number.isFinite(epochs))) throw bad('epochs', `the epochs must be a positive number, got ${epochs}`, 'passes over the data');
  if (!(delta > 0 && delta < 1)) throw bad('delta', `delta must be between 0 and 1, got ${delta}`, `well below 1/N, e.g. ${formatDelta(defaultDelta(records))}`);
  if (!(Number.isInteger(releases) && releases >= 1)) throw bad('releasesPerStep', `the releases per step must be a positive integer, got ${releases}`, '1 for plain DP-SGD');
  if ((question.noiseMultiplier === undefined) === (question.targetEpsilon === undefined))
    throw bad('noiseMultiplier', 'give a noise multiplier or a target epsilon, exactly one', 'the noise multiplier, or a target epsilon instead');
  const samplingRate = batchSize / records;
  const steps = Math.ceil((epochs * records) / batchSize);
  let noiseMultiplier: number;
  if (question.targetEpsilon !== undefined) {
    if (!(question.targetEpsilon > 0 && Number.isFinite(question.targetEpsilon)))
      throw bad('targetEpsilon', `the target epsilon must be a positive number, got ${question.targetEpsilon}`, 'e.g. 1 to 10; smaller is more private');
    try {
      noiseMultiplier = noiseForEpsilon(question.targetEpsilon, delta, samplingRate, steps) * Math.sqrt(releases);
    } catch (error) {
      throw bad('targetEpsilon', (error as Error).message, 'allow a larger epsilon, or fewer epochs');
    }
  } else {
    noiseMultiplier = question.noiseMultiplier!;
    if (!(noiseMultiplier > 0 && Number.isFinite(noiseMultiplier)))
      throw bad('noiseMultiplier', `the noise multiplier must be a positive number, got ${noiseMultiplier}`, 'e.g. 1; or give a target epsilon instead');
  }
  const spent = privacySpent([{ q: samplingRate, noiseMultiplier: noiseMultiplier / Math.sqrt(releases), steps }], delta);
  return { ...spent, noiseMultiplier, steps, samplingRate };
}
