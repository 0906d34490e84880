/**
 * Membership exposure during training: how well the critic, as it is now, tells training series from
 * held-out ones (ROC AUC of its scores, the LOGAN attack of the privacy review). It rises as the model
 * memorizes its training series (bench/PRIVACY.md), so a run shows it as it goes, and the privacy guard
 * (core/train/privacy-guard.ts) stops on it. A fixed seeded sample of each side is scored; scoring draws no random numbers, so training is unchanged by it.
 */
import type { EncodedDataset } from '../encoding/types.ts';
import type { Engine } from '../model/engine.ts';
import { gatherRows } from '../train/loop.ts';
import { Rng } from '../util/rng.ts';
import { rocAuc } from './attacks.ts';

/**
 * Series scored at most per side: enough for an AUC within about ±0.05, a few ms of critic time. The
 * sides are sampled separately (not to the smaller one's size): with a small holdout (48 series on MBA)
 * scoring every training series too roughly halves the AUC's variance, which the privacy guard reads.
 */
export const EXPOSURE_SAMPLE = 500;
/** Fewer held-out series than this give too noisy an AUC to be worth showing. */
export const MIN_EXPOSURE_SERIES = 20;

/** Measures the critic's membership AUC on fixed samples of training and held-out series; null when the holdout is too small. */
export function exposureMonitor(train: EncodedDataset, holdout: EncodedDataset, seed: number): ((engine: Engine) => Promise<number>) | null {
  if (holdout.n < MIN_EXPOSURE_SERIES || train.n < MIN_EXPOSURE_SERIES) return null;
  const sample = (n: number, stream: number) => new Rng(seed, stream).permutation(n).subarray(0, Math.min(EXPOSURE_SAMPLE, n));
  const members = gatherRows(train, sample(train.n, 0x20001));
  const nonMembers = gatherRows(holdout, sample(holdout.n, 0x20002));
  return async (engine) => rocAuc(await engine.criticScores(members), await engine.criticScores(nonMembers));
}
