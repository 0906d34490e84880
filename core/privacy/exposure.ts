/**
 * Membership exposure during training: how well the critic, as it is now, tells training series from
 * held-out ones (ROC AUC of its scores, the LOGAN attack of the privacy review). It rises as the model
 * memorizes its training series (bench/PRIVACY.md), so a run shows it as it goes. A fixed seeded
 * sample of each side is scored; scoring draws no random numbers, so training is unchanged by it.
 */
import type { EncodedDataset } from '../encoding/types.ts';
import { widthOf } from '../encoding/types.ts';
import type { Engine, RealBatch } from '../model/engine.ts';
import { Rng } from '../util/rng.ts';
import { rocAuc } from './attacks.ts';

/** Series scored per side: enough for an AUC within about ±0.05, a few ms of critic time. */
export const EXPOSURE_SAMPLE = 500;
/** Fewer held-out series than this give too noisy an AUC to be worth showing. */
export const MIN_EXPOSURE_SERIES = 20;

function gather(data: EncodedDataset, rows: Int32Array): RealBatch {
  const a = widthOf(data.layout.attributes);
  const m = widthOf(data.layout.additionalAttributes);
  const f = data.layout.maxLength * widthOf(data.layout.features);
  const batch: RealBatch = { size: rows.length, attributes: new Float32Array(rows.length * a), additionalAttributes: new Float32Array(rows.length * m), features: new Float32Array(rows.length * f) };
  rows.forEach((i, b) => {
    batch.attributes.set(data.attributes.subarray(i * a, (i + 1) * a), b * a);
    batch.additionalAttributes.set(data.additionalAttributes.subarray(i * m, (i + 1) * m), b * m);
    batch.features.set(data.features.subarray(i * f, (i + 1) * f), b * f);
  });
  return batch;
}

/** Measures the critic's membership AUC on fixed samples of training and held-out series; null when the holdout is too small. */
export function exposureMonitor(train: EncodedDataset, holdout: EncodedDataset, seed: number): ((engine: Engine) => Promise<number>) | null {
  const perSide = Math.min(EXPOSURE_SAMPLE, train.n, holdout.n);
  if (holdout.n < MIN_EXPOSURE_SERIES || perSide < MIN_EXPOSURE_SERIES) return null;
  const sample = (n: number, stream: number) => new Rng(seed, stream).permutation(n).subarray(0, perSide);
  const members = gather(train, sample(train.n, 0x20001));
  const nonMembers = gather(holdout, sample(holdout.n, 0x20002));
  return async (engine) => rocAuc(await engine.criticScores(members), await engine.criticScores(nonMembers));
}
