/**
 * The DoppelGANger networks and losses on TF.js tensors, written to read like core/model/README.md.
 * Pure functions of the weights and inputs; the engine (reference.ts) owns the variables, the noise
 * and the optimizer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.ts';
import { dims, type Dims } from './params.ts';
import type { Rng } from '../util/rng.ts';
import { concatColumns, dense, headSegments, heads, withoutGradient, type HeadSegment, type Weights } from './reference-ops.ts';
import { gateScale, lstmSequence } from './reference-lstm.ts';

/** What the forward passes need to know about a config, computed once. */
export interface ModelShape {
  config: ModelConfig;
  dims: Dims;
  attributeHeads: HeadSegment[];
  additionalHeads: HeadSegment[];
  featureHeads: HeadSegment[];
  hasAuxCritic: boolean;
}

export function modelShape(config: ModelConfig): ModelShape {
  const d = dims(config);
  if (d.attribute === 0) throw new Error('the model needs at least one attribute variable (the attribute generator has nothing to generate)');
  if (d.feature === 0) throw new Error('the model needs at least one feature variable');
  const features = config.layout.features;
  if (config.layout.genFlags) {
    const flags = features[features.length - 1];
    if (flags?.dim !== 2 || flags.activation !== 'softmax') {
      throw new Error('layout.genFlags is set, so the last feature variable must be the [continues, ends] softmax pair');
    }
  }
  return {
    config,
    dims: d,
    attributeHeads: headSegments(config.layout.attributes),
    additionalHeads: headSegments(config.layout.additionalAttributes),
    featureHeads: headSegments(features),
    hasAuxCritic: config.auxCriticHidden.length > 0,
  };
}

/** The noise of one generator forward pass, in the README's draw order. */
export interface GeneratorNoise {
  batch: number;
  /** z_a [B, attributeNoiseDim] */
  attribute: Float32Array;
  /** z_m [B, minMaxNoiseDim], null without additional attributes. */
  minMax: Float32Array | null;
  /** z_f [B, T/S, featureNoiseDim], batch-major. */
  feature: Float32Array;
}

/** Draws z_a, then z_m (only with additional attributes), then z_f, all standard normal. */
export function drawGeneratorNoise(rng: Rng, shape: ModelShape, batch: number): GeneratorNoise {
  const { config, dims: d } = shape;
  const attribute = rng.fillNormal(new Float32Array(batch * config.attributeNoiseDim));
  const minMax = d.additional > 0 ? rng.fillNormal(new Float32Array(batch * config.minMaxNoiseDim)) : null;
  const feature = rng.fillNormal(new Float32Array(batch * d.steps * config.featureNoiseDim));
  return { batch, attribute, minMax, feature };
}

/**
 * Where batch norm takes its statistics: the batch's own (training; `onStatistics` sees them so the
 * caller can update the running statistics), or the running statistics (generation).
 */
export type BatchNormMode = { kind: 'batch'; onStatistics?: (name: string, mean: tf.Tensor, variance: tf.Tensor) => void } | { kind: 'running'; buffers: Weights };

export const BATCH_NORM_EPSILON = 1e-5;

function batchNorm(w: Weights, name: string, z: tf.Tensor2D, mode: BatchNormMode): tf.Tensor2D {
  let mean: tf.Tensor;
  let variance: tf.Tensor;
  if (mode.kind === 'batch') {
    ({ mean, variance } = tf.moments(z, 0)); // biased variance, as the README asks
    mode.onStatistics?.(name, mean, variance);
  } else {
    mean = mode.buffers[`${name}.movingMean`];
    variance = mode.buffers[`${name}.movingVariance`];
  }
  const normalized = tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, BATCH_NORM_EPSILON)));
  return tf.add(tf.mul(w[`${name}.gamma`], normalized), w[`${name}.beta`]);
}

/** dense -> batch norm -> ReLU per hidden layer, then the linear output layer (heads come after). */
function generatorMlp(w: Weights, prefix: string, hiddenCount: number, input: tf.Tensor2D, mode: BatchNormMode): tf.Tensor2D {
  let h = input;
  for (let i = 0; i < hiddenCount; i++) {
    const z = dense(h, w[`${prefix}.dense${i}.kernel`], w[`${prefix}.dense${i}.bias`]);
    h = tf.relu(batchNorm(w, `${prefix}.bn${i}`, z, mode));
  }
  return dense(h, w[`${prefix}.out.kernel`], w[`${prefix}.out.bias`]);
}

/** z_f[:, j] as a [B, featureNoiseDim] tensor. */
function stepNoise(noise: GeneratorNoise, steps: number, noiseDim: number, step: number): tf.Tensor2D {
  const out = new Float32Array(noise.batch * noiseDim);
  for (let b = 0; b < noise.batch; b++) {
    const from = (b * steps + step) * noiseDim;
    out.set(noise.feature.subarray(from, from + noiseDim), b * noiseDim);
  }
  return tf.tensor2d(out, [noise.batch, noiseDim]);
}

