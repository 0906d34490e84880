/**
 * One training iteration of the TF.js reference engine as a tensor dump (core/native/README.md, "Dump
 * contents"), so the native core's C test (`core/native/out/test_dg --compare FILE`) can rebuild the
 * model, load the reference's state, rerun the iteration and compare every tensor.
 *
 * What the engine reports itself: config and seed, the real batches, the full state before and after
 * `trainStep` (parameters, batch-norm buffers, Adam m/v, counters) and the iteration's losses. What this
 * module computes beside it, with the reference's own network functions:
 * - `critic0/*` (fake batch, interpolation weights, gradients, losses of the first critic step): the
 *   engine keeps them internal, so they are recomputed from the state before the iteration, drawing the
 *   same noise from the same stream position;
 * - `generator/grad/*`: read back from the Adam slots, `g = m / (1 - beta1)`, only when the generator's
 *   slots start at zero (its first step); later the subtraction would lose the gradient's precision, so
 *   then `final/*.adam.m` alone carries it.
 *
 * Left out: the final values of the dense biases that feed a batch norm (`gen.attr.dense<i>.bias`,
 * `gen.minmax.dense<i>.bias`). Batch norm subtracts the batch mean, so their gradient is zero in exact
 * arithmetic and rounding noise (~1e-9) in float32, and Adam divides the noise by its own magnitude:
 * each engine moves them by about lr in the direction of its own noise, which no other engine can
 * reproduce. Their gradients and Adam slots stay in the dump (both engines' are noise, and the
 * comparison's absolute floor of 1e-7 takes them as equal).
 *
 * The critics train with their real learning rates: the critics' gradient has directions that are
 * zero in exact arithmetic (the output bias, the bias of a unit active on every row), which TF.js sums
 * to exactly 0, and the native cores sum their bias gradients the same way (tests/native-c.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Engine, NamedTensor, RealBatch, StepLosses } from './engine.ts';
import { dims, parameterSpecs, RNG_STREAM } from './params.ts';
import { auxCriticInput, criticInput, criticLoss, drawGeneratorNoise, generatorForward, modelShape } from './reference-networks.ts';
import { Rng } from '../util/rng.ts';
import { configTensors, counterTensor, writeTensorDump } from '../native/tensor-dump.ts';

/** Dense biases right before a batch norm (see the module comment). */
export const feedsBatchNorm = (name: string): boolean => /^gen\.(attr|minmax)\.dense\d+\.bias$/.test(name);

const prefixed = (prefix: string, tensors: NamedTensor[]): NamedTensor[] => tensors.map((t) => ({ ...t, name: `${prefix}/${t.name}` }));

function batchTensors(k: number, batch: RealBatch, d: ReturnType<typeof dims>): NamedTensor[] {
  const B = batch.size;
  return [
    { name: `batch${k}/attributes`, shape: [B, d.attribute], data: batch.attributes },
    { name: `batch${k}/additionalAttributes`, shape: [B, d.additional], data: batch.additionalAttributes },
    { name: `batch${k}/features`, shape: [B, d.T, d.feature], data: batch.features },
  ];
}

const read = (name: string, t: tf.Tensor): NamedTensor => ({ name, shape: [...t.shape], data: new Float32Array(t.dataSync()) });

/**
 * The first critic step of an iteration recomputed from `state` (the engine's state before it), the
 * way reference.ts's criticStep computes it: same noise draws, same generator forward (batch
 * statistics, masked features), same losses, gradients by autograd through the same variables path.
 */
