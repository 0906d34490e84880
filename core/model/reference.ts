/**
 * The TF.js reference engine: the readable, autograd-checked statement of the model in README.md.
 * It owns the variables (parameters, batch-norm buffers, Adam slots), the noise stream and the step
 * counters; the math is in reference-networks.ts.
 *
 * TF.js's backend is process-wide: every public method first makes this engine's backend the active one.
 */
import { ApiError } from '../util/errors.ts';
import * as tf from '@tensorflow/tfjs-core';
import type { Engine, EngineOptions, EngineState, GeneratedBatch, GenerateOptions, NamedTensor, RealBatch, StepLosses } from './engine.ts';
import { GENERATION_BLOCK } from './engine.ts';
import { bufferSpecs, initialBuffers, initialParameters, parameterSpecs, RNG_STREAM, type Network } from './params.ts';
import { Rng } from '../util/rng.ts';
import { adamStep, type AdamSlots } from './reference-adam.ts';
import { auxCriticInput, criticInput, criticLoss, drawGeneratorNoise, generatorForward, generatorLoss, modelShape, critic, type GeneratorOutput, type ModelShape } from './reference-networks.ts';
import type { Weights } from './reference-ops.ts';

export type ReferenceBackend = 'wasm' | 'cpu';

/** Makes `preferred` the active TF.js backend; wasm falls back to cpu when it cannot initialize. */
async function activateBackend(preferred: ReferenceBackend): Promise<ReferenceBackend> {
  if (preferred === 'wasm') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return 'wasm';
      }
    } catch {
      // wasm unavailable here (missing binary, no WebAssembly): the cpu backend computes the same model
    }
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('TF.js could not initialize its cpu backend');
  await tf.ready();
  return 'cpu';
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function readTensor(name: string, t: tf.Tensor): NamedTensor {
  // copy: the cpu backend hands out its own buffer
  return { name, shape: [...t.shape], data: new Float32Array(t.dataSync()) };
}