/**
 * The feature generator's pre-activation outputs [B, T, F]. `conditioning` is [A, M] (detached by the
 * caller), the part of x_j that is the same at every step: its share of the gates (plus the bias) is computed
 * once, and each step multiplies only [z_j, h_{j-1}], the rest of the same kernel's rows.
 */
function featureLogits(w: Weights, shape: ModelShape, conditioning: tf.Tensor2D, noise: GeneratorNoise): tf.Tensor3D {
  const { config, dims: d } = shape;
  const B = noise.batch;
  const H = config.lstmUnits;
  const conditioningWidth = d.attribute + d.additional;
  const kernel = w['gen.feat.lstm.kernel'] as tf.Tensor2D;
  // pre-scaled g columns: see reference-lstm.ts
  const scale = gateScale(H);
  const conditioningKernel = tf.slice(kernel, [0, 0], [conditioningWidth, 4 * H]);
  const stepKernel = tf.mul(tf.slice(kernel, [conditioningWidth, 0], [config.featureNoiseDim + H, 4 * H]), scale) as tf.Tensor2D;
  const constantGates = tf.mul(dense(conditioning, conditioningKernel, w['gen.feat.lstm.bias']), scale) as tf.Tensor2D;
  const steps = Array.from({ length: d.steps }, (_, j) => stepNoise(noise, d.steps, config.featureNoiseDim, j));
  const outputs = lstmSequence(constantGates, stepKernel, w['gen.feat.out.kernel'] as tf.Tensor2D, steps);
  const perStep = tf.reshape(outputs, [B, d.steps, d.S * d.feature]);
  return tf.reshape(tf.add(perStep, w['gen.feat.out.bias']), [B, d.T, d.feature]);
}

/**
 * mask [B, T]: 1 up to and including the first step whose gen flag says "ends" (ends > continues),
 * 0 after; all ones when no step ends. A constant for autograd.
 */
export function genFlagMask(features: tf.Tensor3D): tf.Tensor2D {
  const [B, T, F] = features.shape;
  return withoutGradient(features, (x) => {
    const continues = tf.reshape(tf.slice(x, [0, 0, F - 2], [B, T, 1]), [B, T]);
    const ends = tf.reshape(tf.slice(x, [0, 0, F - 1], [B, T, 1]), [B, T]);
    const ended = tf.cast(tf.greater(ends, continues), 'float32');
    const endsBefore = tf.cumsum(ended, 1, true); // exclusive: ends strictly before step t
    return tf.cast(tf.equal(endsBefore, 0), 'float32');
  }) as tf.Tensor2D;
}

export interface GeneratorInputs {
  noise: GeneratorNoise;
  batchNorm: BatchNormMode;
  /** Conditioning: these replace the generated attributes (and additional attributes). */
  givenAttributes?: tf.Tensor2D;
  givenAdditional?: tf.Tensor2D;
}

export interface GeneratorOutput {
  /** Soft outputs (or the given ones) [B, attributeDim]. */
  attributes: tf.Tensor2D;
  /** [B, additionalDim], null without additional attributes. */
  additional: tf.Tensor2D | null;
  /** [B, T, F], zero after each series' end. */
  features: tf.Tensor3D;
  /** [B, T] gen-flag mask, null without gen flags. */
  mask: tf.Tensor2D | null;
}

/** The attribute generator: A = heads_attr(MLP(z_a)), soft outputs [B, attributeDim]. */
export function attributeGenerator(w: Weights, shape: ModelShape, noise: GeneratorNoise, mode: BatchNormMode): tf.Tensor2D {
  const { config } = shape;
  const z = tf.tensor2d(noise.attribute, [noise.batch, config.attributeNoiseDim]);
  return heads(generatorMlp(w, 'gen.attr', config.attributeHidden.length, z, mode), shape.attributeHeads);
}

/** The min/max generator: M = heads_additional(MLP([z_m, attributes])); the caller detaches the attributes. */
export function minMaxGenerator(w: Weights, shape: ModelShape, noise: GeneratorNoise, attributes: tf.Tensor2D, mode: BatchNormMode): tf.Tensor2D {
  const { config } = shape;
  const z = tf.tensor2d(noise.minMax!, [noise.batch, config.minMaxNoiseDim]);
  return heads(generatorMlp(w, 'gen.minmax', config.minMaxHidden.length, tf.concat([z, attributes], 1), mode), shape.additionalHeads);
}

/** The feature generator and the gen-flag mask; the caller detaches attributes and additional attributes. */
export function featureGenerator(w: Weights, shape: ModelShape, noise: GeneratorNoise, attributes: tf.Tensor2D, additional: tf.Tensor2D | null): { features: tf.Tensor3D; mask: tf.Tensor2D | null } {
  const features = heads(featureLogits(w, shape, concatColumns([attributes, additional]), noise), shape.featureHeads);
  if (!shape.config.layout.genFlags) return { features, mask: null };
  const mask = genFlagMask(features);
  return { features: tf.mul(features, tf.expandDims(mask, 2)), mask };
}

