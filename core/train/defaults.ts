/**
 * Training defaults by dataset shape, and the holdout split. The model's own settings stay the paper's
 * (`paperDefaults` in core/model/config.ts); these choose what depends on the data. Measurements behind
 * them: bench/FIDELITY.md.
 */
import type { Dataset, Series } from '../data/types.ts';
import { paperDefaults } from '../model/config.ts';
import { ApiError } from '../util/errors.ts';
import { max, mean, min, variance } from '../util/stats.ts';
import { Rng } from '../util/rng.ts';
import { iterationsPerEpoch } from './loop.ts';

/**
 * From 100 series on, 10% held out, and at least `monitorMinimum` series (what the exposure monitor needs
 * to read a membership AUC, core/privacy/exposure.ts), so the privacy guard can watch a long default run
 * instead of capping it (on gapminder's 147 series, 15 held out left the guard blind and the run capped
 * at 1,000 epochs: bench/SUITE.md); smaller datasets need every series for training.
 */
export const defaultHoldoutFraction = (series: number, monitorMinimum = 0) => (series >= 100 ? Math.max(0.1, monitorMinimum / series) : 0);

/**
 * S: the largest divisor of T that is at most 10 and leaves the LSTM at least 4 steps (1 when none does).
 * The paper found S = 10 best on WWT (T = 550); on MBA (T = 56) S = 8 beat 4, 2 and 1 (bench/FIDELITY.md).
 * A divisor, so no padded steps are generated and thrown away.
 */
export function defaultSampleLen(maxLength: number): number {
  for (let s = Math.min(10, Math.floor(maxLength / 4)); s > 1; s--) if (maxLength % s === 0) return s;
  return 1;
}

/** Why `defaultSampleLen` chose S for series of `maxLength` steps, in words for the plan. */
export function sampleLenReason(maxLength: number, sampleLen: number): string {
  if (sampleLen > 1) return `the largest divisor of T=${maxLength} up to 10 that leaves the LSTM at least 4 steps (S=10 was the paper's best, S=8 MBA's)`;
  return `T=${maxLength} has no divisor from 2 to 10 that leaves the LSTM at least 4 steps, so one step per LSTM step`;
}

/** Fewest iterations a default run trains for: small datasets get more epochs (the authors trained MBA, 600
 * series, for 17,000 epochs); on MBA quality kept improving up to about this many (bench/FIDELITY.md). */
export const MIN_DEFAULT_ITERATIONS = 20_000;

/** The paper's training length. */
export const PAPER_EPOCHS = 400;

/** The paper's 400 epochs, or enough epochs for MIN_DEFAULT_ITERATIONS iterations when that is more. */
export function defaultEpochs(series: number, batchSize: number): number {
  return Math.max(PAPER_EPOCHS, Math.ceil(MIN_DEFAULT_ITERATIONS / iterationsPerEpoch(series, batchSize)));
}

/**
 * Critic updates per generator update: 2 for small datasets (those that train longer than the paper's 400
 * epochs to reach MIN_DEFAULT_ITERATIONS), the paper's 1 otherwise. On MBA (480 series) a second critic
 * step moved TSTR/TRTR from 0.83 +- 0.14 to 0.95 +- 0.09 over 3 seeds and the discriminative score from
 * 0.22 to 0.12, for 1.6x the training time (bench/FIDELITY.md); large datasets keep the paper's cheaper
 * setting, where it was tuned.
 */
export function defaultCriticSteps(series: number, batchSize: number): number {
  return defaultEpochs(series, batchSize) > PAPER_EPOCHS ? 2 : paperDefaults.criticSteps;
}

/** Auto-normalization pays off when series of one feature live on very different scales... */
export const AUTO_NORMALIZE_RANGE_RATIO = 100;
/** ...or when they differ mainly by level, each moving within a narrow band of the feature's range. */
export const AUTO_NORMALIZE_SPREAD_SHARE = 0.8;

/** The default auto-normalization and the facts that chose it (shown in the plan). */
export interface AutoNormalizeChoice {
  on: boolean;
  reason: string;
}

/** One continuous feature's facts: p90/p10 of the per-series ranges (non-flat series), and the spread share. */
interface FeatureSpread {
  name: string;
  rangeRatio: number | null;
  spreadShare: number | null;
}

/**
 * Auto-normalization (per-series min/max as generated attributes) is the paper's fix for features whose
 * series span very different scales (WWT page views: orders of magnitude). It is on when, for some
 * continuous feature,
 * - the 90th percentile of the per-series ranges (max - min, over series that are not flat) is at least
 *   AUTO_NORMALIZE_RANGE_RATIO times the 10th percentile, or
 * - the spread share, std(per-series means) / std(all values), is at least AUTO_NORMALIZE_SPREAD_SHARE:
 *   the series differ mainly by level, each in a narrow band, so the generator's output noise at a share
 *   of the global range is large next to a series' own movement and breaks its autocorrelation. On the
 *   suite (bench/SUITE.md) this turns it on for produc (0.98-1.00) and gapminder (0.84), where it took ACF
 *   MSE from 2.5-3.1x the real holdout to 0.1-0.4x, and leaves it off where it hurt: chickweight (0.49),
 *   diseases (0.46), MBA (0.61; the min/max generator cannot put a zero-loss series' min exactly on 0, so
 *   ping loss becomes an offset, bench/FIDELITY.md).
 */
