/**
 * The parameter layout and initialization shared by every engine. Both the TF.js reference engine and
 * the native core build their tensors from this list, in this order, so weights move between engines
 * and checkpoints unchanged. The math each name takes part in is in core/model/README.md.
 */
import { widthOf } from '../encoding/types.ts';
import type { ModelConfig } from './config.ts';
import type { NamedTensor } from './engine.ts';
import { Rng } from '../util/rng.ts';

export type Network = 'generator' | 'critic' | 'auxCritic';

export interface ParamSpec {
  name: string;
  shape: number[];
  network: Network;
  init: 'glorot' | 'zeros' | 'ones' | 'forgetBias';
}

/** RNG streams: one per purpose so that changing one draw never shifts another. */
export const RNG_STREAM = { init: 1, noise: 2, batches: 3 } as const;

function mlp(prefix: string, network: Network, input: number, hidden: number[], output: number, batchNorm: boolean): ParamSpec[] {
  const specs: ParamSpec[] = [];
  let width = input;
  hidden.forEach((h, i) => {
    specs.push({ name: `${prefix}.dense${i}.kernel`, shape: [width, h], network, init: 'glorot' });
    specs.push({ name: `${prefix}.dense${i}.bias`, shape: [h], network, init: 'zeros' });
    if (batchNorm) {
      specs.push({ name: `${prefix}.bn${i}.gamma`, shape: [h], network, init: 'ones' });
      specs.push({ name: `${prefix}.bn${i}.beta`, shape: [h], network, init: 'zeros' });
    }
    width = h;
  });
  specs.push({ name: `${prefix}.out.kernel`, shape: [width, output], network, init: 'glorot' });
  specs.push({ name: `${prefix}.out.bias`, shape: [output], network, init: 'zeros' });
  return specs;
}

export interface Dims {
  attribute: number;
  additional: number;
  feature: number;
  T: number;
  S: number;
  steps: number;
  lstmInput: number;
  criticInput: number;
  auxInput: number;
}

export function dims(config: ModelConfig): Dims {
  const attribute = widthOf(config.layout.attributes);
  const additional = widthOf(config.layout.additionalAttributes);
  const feature = widthOf(config.layout.features);
  const T = config.layout.maxLength;
  const S = config.sampleLen;
  return {
    attribute,
    additional,
    feature,
    T,
    S,
    steps: T / S,
    lstmInput: attribute + additional + config.featureNoiseDim,
    criticInput: T * feature + attribute + additional,
    auxInput: attribute + additional,
  };
}

/** Every trainable parameter, in canonical order. */
export function parameterSpecs(config: ModelConfig): ParamSpec[] {
  const d = dims(config);
  const H = config.lstmUnits;
  const specs: ParamSpec[] = [];
  specs.push(...mlp('gen.attr', 'generator', config.attributeNoiseDim, config.attributeHidden, d.attribute, true));
  if (d.additional > 0) {
    specs.push(...mlp('gen.minmax', 'generator', config.minMaxNoiseDim + d.attribute, config.minMaxHidden, d.additional, true));
  }
  specs.push({ name: 'gen.feat.lstm.kernel', shape: [d.lstmInput + H, 4 * H], network: 'generator', init: 'glorot' });
  specs.push({ name: 'gen.feat.lstm.bias', shape: [4 * H], network: 'generator', init: 'forgetBias' });
  specs.push({ name: 'gen.feat.out.kernel', shape: [H, d.S * d.feature], network: 'generator', init: 'glorot' });
  specs.push({ name: 'gen.feat.out.bias', shape: [d.S * d.feature], network: 'generator', init: 'zeros' });
  specs.push(...mlp('critic', 'critic', d.criticInput, config.criticHidden, 1, false));
  if (config.auxCriticHidden.length > 0) {
    specs.push(...mlp('aux', 'auxCritic', d.auxInput, config.auxCriticHidden, 1, false));
  }
  return specs;
}

/** Batch-norm running statistics (not trained; used at generation), in canonical order. */
export function bufferSpecs(config: ModelConfig): { name: string; shape: number[]; init: 'zeros' | 'ones' }[] {
  const d = dims(config);
  const out: { name: string; shape: number[]; init: 'zeros' | 'ones' }[] = [];
  const add = (prefix: string, hidden: number[]) =>
    hidden.forEach((h, i) => {
      out.push({ name: `${prefix}.bn${i}.movingMean`, shape: [h], init: 'zeros' });
      out.push({ name: `${prefix}.bn${i}.movingVariance`, shape: [h], init: 'ones' });
    });
  add('gen.attr', config.attributeHidden);
  if (d.additional > 0) add('gen.minmax', config.minMaxHidden);
  return out;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Initial values from the seed: parameters in canonical order, each Glorot kernel drawing
 * uniform(-l, l), l = sqrt(6 / (fanIn + fanOut)), in row-major order from stream RNG_STREAM.init.
 * LSTM bias: zeros except the forget gate block [H, 2H), which is 1.
 */
export function initialParameters(config: ModelConfig, seed: number): NamedTensor[] {
  const rng = new Rng(seed, RNG_STREAM.init);
  const H = config.lstmUnits;
  return parameterSpecs(config).map((spec) => {
    const data = new Float32Array(size(spec.shape));
    if (spec.init === 'glorot') {
      const limit = Math.sqrt(6 / (spec.shape[0] + spec.shape[1]));
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.uniform() - 1) * limit;
    } else if (spec.init === 'ones') {
      data.fill(1);
    } else if (spec.init === 'forgetBias') {
      data.fill(1, H, 2 * H);
    }
    return { name: spec.name, shape: spec.shape, data };
  });
}

export function initialBuffers(config: ModelConfig): NamedTensor[] {
  return bufferSpecs(config).map((spec) => ({
    name: spec.name,
    shape: spec.shape,
    data: new Float32Array(size(spec.shape)).fill(spec.init === 'ones' ? 1 : 0),
  }));
}