/**
 * The whole generator. The min/max and feature generators see the attributes (and the feature
 * generator the additional attributes) through stopgrad: their gradients reach the attribute
 * generator only through the critics.
 */
export function generatorForward(w: Weights, shape: ModelShape, input: GeneratorInputs): GeneratorOutput {
  const { noise, batchNorm } = input;
  const attributes = input.givenAttributes ?? attributeGenerator(w, shape, noise, batchNorm);
  const fixedAttributes = withoutGradient(attributes) as tf.Tensor2D;
  let additional: tf.Tensor2D | null = null;
  if (shape.dims.additional > 0) additional = input.givenAdditional ?? minMaxGenerator(w, shape, noise, fixedAttributes, batchNorm);
  const fixedAdditional = additional && (withoutGradient(additional) as tf.Tensor2D);
  const { features, mask } = featureGenerator(w, shape, noise, fixedAttributes, fixedAdditional);
  return { attributes, additional, features, mask };
}

/** Main critic input [flatten(features) t-major, attributes, additional]. */
export function criticInput(features: tf.Tensor3D, attributes: tf.Tensor2D, additional: tf.Tensor2D | null): tf.Tensor2D {
  const [B, T, F] = features.shape;
  return concatColumns([tf.reshape(features, [B, T * F]), attributes, additional]);
}

/** Aux critic input [attributes, additional]. */
export function auxCriticInput(attributes: tf.Tensor2D, additional: tf.Tensor2D | null): tf.Tensor2D {
  return concatColumns([attributes, additional]);
}

/** D(x) [B]: ReLU MLP with a linear scalar output. `prefix` is 'critic' or 'aux'. */
export function critic(w: Weights, prefix: string, hiddenCount: number, x: tf.Tensor2D): tf.Tensor1D {
  let h = x;
  for (let i = 0; i < hiddenCount; i++) h = tf.relu(dense(h, w[`${prefix}.dense${i}.kernel`], w[`${prefix}.dense${i}.bias`]));
  const out = dense(h, w[`${prefix}.out.kernel`], w[`${prefix}.out.bias`]);
  return tf.reshape(out, [x.shape[0]]);
}

/**
 * Where an example's input gradient is exactly zero (every ReLU on its path dead), d||g||/dg is 0/0;
 * flooring the squared norm takes the gradient there as 0 (PyTorch's norm does the same) and changes
 * no value above 1e-12.
 */
export const SQUARED_NORM_FLOOR = 1e-24;

export interface CriticLossTerms {
  /** mean D(G) - mean D(R) + lambda gp */
  loss: tf.Scalar;
  /** mean_B (||grad_x D(x_hat)_b|| - 1)^2, without lambda */
  gradientPenalty: tf.Scalar;
  /** mean D(R) - mean D(G) */
  wasserstein: tf.Scalar;
}

/**
 * WGAN-GP critic loss. `a` [B, 1] interpolates per example; the input gradient of sum_b D(x_hat_b)
 * has example b's gradient in row b because the critic mixes nothing across examples, so the norm per
 * row is the per-example norm over all of that example's inputs. The critic is ReLU-only, which is what
 * makes TF.js's second-order gradient of the penalty correct.
 */
export function criticLoss(w: Weights, prefix: string, hiddenCount: number, real: tf.Tensor2D, fake: tf.Tensor2D, a: tf.Tensor2D, lambda: number): CriticLossTerms {
  const meanReal = tf.mean(critic(w, prefix, hiddenCount, real));
  const meanFake = tf.mean(critic(w, prefix, hiddenCount, fake));
  const interpolated = tf.add(tf.mul(a, real), tf.mul(tf.sub(1, a), fake)) as tf.Tensor2D;
  const inputGradient = tf.grad((x: tf.Tensor) => tf.sum(critic(w, prefix, hiddenCount, x as tf.Tensor2D)))(interpolated);
  const norms = tf.sqrt(tf.maximum(tf.sum(tf.square(inputGradient), 1), SQUARED_NORM_FLOOR));
  const gradientPenalty = tf.mean(tf.square(tf.sub(norms, 1))) as tf.Scalar;
  const loss = tf.add(tf.sub(meanFake, meanReal), tf.mul(lambda, gradientPenalty)) as tf.Scalar;
  return { loss, gradientPenalty, wasserstein: tf.sub(meanReal, meanFake) as tf.Scalar };
}

/** L_G = -mean D(G) - alpha mean D_a(G), on the generator's soft outputs. */
export function generatorLoss(w: Weights, shape: ModelShape, fake: GeneratorOutput): tf.Scalar {
  const { config } = shape;
  const main = tf.neg(tf.mean(critic(w, 'critic', config.criticHidden.length, criticInput(fake.features, fake.attributes, fake.additional))));
  if (!shape.hasAuxCritic) return main as tf.Scalar;
  const aux = tf.mean(critic(w, 'aux', config.auxCriticHidden.length, auxCriticInput(fake.attributes, fake.additional)));
  return tf.sub(main, tf.mul(config.auxCriticWeight, aux)) as tf.Scalar;
}
