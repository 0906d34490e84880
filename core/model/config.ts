/**
 * The DoppelGANger model's configuration: sizes, losses and optimizer. Defaults are the paper's.
 */
import type { EncodedLayout } from '../encoding/types.ts';

export interface ModelConfig {
  layout: EncodedLayout;
  /** S: time steps emitted per LSTM step. layout.maxLength must be a multiple of it. */
  sampleLen: number;
  attributeNoiseDim: number;
  /** Noise of the min/max (additional attribute) generator. */
  minMaxNoiseDim: number;
  /** Noise per LSTM step. */
  featureNoiseDim: number;
  /** Hidden widths of the attribute generator (dense -> batch norm -> ReLU each). */
  attributeHidden: number[];
  /** Hidden widths of the min/max generator. */
  minMaxHidden: number[];
  lstmUnits: number;
  /** Hidden widths of the main critic (ReLU, no normalization). */
  criticHidden: number[];
  /** Hidden widths of the auxiliary (attribute) critic; empty list disables it. */
  auxCriticHidden: number[];
  /** alpha in L_G = -E[D(fake)] - alpha E[D_a(fake)]. */
  auxCriticWeight: number;
  /** lambda of WGAN-GP. */
  gradientPenaltyWeight: number;
  generatorLearningRate: number;
  criticLearningRate: number;
  auxCriticLearningRate: number;
  adamBeta1: number;
  adamBeta2: number;
  /** Critic steps per generator step. */
  criticSteps: number;
  /** Batch norm running-statistics momentum (used at generation). */
  batchNormMomentum: number;
}

export const paperDefaults = {
  sampleLen: 10,
  attributeNoiseDim: 5,
  minMaxNoiseDim: 5,
  featureNoiseDim: 5,
  attributeHidden: [100, 100],
  minMaxHidden: [100, 100],
  lstmUnits: 100,
  criticHidden: [200, 200, 200, 200],
  auxCriticHidden: [200, 200, 200, 200],
  auxCriticWeight: 1,
  gradientPenaltyWeight: 10,
  generatorLearningRate: 1e-3,
  criticLearningRate: 1e-3,
  auxCriticLearningRate: 1e-3,
  adamBeta1: 0.5,
  adamBeta2: 0.999,
  criticSteps: 1,
  batchNormMomentum: 0.99,
} satisfies Omit<ModelConfig, 'layout'>;

export function modelConfig(layout: EncodedLayout, overrides: Partial<Omit<ModelConfig, 'layout'>> = {}): ModelConfig {
  const config: ModelConfig = { ...paperDefaults, ...overrides, layout };
  if (layout.maxLength % config.sampleLen !== 0) {
    throw new Error(
      `maxLength ${layout.maxLength} is not a multiple of sampleLen ${config.sampleLen}: pad the series (encoding does) or pick a sampleLen that divides it`,
    );
  }
  return config;
}