export function defaultAutoNormalize(train: Dataset): AutoNormalizeChoice {
  const spreads = train.features.flatMap((column, f) => (column.kind === 'continuous' ? [featureSpread(train, f, column.name)] : []));
  const wide = spreads.find((s) => s.rangeRatio !== null && s.rangeRatio >= AUTO_NORMALIZE_RANGE_RATIO);
  if (wide) return { on: true, reason: `${wide.name}'s series span very different scales (largest ranges ${fmt(wide.rangeRatio!)}x the smallest)` };
  const level = spreads.filter((s) => s.spreadShare !== null).sort((a, b) => b.spreadShare! - a.spreadShare!)[0];
  if (level && level.spreadShare! >= AUTO_NORMALIZE_SPREAD_SHARE)
    return { on: true, reason: `${level.name}'s series differ mainly by level, each in a narrow band (spread share ${level.spreadShare!.toFixed(2)} >= ${AUTO_NORMALIZE_SPREAD_SHARE})` };
  if (!level) return { on: false, reason: 'no continuous feature varies' };
  return {
    on: false,
    reason: `the series share one scale and overlap (${level.name}: spread share ${level.spreadShare!.toFixed(2)} < ${AUTO_NORMALIZE_SPREAD_SHARE}, ranges within ${AUTO_NORMALIZE_RANGE_RATIO}x)`,
  };
}

const fmt = (x: number) => (x >= 1000 ? x.toExponential(1) : x.toFixed(0));

function featureSpread(train: Dataset, f: number, name: string): FeatureSpread {
  // imported features are finite (missing values interpolated or their rows dropped)
  const columns = train.series.map((s) => (s.features[f] as Float64Array).subarray(0, s.length)).filter((x) => x.length > 0);
  const ranges = columns.map((x) => max(x) - min(x)).filter((r) => r > 0);
  ranges.sort((a, b) => a - b);
  const at = (q: number) => ranges[Math.round(q * (ranges.length - 1))];
  const rangeRatio = ranges.length >= 2 ? at(0.9) / at(0.1) : null;
  const means = Float64Array.from(columns, (x) => mean(x));
  // the variance of all values, in two passes over the series (no copy of the whole column)
  const count = columns.reduce((n, x) => n + x.length, 0);
  const overall = columns.reduce((sum, x, i) => sum + x.length * means[i], 0) / count;
  let squares = 0;
  for (const x of columns) for (let t = 0; t < x.length; t++) squares += (x[t] - overall) ** 2;
  const total = squares / count;
  const spreadShare = means.length >= 2 && total > 0 ? Math.min(1, Math.sqrt(variance(means) / total)) : null;
  return { name, rangeRatio, spreadShare };
}

/**
 * Splits series into train and holdout with a seeded shuffle. Pieces of one series (split at import) stay
 * on one side: a holdout that shares a series with training would not be unseen data.
 */
export function splitHoldout(dataset: Dataset, fraction: number, seed: number): { train: Dataset; holdout?: Dataset } {
  if (!(fraction > 0)) return { train: dataset };
  if (fraction >= 1)
    throw new ApiError('invalid_argument', `the holdout fraction must be below 1, got ${fraction}`, { hint: { text: 'keep about a tenth of the series out', option: 'holdoutFraction', value: 0.1 } });
  const { groupOfRow, series: n } = sourceSeries(dataset.series);
  const holdoutCount = Math.round(n * fraction);
  if (holdoutCount < 1 || n - holdoutCount < 2)
    throw new ApiError('invalid_argument', `a holdout fraction of ${fraction} leaves no usable split of ${n} series`, {
      hint: { text: 'train on every series (no holdout), or keep out a share that leaves at least one series on each side', option: 'holdoutFraction', value: 0 },
    });
  const order = new Rng(seed, 4).permutation(n);
  const holdoutIndex = new Set(Array.from(order.subarray(0, holdoutCount)));
  const pick = (keep: boolean) => ({ ...dataset, series: dataset.series.filter((_, i) => holdoutIndex.has(groupOfRow[i]) === keep) });
  return { train: pick(false), holdout: pick(true) };
}

/**
 * The source series of each row: the same as the row for whole series; pieces of one split series share
 * one (numbered in order of first appearance).
 */
export function sourceSeries(series: readonly Series[]): { series: number; groupOfRow: number[]; maxPieces: number } {
  const index = new Map<string, number>();
  const counts: number[] = [];
  const groupOfRow = series.map((s) => {
    const key = s.source === undefined ? `\u0000${s.id}` : s.source;
    let g = index.get(key);
    if (g === undefined) {
      g = counts.length;
      index.set(key, g);
      counts.push(0);
    }
    counts[g]++;
    return g;
  });
  return { series: counts.length, groupOfRow, maxPieces: counts.reduce((a, b) => Math.max(a, b), 1) };
}