export async function createReferenceEngine(options: EngineOptions & { backend?: ReferenceBackend }): Promise<Engine> {
  if (options.dp && Number.isFinite(options.dp.clipNorm) && options.dp.clipNorm > 0) {
    throw new ApiError('unsupported', 'the reference engine has no DP-SGD (per-example clipping)', { hint: { text: 'train on the native engine', option: 'engine', value: 'native' } });
  }
  const backend = await activateBackend(options.backend ?? 'wasm');
  const { config, seed } = options;
  const shape: ModelShape = modelShape(config);
  const d = shape.dims;
  const specs = parameterSpecs(config);
  const buffersSpecs = bufferSpecs(config);

  const params: Record<string, tf.Variable> = {};
  const buffers: Record<string, tf.Variable> = {};
  const slots: Record<string, AdamSlots> = {};
  tf.tidy(() => {
    for (const p of initialParameters(config, seed)) params[p.name] = tf.variable(tf.tensor(p.data, p.shape), true);
    for (const b of initialBuffers(config)) buffers[b.name] = tf.variable(tf.tensor(b.data, b.shape), false);
    for (const s of specs) slots[s.name] = { m: tf.variable(tf.zeros(s.shape), false), v: tf.variable(tf.zeros(s.shape), false) };
  });
  const weights: Weights = params;

  const namesOf = (network: Network) => specs.filter((s) => s.network === network).map((s) => s.name);
  const networks = {
    generator: { names: namesOf('generator'), learningRate: config.generatorLearningRate },
    critic: { names: namesOf('critic'), learningRate: config.criticLearningRate },
    auxCritic: { names: namesOf('auxCritic'), learningRate: config.auxCriticLearningRate },
  };
  const counters = { generatorStep: 0, criticStep: 0, auxCriticStep: 0 };
  const noiseRng = new Rng(seed, RNG_STREAM.noise);
  let disposed = false;

  async function enter(): Promise<void> {
    if (disposed) throw new Error('this engine has been disposed');
    if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} is no longer available`);
  }

  /** Computes `loss`'s gradients for one network and applies one Adam step to it. */
  function update(network: keyof typeof networks, loss: () => tf.Scalar): tf.Scalar {
    const { names, learningRate } = networks[network];
    const variables = names.map((n) => params[n]);
    const { value, grads } = tf.variableGrads(loss, variables);
    const t = ++counters[`${network}Step`];
    adamStep(
      variables,
      variables.map((v) => grads[v.name]),
      names.map((n) => slots[n]),
      t,
      { learningRate, beta1: config.adamBeta1, beta2: config.adamBeta2 },
    );
    return value;
  }

  function checkBatch(batch: RealBatch): void {
    const B = batch.size;
    if (!Number.isInteger(B) || B < 1) throw new Error(`batch size must be a positive integer, got ${B}`);
    const expect = (what: string, got: number, want: number) => {
      if (got !== want) throw new Error(`batch ${what} has ${got} values, expected ${want} (size ${B})`);
    };
    expect('attributes', batch.attributes.length, B * d.attribute);
    expect('additionalAttributes', batch.additionalAttributes.length, B * d.additional);
    expect('features', batch.features.length, B * d.T * d.feature);
  }

  function realTensors(batch: RealBatch) {
    const B = batch.size;
    return {
      attributes: tf.tensor2d(batch.attributes, [B, d.attribute]),
      additional: d.additional > 0 ? tf.tensor2d(batch.additionalAttributes, [B, d.additional]) : null,
      features: tf.tensor3d(batch.features, [B, d.T, d.feature]),
    };
  }

  /** One critic step (both critics, same batch). Returns [L_D, gp, W, L_Da, gp_a]. */
  function criticStep(batch: RealBatch): tf.Tensor1D {
    const B = batch.size;
    const noise = drawGeneratorNoise(noiseRng, shape, B);
    const a = noiseRng.fillUniform(new Float32Array(B));
    const aAux = shape.hasAuxCritic ? noiseRng.fillUniform(new Float32Array(B)) : null;
    return tf.tidy(() => {
      // the fake batch is computed outside any gradient scope: stopgrad(G)
      const fake = generatorForward(weights, shape, { noise, batchNorm: { kind: 'batch' } });
      const real = realTensors(batch);
      let main!: ReturnType<typeof criticLoss>;
      update('critic', () => {
        main = criticLoss(
          weights,
          'critic',
          config.criticHidden.length,
          criticInput(real.features, real.attributes, real.additional),
          criticInput(fake.features, fake.attributes, fake.additional),
          tf.tensor2d(a, [B, 1]),
          config.gradientPenaltyWeight,
        );
        tf.keep(main.gradientPenalty);
        tf.keep(main.wasserstein);
        return main.loss;
      });
      const terms: tf.Tensor[] = [main.loss, main.gradientPenalty, main.wasserstein];
      if (aAux) {
        let aux!: ReturnType<typeof criticLoss>;
        update('auxCritic', () => {
          aux = criticLoss(
            weights,
            'aux',
            config.auxCriticHidden.length,
            auxCriticInput(real.attributes, real.additional),
            auxCriticInput(fake.attributes, fake.additional),
            tf.tensor2d(aAux, [B, 1]),
            config.gradientPenaltyWeight,
          );
          tf.keep(aux.gradientPenalty);
          return aux.loss;
        });
        terms.push(aux.loss, aux.gradientPenalty);
      } else {
        terms.push(tf.scalar(0), tf.scalar(0));
      }
      const stacked = tf.stack(terms) as tf.Tensor1D;
      tf.dispose([main.gradientPenalty, main.wasserstein, terms[4]]);
      return stacked;
    });
  }

  /** One generator step; the forward pass's batch statistics then update the running statistics. */
  function generatorStep(B: number): tf.Scalar {
    const noise = drawGeneratorNoise(noiseRng, shape, B);
    const statistics: { name: string; mean: tf.Tensor; variance: tf.Tensor }[] = [];
    const loss = tf.tidy(() => {
      const value = update('generator', () => {
        const fake = generatorForward(weights, shape, {
          noise,
          batchNorm: {
            kind: 'batch',
            onStatistics: (name, mean, variance) => statistics.push({ name, mean: tf.keep(mean), variance: tf.keep(variance) }),
          },
        });
        return generatorLoss(weights, shape, fake);
      });
      const momentum = config.batchNormMomentum;
      for (const { name, mean, variance } of statistics) {
        const movingMean = buffers[`${name}.movingMean`];
        const movingVariance = buffers[`${name}.movingVariance`];
        movingMean.assign(tf.add(tf.mul(momentum, movingMean), tf.mul(1 - momentum, mean)));
        movingVariance.assign(tf.add(tf.mul(momentum, movingVariance), tf.mul(1 - momentum, variance)));
      }
      return value;
    });
    for (const s of statistics) tf.dispose([s.mean, s.variance]);
    return loss;
  }

  function stateTensors(): { name: string; variable: tf.Variable }[] {
    return [
      ...specs.map((s) => ({ name: s.name, variable: params[s.name] })),
      ...buffersSpecs.map((s) => ({ name: s.name, variable: buffers[s.name] })),
      ...specs.flatMap((s) => [
        { name: `${s.name}.adam.m`, variable: slots[s.name].m },
        { name: `${s.name}.adam.v`, variable: slots[s.name].v },
      ]),
    ];
  }

  const engine: Engine = {
    name: `tfjs-${backend}`,
    config,

    async trainStep(realBatches: RealBatch[]): Promise<StepLosses> {
      await enter();
      if (realBatches.length !== config.criticSteps) {
        throw new Error(`trainStep needs ${config.criticSteps} real batch(es), one per critic step; got ${realBatches.length}`);
      }
      realBatches.forEach(checkBatch);
      let criticTerms: tf.Tensor1D | null = null;
      for (const batch of realBatches) {
        criticTerms?.dispose();
        criticTerms = criticStep(batch);
      }
      const generatorValue = generatorStep(realBatches[0].size);
      const [critic, gradientPenalty, wassersteinDistance, auxCritic, auxGradientPenalty] = criticTerms!.dataSync();
      const generator = generatorValue.dataSync()[0];
      tf.dispose([criticTerms!, generatorValue]);
      return { critic, auxCritic, gradientPenalty, auxGradientPenalty, generator, wassersteinDistance };
    },

    async generate(n: number, generateOptions: GenerateOptions = {}): Promise<GeneratedBatch> {
      await enter();
      if (!Number.isInteger(n) || n < 0) throw new Error(`n must be a non-negative integer, got ${n}`);
      const { givenAttributes, givenAdditionalAttributes } = generateOptions;
      if (givenAdditionalAttributes && !givenAttributes) throw new Error('givenAdditionalAttributes needs givenAttributes too');
      if (givenAttributes && givenAttributes.length !== n * d.attribute) {
        throw new Error(`givenAttributes has ${givenAttributes.length} values, expected ${n * d.attribute}`);
      }
      if (givenAdditionalAttributes && givenAdditionalAttributes.length !== n * d.additional) {
        throw new Error(`givenAdditionalAttributes has ${givenAdditionalAttributes.length} values, expected ${n * d.additional}`);
      }
      const out: GeneratedBatch = {
        size: n,
        attributes: new Float32Array(n * d.attribute),
        additionalAttributes: new Float32Array(n * d.additional),
        features: new Float32Array(n * d.T * d.feature),
        lengths: new Int32Array(n).fill(d.T),
      };
      const runningStatistics = { kind: 'running' as const, buffers: buffers as Weights };
      for (let start = 0; start < n; start += GENERATION_BLOCK) {
        const B = Math.min(GENERATION_BLOCK, n - start);
        const noise = drawGeneratorNoise(noiseRng, shape, B);
        const rows = (data: Float32Array | undefined, width: number) => (data && width > 0 ? tf.tensor2d(data.subarray(start * width, (start + B) * width), [B, width]) : undefined);
        let fake!: GeneratorOutput;
        tf.tidy(() => {
          fake = generatorForward(weights, shape, {
            noise,
            batchNorm: runningStatistics,
            givenAttributes: rows(givenAttributes, d.attribute),
            givenAdditional: rows(givenAdditionalAttributes, d.additional),
          });
          tf.keep(fake.attributes);
          tf.keep(fake.features);
          if (fake.additional) tf.keep(fake.additional);
          if (fake.mask) tf.keep(fake.mask);
        });
        out.attributes.set(fake.attributes.dataSync(), start * d.attribute);
        if (fake.additional) out.additionalAttributes.set(fake.additional.dataSync(), start * d.additional);
        out.features.set(fake.features.dataSync(), start * d.T * d.feature);
        if (fake.mask) {
          const mask = fake.mask.dataSync();
          for (let b = 0; b < B; b++) {
            let kept = 0;
            for (let t = 0; t < d.T; t++) kept += mask[b * d.T + t];
            out.lengths[start + b] = kept;
            // masking turned negative values into -0; the padding is +0 like the encoder's
            const series = (start + b) * d.T * d.feature;
            out.features.fill(0, series + kept * d.feature, series + d.T * d.feature);
          }
        }
        tf.dispose([fake.attributes, fake.features, ...(fake.additional ? [fake.additional] : []), ...(fake.mask ? [fake.mask] : [])]);
      }
      // conditioning returns exactly what was given
      if (givenAttributes) out.attributes.set(givenAttributes);
      if (givenAdditionalAttributes) out.additionalAttributes.set(givenAdditionalAttributes);
      return out;
    },

    async criticScores(batch: RealBatch): Promise<Float32Array> {
      await enter();
      checkBatch(batch);
      const scores = new Float32Array(batch.size);
      for (let start = 0; start < batch.size; start += GENERATION_BLOCK) {
        const B = Math.min(GENERATION_BLOCK, batch.size - start);
        const chunk: RealBatch = {
          size: B,
          attributes: batch.attributes.subarray(start * d.attribute, (start + B) * d.attribute),
          additionalAttributes: batch.additionalAttributes.subarray(start * d.additional, (start + B) * d.additional),
          features: batch.features.subarray(start * d.T * d.feature, (start + B) * d.T * d.feature),
        };
        const values = tf.tidy(() => {
          const real = realTensors(chunk);
          return critic(weights, 'critic', config.criticHidden.length, criticInput(real.features, real.attributes, real.additional));
        });
        scores.set(values.dataSync(), start);
        values.dispose();
      }
      return scores;
    },

    async getState(): Promise<EngineState> {
      await enter();
      return {
        tensors: stateTensors().map(({ name, variable }) => readTensor(name, variable)),
        counters: { ...counters, noisePosition: noiseRng.position },
      };
    },

    async setState(state: EngineState): Promise<void> {
      await enter();
      const byName = new Map(state.tensors.map((t) => [t.name, t]));
      const targets = stateTensors();
      // check everything before changing anything, so a bad checkpoint leaves the engine as it was
      for (const { name, variable } of targets) {
        const t = byName.get(name);
        if (!t) throw new Error(`state has no tensor ${name}`);
        if (!sameShape(t.shape, variable.shape)) throw new Error(`state tensor ${name} has shape [${t.shape}], expected [${variable.shape}]`);
        if (t.data.length !== sizeOf(t.shape)) throw new Error(`state tensor ${name} has ${t.data.length} values for shape [${t.shape}]`);
      }
      const required = ['generatorStep', 'criticStep', 'auxCriticStep', 'noisePosition'];
      for (const key of required) {
        const value = state.counters[key];
        if (!Number.isSafeInteger(value) || value < 0) throw new Error(`state counter ${key} must be a non-negative integer, got ${value}`);
      }
      tf.tidy(() => {
        for (const { name, variable } of targets) {
          const t = byName.get(name)!;
          variable.assign(tf.tensor(t.data, t.shape));
        }
      });
      counters.generatorStep = state.counters.generatorStep;
      counters.criticStep = state.counters.criticStep;
      counters.auxCriticStep = state.counters.auxCriticStep;
      noiseRng.position = state.counters.noisePosition;
    },

    dispose(): void {
      if (disposed) return;
      disposed = true;
      tf.dispose(stateTensors().map((s) => s.variable));
    },
  };
  return engine;
}
