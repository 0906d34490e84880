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

/** The most critic steps per iteration an engine takes (the native binding's limit). */
export const maxCriticSteps = 16;

type Setting = keyof typeof paperDefaults;
const sizes: Setting[] = ['sampleLen', 'attributeNoiseDim', 'minMaxNoiseDim', 'featureNoiseDim', 'lstmUnits'];
const widthLists: Setting[] = ['attributeHidden', 'minMaxHidden', 'criticHidden', 'auxCriticHidden'];
const positive: Setting[] = ['generatorLearningRate', 'criticLearningRate', 'auxCriticLearningRate'];
const nonNegative: Setting[] = ['auxCriticWeight', 'gradientPenaltyWeight'];
const fractions: Setting[] = ['adamBeta1', 'adamBeta2'];

/** Each setting's valid range, checked once here for every caller (CLI, app, checkpoints). */
function checkSettings(config: ModelConfig): void {
  const fail = (key: Setting, want: string) => {
    const value = config[key];
    throw new Error(`model setting ${key} must be ${want}, got ${Array.isArray(value) ? `[${value.join(', ')}]` : String(value)}`);
  };
  const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  for (const key of sizes) if (!Number.isInteger(config[key]) || (config[key] as number) < 1) fail(key, 'a positive integer');
  for (const key of widthLists) {
    const widths = config[key];
    if (!Array.isArray(widths) || widths.some((w) => !Number.isInteger(w) || w < 1)) fail(key, 'a list of positive integer layer widths (empty for none)');
  }
  for (const key of positive) if (!isNumber(config[key]) || (config[key] as number) <= 0) fail(key, 'a positive number');
  for (const key of nonNegative) if (!isNumber(config[key]) || (config[key] as number) < 0) fail(key, 'a number >= 0');
  for (const key of fractions) if (!isNumber(config[key]) || (config[key] as number) < 0 || (config[key] as number) >= 1) fail(key, 'a number in [0, 1)');
  if (!isNumber(config.batchNormMomentum) || config.batchNormMomentum < 0 || config.batchNormMomentum > 1) fail('batchNormMomentum', 'a number in [0, 1]');
  if (!Number.isInteger(config.criticSteps) || config.criticSteps < 1 || config.criticSteps > maxCriticSteps) fail('criticSteps', `an integer from 1 to ${maxCriticSteps}`);
}

export function modelConfig(layout: EncodedLayout, overrides: Partial<Omit<ModelConfig, 'layout'>> = {}): ModelConfig {
  const config: ModelConfig = { ...paperDefaults, ...overrides, layout };
  checkSettings(config);
  if (layout.maxLength % config.sampleLen !== 0) {
    throw new Error(`maxLength ${layout.maxLength} is not a multiple of sampleLen ${config.sampleLen}: pad the series (encoding does) or pick a sampleLen that divides it`);
  }
  return config;
}