function firstCriticStep(engine: Engine, state: Map<string, NamedTensor>, noisePosition: number, seed: number, batch: RealBatch): NamedTensor[] {
  const { config } = engine;
  const shape = modelShape(config);
  const d = shape.dims;
  const B = batch.size;
  const rng = new Rng(seed, RNG_STREAM.noise);
  rng.position = noisePosition;
  const noise = drawGeneratorNoise(rng, shape, B);
  const a = rng.fillUniform(new Float32Array(B));
  const aAux = shape.hasAuxCritic ? rng.fillUniform(new Float32Array(B)) : null;

  const specs = parameterSpecs(config);
  const variables: Record<string, tf.Variable> = {};
  for (const s of specs) variables[s.name] = tf.variable(tf.tensor(state.get(s.name)!.data, s.shape), true);
  const out: NamedTensor[] = [];
  try {
    tf.tidy(() => {
      const fake = generatorForward(variables, shape, { noise, batchNorm: { kind: 'batch' } });
      const realAttributes = tf.tensor2d(batch.attributes, [B, d.attribute]);
      const realAdditional = d.additional > 0 ? tf.tensor2d(batch.additionalAttributes, [B, d.additional]) : null;
      const realFeatures = tf.tensor3d(batch.features, [B, d.T, d.feature]);
      out.push(
        read('critic0/fake/attributes', fake.attributes),
        fake.additional ? read('critic0/fake/additionalAttributes', fake.additional) : { name: 'critic0/fake/additionalAttributes', shape: [B, 0], data: new Float32Array(0) },
        read('critic0/fake/features', fake.features),
        { name: 'critic0/a', shape: [B], data: a },
      );
      if (aAux) out.push({ name: 'critic0/aAux', shape: [B], data: aAux });

      const gradients = (network: 'critic' | 'auxCritic', loss: () => ReturnType<typeof criticLoss>) => {
        let penalty!: tf.Scalar;
        const names = specs.filter((s) => s.network === network).map((s) => s.name);
        const { value, grads } = tf.variableGrads(
          () => {
            const terms = loss();
            penalty = tf.keep(terms.gradientPenalty);
            return terms.loss;
          },
          names.map((n) => variables[n]),
        );
        for (const n of names) out.push(read(`critic0/grad/${n}`, grads[variables[n].name]));
        const values = [value.dataSync()[0], penalty.dataSync()[0]];
        penalty.dispose();
        return values;
      };
      const main = gradients('critic', () =>
        criticLoss(
          variables,
          'critic',
          config.criticHidden.length,
          criticInput(realFeatures, realAttributes, realAdditional),
          criticInput(fake.features, fake.attributes, fake.additional),
          tf.tensor2d(a, [B, 1]),
          config.gradientPenaltyWeight,
        ),
      );
      const aux = aAux
        ? gradients('auxCritic', () =>
            criticLoss(
              variables,
              'aux',
              config.auxCriticHidden.length,
              auxCriticInput(realAttributes, realAdditional),
              auxCriticInput(fake.attributes, fake.additional),
              tf.tensor2d(aAux, [B, 1]),
              config.gradientPenaltyWeight,
            ),
          )
        : [0, 0];
      out.push({ name: 'critic0/losses', shape: [4], data: Float32Array.of(main[0], aux[0], main[1], aux[1]) });
    });
  } finally {
    tf.dispose(Object.values(variables));
  }
  return out;
}

/**
 * Runs one `trainStep(batches)` on a reference engine (created with `seed`) and writes everything the
 * C comparison knows about that iteration to `file` (see the module comment for what is recomputed).
 * The engine is left one iteration further on, as after a plain `trainStep`.
 */
export async function dumpReferenceIteration(engine: Engine, batches: RealBatch[], file: string, seed: number): Promise<StepLosses> {
  if (!engine.name.startsWith('tfjs')) {
    throw new Error(`dumpReferenceIteration needs the TF.js reference engine, got ${engine.name} (the native engine has dumpIteration)`);
  }
  const { config } = engine;
  const d = dims(config);
  if (batches.length !== config.criticSteps) throw new Error(`an iteration takes ${config.criticSteps} batch(es), got ${batches.length}`);

  const before = await engine.getState(); // also makes the engine's TF.js backend the active one
  const initial = new Map(before.tensors.map((t) => [t.name, t]));
  const critic0 = firstCriticStep(engine, initial, before.counters.noisePosition, seed, batches[0]);
  const losses = await engine.trainStep(batches);
  const after = await engine.getState();

  const generatorGradients: NamedTensor[] = [];
  const generatorSpecs = parameterSpecs(config).filter((s) => s.network === 'generator');
  if (generatorSpecs.every((s) => initial.get(`${s.name}.adam.m`)!.data.every((x) => x === 0))) {
    const final = new Map(after.tensors.map((t) => [t.name, t]));
    for (const s of generatorSpecs) {
      const m = final.get(`${s.name}.adam.m`)!.data;
      generatorGradients.push({ name: `generator/grad/${s.name}`, shape: s.shape, data: m.map((x) => x / (1 - config.adamBeta1)) });
    }
  }

  const l = losses;
  writeTensorDump(file, [
    ...configTensors(config, seed),
    ...batches.flatMap((b, k) => batchTensors(k, b, d)),
    ...prefixed('init', before.tensors),
    counterTensor('init/counters', before.counters),
    ...critic0,
    { name: 'losses', shape: [6], data: Float32Array.of(l.critic, l.auxCritic, l.gradientPenalty, l.auxGradientPenalty, l.generator, l.wassersteinDistance) },
    ...generatorGradients,
    ...prefixed(
      'final',
      after.tensors.filter((t) => !feedsBatchNorm(t.name)),
    ),
    counterTensor('final/counters', after.counters),
  ]);
  return losses;
}
