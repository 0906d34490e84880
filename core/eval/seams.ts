/**
 * Seams: DoppelGANger's feature generator emits S steps per LSTM step, and its signature failure is a
 * break every S steps (issue 17: a synthetic autocorrelation spike at lag 10 = S where the real curve is
 * smooth). A seam shows in the mean per-series ACF as a local spike at lags S, 2S, ...: the value at the
 * lag minus the mean of its two neighbours. The real curve's own spike there is the yardstick.
 */
import type { AutocorrelationResult } from './metrics.ts';

export interface SeamFeature {
  feature: string;
  /** The lags checked: multiples of S with both neighbours inside the ACF's range. */
  lags: number[];
  real: Array<number | null>;
  synthetic: Array<number | null>;
  holdout: Array<number | null> | null;
  /** Mean over `lags` of the local spike (value - mean of neighbours); null when no lag qualifies. */
  realSpike: number | null;
  syntheticSpike: number | null;
  holdoutSpike: number | null;
}

export interface SeamResult {
  sampleLen: number;
  perFeature: SeamFeature[];
  /** Mean over features of syntheticSpike - realSpike: how much sharper the seams are than the data's own pattern. */
  excess: number | null;
}

/** A synthetic spike this much above the real one at the seams is visible in the series. */
export const SEAM_EXCESS_VISIBLE = 0.05;

/** Most multiples of S checked. */
const MAX_SEAMS = 10;

const at = (curve: ReadonlyArray<number | null>, lag: number) => curve[lag - 1] ?? null;

function spike(curve: ReadonlyArray<number | null>, lag: number): number | null {
  const [before, here, after] = [at(curve, lag - 1), at(curve, lag), at(curve, lag + 1)];
  return before === null || here === null || after === null ? null : here - (before + after) / 2;
}

function meanSpike(curve: ReadonlyArray<number | null>, lags: number[]): number | null {
  const spikes = lags.map((lag) => spike(curve, lag)).filter((s): s is number => s !== null);
  return spikes.length ? spikes.reduce((a, b) => a + b, 0) / spikes.length : null;
}

/** The seams of a run with sample length S, from the evaluation's ACF curves; null when S is 1 or the curves are too short for lag S + 1. */
export function seamsOf(sampleLen: number, synthetic: AutocorrelationResult, holdout: AutocorrelationResult | null): SeamResult | null {
  if (!(Number.isInteger(sampleLen) && sampleLen > 1)) return null;
  const lags: number[] = [];
  for (let k = 1; k <= MAX_SEAMS && k * sampleLen + 1 <= synthetic.maxLag; k++) lags.push(k * sampleLen);
  if (lags.length === 0 || synthetic.perFeature.length === 0) return null;
  const perFeature = synthetic.perFeature.map((feature, f): SeamFeature => {
    const held = holdout?.perFeature[f]?.other ?? null;
    return {
      feature: feature.feature,
      lags,
      real: lags.map((lag) => at(feature.real, lag)),
      synthetic: lags.map((lag) => at(feature.other, lag)),
      holdout: held ? lags.map((lag) => at(held, lag)) : null,
      realSpike: meanSpike(feature.real, lags),
      syntheticSpike: meanSpike(feature.other, lags),
      holdoutSpike: held ? meanSpike(held, lags) : null,
    };
  });
  const gaps = perFeature.flatMap((f) => (f.realSpike !== null && f.syntheticSpike !== null ? [f.syntheticSpike - f.realSpike] : []));
  return { sampleLen, perFeature, excess: gaps.length ? gaps.reduce((a, b) => a + b, 0) / gaps.length : null };
}
