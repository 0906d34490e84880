/**
 * The TF.js reference engine against the contract in core/model/README.md: critic gradients (with the
 * gradient penalty's second-order terms) against finite differences and against the by-hand derivation
 * of shared/design/doppelganger.md, determinism, exact checkpoint round trips, generation invariants,
 * and that a few hundred steps learn a trivial dataset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createReferenceEngine } from '../core/model/reference.ts';
import { attributeGenerator, critic, criticLoss, drawGeneratorNoise, featureGenerator, generatorForward, generatorLoss, minMaxGenerator, modelShape } from '../core/model/reference-networks.ts';
import { gateScale, lstmSequence } from '../core/model/reference-lstm.ts';
import { modelConfig, type ModelConfig } from '../core/model/config.ts';
import { dims, initialParameters, parameterSpecs } from '../core/model/params.ts';
import type { EncodedLayout } from '../core/encoding/types.ts';
import type { Engine, EngineState, RealBatch } from '../core/model/engine.ts';
import { Rng } from '../core/util/rng.ts';
import { assertResumeIsExact } from './fixtures/resume-check.ts';
import { categorical, continuous, randomBatch, tinyConfig, tinyLayout } from './fixtures/tiny-model.ts';

// ---------------------------------------------------------------------------------------------
// Critic gradients, including the gradient penalty's second-order terms

/** The critic's parameters from the shared initializer, as variables. */
function criticVariables(config: ModelConfig, prefix: string, seed: number): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const p of initialParameters(config, seed)) {
    if (p.name.startsWith(`${prefix}.`)) out[p.name] = tf.variable(tf.tensor(p.data, p.shape));
  }
  return out;
}

function uniformMatrix(rng: Rng, rows: number, cols: number, low: number, high: number): Float32Array {
  return new Float32Array(rows * cols).map(() => low + (high - low) * rng.uniform());
}

/** Signs of every hidden pre-activation of the critic on each input: the ReLU masks. */
function maskPattern(vars: Record<string, tf.Variable>, prefix: string, hiddenCount: number, inputs: tf.Tensor2D[]): string {
  return tf.tidy(() =>
    inputs
      .map((x) => {
        let h: tf.Tensor2D = x;
        let bits = '';
        for (let i = 0; i < hiddenCount; i++) {
          const z = tf.add(tf.matMul(h, vars[`${prefix}.dense${i}.kernel`] as tf.Tensor2D), vars[`${prefix}.dense${i}.bias`]) as tf.Tensor2D;
          bits += Array.from(z.dataSync(), (v) => (v > 0 ? '1' : '0')).join('');
          h = tf.relu(z);
        }
        return bits;
      })
      .join('|'),
  );
}

/**
 * Autograd gradients of the full critic loss (WGAN terms + lambda * per-example gradient penalty)
 * against central differences, at the three largest entries of every kernel and bias.
 * The penalty makes the loss jump where a ReLU mask flips (the input gradient is piecewise constant in
 * the masks), so each difference uses the largest step that flips no mask.
 */
function checkCriticGradients(prefix: 'critic' | 'aux', hiddenCount: number, inputWidth: number): void {
  const config = tinyConfig();
  const B = 5;
  const rng = new Rng(11, 0);
  const vars = criticVariables(config, prefix, 3);
  const real = tf.tensor2d(uniformMatrix(rng, B, inputWidth, 0, 1), [B, inputWidth]);
  const fake = tf.tensor2d(uniformMatrix(rng, B, inputWidth, -0.5, 1), [B, inputWidth]);
  const aValues = uniformMatrix(rng, B, 1, 0, 1);
  const a = tf.tensor2d(aValues, [B, 1]);
  const interpolated = tf.tidy(() => tf.add(tf.mul(a, real), tf.mul(tf.sub(1, a), fake))) as tf.Tensor2D;
  const lambda = config.gradientPenaltyWeight;
  const loss = () => criticLoss(vars, prefix, hiddenCount, real, fake, a, lambda).loss;
  const lossValue = () => tf.tidy(() => loss().dataSync()[0]);
  const pattern = () => maskPattern(vars, prefix, hiddenCount, [real, fake, interpolated]);

  const names = Object.keys(vars);
  const { grads } = tf.variableGrads(
    loss,
    names.map((n) => vars[n]),
  );
  const analytic = Object.fromEntries(names.map((n) => [n, grads[vars[n].name].dataSync().slice()]));
  tf.dispose(Object.values(grads));

  // the penalty must actually be in play, or this would only test first-order gradients
  const gp = tf.tidy(() => criticLoss(vars, prefix, hiddenCount, real, fake, a, lambda).gradientPenalty.dataSync()[0]);
  assert.ok(gp > 1e-3, `gradient penalty ${gp} too small to test`);

  const basePattern = pattern();
  const baseLoss = lossValue();
  for (const name of names) {
    const v = vars[name];
    const base = v.dataSync().slice();
    let checked = 0;
    // the entries with the largest gradients: a dead unit's zero gradient would check nothing
    const largest = Array.from(analytic[name].keys()).sort((i, j) => Math.abs(analytic[name][j]) - Math.abs(analytic[name][i]));
    for (const index of largest.slice(0, 3)) {
      const shiftTo = (delta: number) =>
        tf.tidy(() => {
          const data = base.slice();
          data[index] += delta;
          v.assign(tf.tensor(data, v.shape));
        });
      const at = (delta: number) => {
        shiftTo(delta);
        const result = { loss: lossValue(), pattern: pattern() };
        shiftTo(0);
        return result;
      };
      for (const eps of [1e-2, 3e-3, 1e-3]) {
        const plus = at(eps);
        const minus = at(-eps);
        if (plus.pattern !== basePattern || minus.pattern !== basePattern) continue;
        const numeric = (plus.loss - minus.loss) / (2 * eps);
        const auto = analytic[name][index];
        // float32 rounding of the loss, amplified by 1/eps, bounds what the difference can resolve
        const resolution = (4 * 1.2e-7 * Math.abs(baseLoss)) / eps;
        const tolerance = 2e-2 * Math.max(Math.abs(numeric), Math.abs(auto)) + resolution;
        assert.ok(Math.abs(numeric - auto) <= tolerance, `${name}[${index}] (eps ${eps}): autograd ${auto} vs finite difference ${numeric}`);
        checked++;
        break;
      }
    }
    assert.ok(checked >= 1, `${name}: every finite difference flipped a ReLU mask`);
  }
  tf.dispose([real, fake, a, interpolated, ...Object.values(vars)]);
}

test('main critic loss gradients (with gradient penalty) match finite differences', async () => {
  await tf.setBackend('cpu');
  const config = tinyConfig();
  checkCriticGradients('critic', config.criticHidden.length, dims(config).criticInput);
});

test('aux critic loss gradients (with gradient penalty) match finite differences', async () => {
  await tf.setBackend('cpu');
  const config = tinyConfig();
  checkCriticGradients('aux', config.auxCriticHidden.length, dims(config).auxInput);
});

/**
 * The penalty's weight gradients as doppelganger.md derives them by hand, in float64: with the ReLU
 * masks frozen, v runs backwards (v_{L-1} = m * w_L, v_{l-1} = m * W_l^T v_l, g = W_1^T v_1), and the
 * weight gradients pair v_{l+1} with u_l, a mask-frozen, bias-free forward pass of dg.
 * Kernels here are K_l = W_l^T ([in, out], row-major), as params.ts stores them.
 */
function penaltyGradientsByHand(kernels: Float64Array[], biases: Float64Array[], widths: number[], x: Float64Array[], lambda: number): Float64Array[] {
  const L = kernels.length; // hidden layers + output
  const B = x.length;
  const grads = kernels.map((k) => new Float64Array(k.length));
  const K = (l: number, i: number, o: number) => kernels[l][i * widths[l + 1] + o]; // layer l maps widths[l] -> widths[l+1]
  for (const h0 of x) {
    // forward, keeping masks m_l of the hidden layers (biases enter the masks only)
    const masks: Float64Array[] = [];
    let h = h0;
    for (let l = 0; l < L - 1; l++) {
      const z = new Float64Array(widths[l + 1]);
      for (let o = 0; o < z.length; o++) {
        let s = biases[l][o];
        for (let i = 0; i < widths[l]; i++) s += h[i] * K(l, i, o);
        z[o] = s;
      }
      masks.push(z.map((v) => (v > 0 ? 1 : 0)));
      h = z.map((v) => Math.max(v, 0));
    }
    // v_l = dD/dz_l, from the top
    const v: Float64Array[] = new Array(L - 1);
    v[L - 2] = new Float64Array(widths[L - 1]).map((_, i) => masks[L - 2][i] * K(L - 1, i, 0));
    for (let l = L - 2; l > 0; l--) {
      v[l - 1] = new Float64Array(widths[l]).map((_, i) => {
        let s = 0;
        for (let o = 0; o < widths[l + 1]; o++) s += K(l, i, o) * v[l][o];
        return masks[l - 1][i] * s;
      });
    }
    const g = new Float64Array(widths[0]).map((_, i) => {
      let s = 0;
      for (let o = 0; o < widths[1]; o++) s += K(0, i, o) * v[0][o];
      return s;
    });
    const norm = Math.sqrt(g.reduce((s, e) => s + e * e, 0));
    const dg = g.map((e) => (((2 * lambda * (norm - 1)) / norm) * e) / B); // mean over the batch
    // u_0 = dg; dK_l[i, o] += u_{l}[i] v_{l}[o] (v of layer l+1's output); u_{l+1} = m * (u_l K_l)
    let u = dg;
    for (let l = 0; l < L; l++) {
      const outGrad = l < L - 1 ? v[l] : new Float64Array([1]);
      for (let i = 0; i < widths[l]; i++) for (let o = 0; o < widths[l + 1]; o++) grads[l][i * widths[l + 1] + o] += u[i] * outGrad[o];
      if (l < L - 1) {
        const next = new Float64Array(widths[l + 1]);
        for (let o = 0; o < next.length; o++) {
          let s = 0;
          for (let i = 0; i < widths[l]; i++) s += u[i] * K(l, i, o);
          next[o] = masks[l][o] * s;
        }
        u = next;
      }
    }
  }
  return grads;
}

test('gradient-penalty weight gradients equal the by-hand derivation (float64)', async () => {
  await tf.setBackend('cpu');
  const layout: EncodedLayout = { maxLength: 2, attributes: [continuous('a')], additionalAttributes: [], features: [continuous('f')], genFlags: false };
  const config = modelConfig(layout, { sampleLen: 1, criticHidden: [5, 4], auxCriticHidden: [] });
  const widths = [dims(config).criticInput, 5, 4, 1];
  const vars = criticVariables(config, 'critic', 5);
  // non-zero biases, so the masks differ from what the kernels alone would give
  const rng = new Rng(4, 0);
  for (const l of [0, 1]) vars[`critic.dense${l}.bias`].assign(tf.tensor1d(uniformMatrix(rng, 1, widths[l + 1], -0.3, 0.3)));
  const B = 4;
  const x = uniformMatrix(rng, B, widths[0], -1, 1);
  const lambda = 10;
  const xTensor = tf.tensor2d(x, [B, widths[0]]);
  const ones = tf.ones([B, 1]) as tf.Tensor2D;
  const names = ['critic.dense0', 'critic.dense1', 'critic.out'];
  // a = 1 puts x_hat at the "real" input: the penalty alone, at x
  const { grads } = tf.variableGrads(
    () => tf.mul(lambda, criticLoss(vars, 'critic', 2, xTensor, xTensor, ones, lambda).gradientPenalty) as tf.Scalar,
    names.flatMap((n) => [vars[`${n}.kernel`], vars[`${n}.bias`]]),
  );
  const kernels = names.map((n) => Float64Array.from(vars[`${n}.kernel`].dataSync()));
  const biases = names.map((n) => Float64Array.from(vars[`${n}.bias`].dataSync()));
  const rows = Array.from({ length: B }, (_, b) => Float64Array.from(x.subarray(b * widths[0], (b + 1) * widths[0])));
  const byHand = penaltyGradientsByHand(kernels, biases, widths, rows, lambda);
  names.forEach((n, l) => {
    const auto = grads[vars[`${n}.kernel`].name].dataSync();
    const scale = Math.max(...byHand[l].map(Math.abs));
    assert.ok(scale > 1e-3, `${n}: penalty gradient too small to compare`);
    byHand[l].forEach((h, i) => assert.ok(Math.abs(auto[i] - h) <= 1e-4 * scale, `${n}.kernel[${i}]: autograd ${auto[i]} vs by hand ${h}`));
    // biases get nothing from the penalty: exact zeros through the masks (hidden layers), no path at all (output)
    const biasGradient = grads[vars[`${n}.bias`].name];
    if (l < names.length - 1)
      assert.ok(
        biasGradient.dataSync().every((value) => value === 0),
        `${n}.bias gets a penalty gradient`,
      );
    else assert.equal(biasGradient, undefined);
  });
  tf.dispose([xTensor, ones, ...Object.values(grads), ...Object.values(vars)]);
});

/**
 * The generator's gradients against central differences. Finite differences see every path from a
 * weight to L_G, autograd only the ones the README keeps: the min/max and feature generators take the
 * attributes (and additional attributes) through stopgrad. So the differences are of L_G with those
 * inputs frozen at their current values, which is the function autograd differentiates.
 */
test('generator loss gradients (batch norm, LSTM, heads, stopgrad, both critics) match finite differences', async () => {
  await tf.setBackend('cpu');
  // no gen flags here: the mask is a constant for autograd but a step function for finite differences
  const config = tinyConfig({}, tinyLayout(false));
  const shape = modelShape(config);
  const vars: Record<string, tf.Variable> = {};
  for (const p of initialParameters(config, 13)) vars[p.name] = tf.variable(tf.tensor(p.data, p.shape));
  const noise = drawGeneratorNoise(new Rng(13, 2), shape, 6);
  const batchNorm = { kind: 'batch' as const };
  const names = parameterSpecs(config)
    .filter((s) => s.network === 'generator')
    .map((s) => s.name);
  const { value, grads } = tf.variableGrads(
    () => generatorLoss(vars, shape, generatorForward(vars, shape, { noise, batchNorm })),
    names.map((n) => vars[n]),
  );
  const baseLoss = value.dataSync()[0];

  const frozen = tf.tidy(() => {
    const out = generatorForward(vars, shape, { noise, batchNorm });
    return { attributes: out.attributes, additional: out.additional! };
  });
  const frozenLoss = () =>
    tf.tidy(() => {
      const attributes = attributeGenerator(vars, shape, noise, batchNorm);
      const additional = minMaxGenerator(vars, shape, noise, frozen.attributes, batchNorm);
      const { features } = featureGenerator(vars, shape, noise, frozen.attributes, frozen.additional);
      return generatorLoss(vars, shape, { attributes, additional, features, mask: null }).dataSync()[0];
    });
  assert.ok(Math.abs(frozenLoss() - baseLoss) <= 1e-6 * Math.abs(baseLoss), 'the frozen composition is the same function at this point');

  for (const name of names) {
    const v = vars[name];
    const auto = grads[v.name].dataSync();
    const base = v.dataSync().slice();
    const largest = Array.from(auto.keys()).sort((i, j) => Math.abs(auto[j]) - Math.abs(auto[i]));
    for (const index of largest.slice(0, 2)) {
      const at = (delta: number) => {
        const data = base.slice();
        data[index] += delta;
        tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
        const result = frozenLoss();
        tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
        return result;
      };
      const eps = 1e-3;
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      const resolution = (4 * 1.2e-7 * Math.abs(baseLoss)) / eps;
      const tolerance = 2e-2 * Math.max(Math.abs(numeric), Math.abs(auto[index])) + resolution;
      assert.ok(Math.abs(numeric - auto[index]) <= tolerance, `${name}[${index}]: autograd ${auto[index]} vs finite difference ${numeric}`);
    }
  }
  tf.dispose([value, frozen.attributes, frozen.additional, ...Object.values(grads), ...Object.values(vars)]);
});

test("the LSTM op's hand-written backward pass equals autograd of the README's plain formulation", async () => {
  await tf.setBackend('cpu');
  const [B, H, nz, nc, steps, SF] = [3, 4, 2, 3, 5, 3];
  const rng = new Rng(31, 0);
  const random = (shape: number[], scale = 1) =>
    tf.tensor(
      uniformMatrix(
        rng,
        1,
        shape.reduce((a, b) => a * b, 1),
        -scale,
        scale,
      ),
      shape,
    );
  const conditioning = random([B, nc]) as tf.Tensor2D;
  const noise = Array.from({ length: steps }, () => random([B, nz]) as tf.Tensor2D);
  const kernel = tf.variable(random([nc + nz + H, 4 * H], 0.8));
  const bias = tf.variable(random([4 * H], 0.5));
  const outKernel = tf.variable(random([H, SF], 0.8));
  const weightsOfOutput = random([B, steps * SF]); // a fixed linear read-out, so every output gets its own gradient

  // as README.md writes it: x_j = [conditioning, z_j], gates = [x_j, h] K + b, blocks i, f, g, o
  const plain = () => {
    let h: tf.Tensor2D = tf.zeros([B, H]);
    let c: tf.Tensor2D = tf.zeros([B, H]);
    const ys: tf.Tensor2D[] = [];
    for (let j = 0; j < steps; j++) {
      const gates = tf.add(tf.matMul(tf.concat([conditioning, noise[j], h], 1), kernel), bias) as tf.Tensor2D;
      const block = (k: number) => tf.slice(gates, [0, k * H], [B, H]);
      c = tf.add(tf.mul(tf.sigmoid(block(1)), c), tf.mul(tf.sigmoid(block(0)), tf.tanh(block(2))));
      h = tf.mul(tf.sigmoid(block(3)), tf.tanh(c));
      ys.push(tf.matMul(h, outKernel));
    }
    return tf.concat(ys, 1);
  };
  const viaOp = () => {
    const scale = gateScale(H);
    const constantGates = tf.mul(tf.add(tf.matMul(conditioning, tf.slice(kernel, [0, 0], [nc, 4 * H])), bias), scale) as tf.Tensor2D;
    const stepKernel = tf.mul(tf.slice(kernel, [nc, 0], [nz + H, 4 * H]), scale) as tf.Tensor2D;
    return lstmSequence(constantGates, stepKernel, outKernel as tf.Tensor2D, noise);
  };
  const gradients = (f: () => tf.Tensor) => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(), weightsOfOutput)) as tf.Scalar, [kernel, bias, outKernel]);
    const out = { value: value.dataSync()[0], grads: [kernel, bias, outKernel].map((v) => grads[v.name].dataSync().slice()) };
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  const expected = gradients(plain);
  const actual = gradients(viaOp);
  assert.ok(Math.abs(actual.value - expected.value) <= 1e-5 * Math.max(1, Math.abs(expected.value)));
  ['kernel', 'bias', 'outKernel'].forEach((name, k) => {
    const scale = Math.max(...expected.grads[k].map(Math.abs));
    assert.ok(scale > 1e-2, `${name}: gradient too small to compare`);
    expected.grads[k].forEach((e, i) => assert.ok(Math.abs(actual.grads[k][i] - e) <= 1e-5 * scale, `${name}[${i}]: op ${actual.grads[k][i]} vs autograd ${e}`));
  });
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    viaOp(); // outside any gradient scope the op keeps nothing
  });
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([conditioning, ...noise, kernel, bias, outKernel, weightsOfOutput]);
});

test('critic() mixes nothing across examples: per-example gradients come from grad of the sum', async () => {
  await tf.setBackend('cpu');
  const config = tinyConfig();
  const vars = criticVariables(config, 'critic', 9);
  const width = dims(config).criticInput;
  const rng = new Rng(2, 0);
  const x = tf.tensor2d(uniformMatrix(rng, 3, width, 0, 1), [3, width]);
  const together = tf
    .grad((input: tf.Tensor) => tf.sum(critic(vars, 'critic', 2, input as tf.Tensor2D)))(x)
    .arraySync() as number[][];
  for (let b = 0; b < 3; b++) {
    const alone = tf
      .grad((input: tf.Tensor) => tf.sum(critic(vars, 'critic', 2, input as tf.Tensor2D)))(tf.slice(x, [b, 0], [1, width]))
      .arraySync() as number[][];
    assert.deepEqual(alone[0], together[b]);
  }
  tf.dispose([x, ...Object.values(vars)]);
});

// ---------------------------------------------------------------------------------------------
// Engine behaviour (default wasm backend)

function assertStatesEqual(a: EngineState, b: EngineState): void {
  assert.deepEqual(a.counters, b.counters);
  assert.equal(a.tensors.length, b.tensors.length);
  a.tensors.forEach((t, i) => {
    assert.equal(t.name, b.tensors[i].name);
    assert.deepEqual(t.shape, b.tensors[i].shape);
    assert.ok(
      t.data.every((v, k) => Object.is(v, b.tensors[i].data[k])),
      `${t.name} differs`,
    );
  });
}

test('the same seed and batches give identical losses and weights; another seed does not', async () => {
  const config = tinyConfig();
  const batches = Array.from({ length: 3 }, (_, i) => randomBatch(config, 6, new Rng(100 + i, 0)));
  const run = async (seed: number) => {
    const engine = await createReferenceEngine({ config, seed });
    const losses = [];
    for (const batch of batches) losses.push(await engine.trainStep([batch]));
    const state = await engine.getState();
    engine.dispose();
    return { losses, state };
  };
  const first = await run(7);
  const second = await run(7);
  const other = await run(8);
  assert.deepEqual(first.losses, second.losses);
  assertStatesEqual(first.state, second.state);
  for (const l of first.losses) for (const value of Object.values(l)) assert.ok(Number.isFinite(value));
  assert.notDeepEqual(first.losses, other.losses);
  const critic0 = (s: EngineState) => s.tensors.find((t) => t.name === 'critic.dense0.kernel')!.data;
  assert.notDeepEqual(critic0(first.state), critic0(other.state));
  // state layout: parameters, buffers, then Adam slots in parameter order; counters
  const names = first.state.tensors.map((t) => t.name);
  const params = parameterSpecs(config).map((s) => s.name);
  assert.deepEqual(names.slice(0, params.length), params);
  assert.deepEqual(names.slice(-2), [`${params[params.length - 1]}.adam.m`, `${params[params.length - 1]}.adam.v`]);
  assert.deepEqual({ g: first.state.counters.generatorStep, c: first.state.counters.criticStep, a: first.state.counters.auxCriticStep }, { g: 3, c: 3, a: 3 });
  assert.ok(first.state.counters.noisePosition > 0);
});

test('getState / setState round trip: resumed training is bit-identical to uninterrupted training', async () => {
  const config = tinyConfig({ criticSteps: 2 });
  const { resumed, final } = await assertResumeIsExact(() => createReferenceEngine({ config, seed: 3 }), config);

  // a checkpoint that does not fit is refused, and leaves the engine untouched
  const saved = await resumed.getState();
  const broken = { ...saved, tensors: saved.tensors.filter((t) => t.name !== 'critic.out.bias') };
  await assert.rejects(resumed.setState(broken), /critic\.out\.bias/);
  assertStatesEqual(await resumed.getState(), final);
  resumed.dispose();
});

test('generation: shapes, head ranges, gen-flag masking and lengths', async () => {
  const config = tinyConfig();
  const d = dims(config);
  const engine = await createReferenceEngine({ config, seed: 21 });
  for (let i = 0; i < 3; i++) await engine.trainStep([randomBatch(config, 8, new Rng(300 + i, 0))]);
  const n = 1203; // more than one generation chunk
  const g = await engine.generate(n);
  assert.equal(g.size, n);
  assert.equal(g.attributes.length, n * d.attribute);
  assert.equal(g.additionalAttributes.length, n * d.additional);
  assert.equal(g.features.length, n * d.T * d.feature);
  assert.equal(g.lengths.length, n);
  const close = (x: number, y: number) => Math.abs(x - y) < 1e-5;
  let ended = 0;
  for (let b = 0; b < n; b++) {
    const attr = g.attributes.subarray(b * d.attribute, (b + 1) * d.attribute);
    assert.ok(close(attr[0] + attr[1] + attr[2], 1), 'categorical attribute is a softmax');
    assert.ok(attr.every((v) => v >= 0 && v <= 1));
    for (const v of g.additionalAttributes.subarray(b * d.additional, (b + 1) * d.additional)) assert.ok(v >= 0 && v <= 1);
    const length = g.lengths[b];
    assert.ok(length >= 1 && length <= d.T);
    if (length < d.T) ended++;
    for (let t = 0; t < d.T; t++) {
      const [x, y, continues, ends] = g.features.subarray((b * d.T + t) * d.feature, (b * d.T + t + 1) * d.feature);
      if (t >= length) {
        for (const v of [x, y, continues, ends]) assert.ok(Object.is(v, 0), `series ${b} step ${t} after its end is ${v}, not 0`);
        continue;
      }
      assert.ok(x >= 0 && x <= 1, 'sigmoid feature in [0,1]');
      assert.ok(y >= -1 && y <= 1, 'tanh feature in [-1,1]');
      assert.ok(close(continues + ends, 1), 'gen flags are a softmax');
      // the length is the first step whose flag says "ends"
      if (t < length - 1) assert.ok(!(ends > continues), `series ${b} ends at ${t} but has length ${length}`);
      if (t === length - 1 && length < d.T) assert.ok(ends > continues);
    }
  }
  assert.ok(ended > 0, 'some series end early');
  assert.ok(new Set(g.lengths).size > 2, 'lengths vary');

  // without gen flags every series has length T
  const plain = await createReferenceEngine({ config: tinyConfig({}, tinyLayout(false)), seed: 21 });
  const p = await plain.generate(10);
  assert.deepEqual([...p.lengths], new Array(10).fill(8));
  plain.dispose();
  engine.dispose();
});

test('conditional generation returns the given attributes exactly and uses them', async () => {
  const config = tinyConfig();
  const engine = await createReferenceEngine({ config, seed: 5 });
  for (let i = 0; i < 2; i++) await engine.trainStep([randomBatch(config, 8, new Rng(400 + i, 0))]);
  const given = randomBatch(config, 20, new Rng(9, 0));
  const onlyAttributes = await engine.generate(20, { givenAttributes: given.attributes });
  assert.deepEqual(onlyAttributes.attributes, given.attributes);
  assert.ok(onlyAttributes.additionalAttributes.every((v) => v >= 0 && v <= 1));
  const both = await engine.generate(20, { givenAttributes: given.attributes, givenAdditionalAttributes: given.additionalAttributes });
  assert.deepEqual(both.attributes, given.attributes);
  assert.deepEqual(both.additionalAttributes, given.additionalAttributes);
  // the features depend on the conditioning: the same noise under other attributes gives other series
  const state = await engine.getState();
  const other = randomBatch(config, 20, new Rng(10, 0));
  const a = await engine.generate(20, { givenAttributes: given.attributes, givenAdditionalAttributes: given.additionalAttributes });
  await engine.setState(state);
  const b = await engine.generate(20, { givenAttributes: other.attributes, givenAdditionalAttributes: other.additionalAttributes });
  assert.notDeepEqual(a.features, b.features);
  await assert.rejects(engine.generate(3, { givenAttributes: new Float32Array(2) }), /givenAttributes/);
  assert.equal((await engine.criticScores(given)).length, 20);
  engine.dispose();
});

test('no tensors leak: steady count while training, back to the start after dispose', async () => {
  const config = tinyConfig();
  const before = tf.memory().numTensors;
  const engine = await createReferenceEngine({ config, seed: 1 });
  const created = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) await engine.trainStep([randomBatch(config, 6, new Rng(i, 0))]);
  await engine.generate(5);
  await engine.criticScores(randomBatch(config, 3, new Rng(1, 0)));
  await engine.setState(await engine.getState());
  assert.equal(tf.memory().numTensors, created);
  await assert.rejects(engine.trainStep([]), /1 real batch/);
  assert.equal(tf.memory().numTensors, created);
  engine.dispose();
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(engine.generate(1), /disposed/);
});

test('a few hundred steps learn a trivial dataset (constant series at a category-dependent level)', async () => {
  const layout: EncodedLayout = { maxLength: 8, attributes: [categorical('level', 3)], additionalAttributes: [], features: [continuous('v')], genFlags: false };
  const config = modelConfig(layout, {
    sampleLen: 4,
    attributeHidden: [32, 32],
    lstmUnits: 32,
    criticHidden: [64, 64],
    auxCriticHidden: [32, 32],
    generatorLearningRate: 2e-3,
    criticLearningRate: 2e-3,
    auxCriticLearningRate: 2e-3,
  });
  const levels = [0.15, 0.5, 0.85];
  const frequencies = [0.5, 0.3, 0.2];
  const rng = new Rng(77, 0);
  const batchOf = (size: number): RealBatch => {
    const attributes = new Float32Array(size * 3);
    const features = new Float32Array(size * 8);
    for (let b = 0; b < size; b++) {
      const u = rng.uniform();
      const category = u < frequencies[0] ? 0 : u < frequencies[0] + frequencies[1] ? 1 : 2;
      attributes[b * 3 + category] = 1;
      features.fill(levels[category], b * 8, (b + 1) * 8);
    }
    return { size, attributes, additionalAttributes: new Float32Array(0), features };
  };
  /** Category frequencies (by argmax), each category's mean level, and the mean within-series spread. */
  const distance = async (engine: Engine) => {
    const g = await engine.generate(500);
    const count = [0, 0, 0];
    const levelSum = [0, 0, 0];
    let spread = 0;
    for (let b = 0; b < g.size; b++) {
      const attr = g.attributes.subarray(b * 3, b * 3 + 3);
      const category = attr.indexOf(Math.max(...attr));
      const series = g.features.subarray(b * 8, b * 8 + 8);
      const mean = series.reduce((s, v) => s + v, 0) / 8;
      count[category]++;
      levelSum[category] += mean;
      spread += Math.max(...series) - Math.min(...series);
    }
    let d = spread / g.size;
    for (let k = 0; k < 3; k++) {
      d += Math.abs(count[k] / g.size - frequencies[k]);
      d += Math.abs((count[k] ? levelSum[k] / count[k] : 0.5) - levels[k]);
    }
    return d;
  };
  const engine = await createReferenceEngine({ config, seed: 1 });
  const before = await distance(engine);
  for (let i = 0; i < 300; i++) await engine.trainStep([batchOf(100)]);
  const after = await distance(engine);
  engine.dispose();
  assert.ok(after < 0.5 * before && after < 0.45, `distance to the real statistics went from ${before.toFixed(3)} to ${after.toFixed(3)}`);
});

test('modelConfig refuses settings no engine can build or train, naming the setting and the range', () => {
  const layout = tinyLayout();
  const refused: Array<[Partial<Omit<ModelConfig, 'layout'>>, RegExp]> = [
    [{ lstmUnits: 0 }, /lstmUnits must be a positive integer, got 0/],
    [{ featureNoiseDim: 2.5 }, /featureNoiseDim must be a positive integer/],
    [{ criticHidden: [200, 0] }, /criticHidden must be a list of positive integer layer widths \(empty for none\), got \[200, 0\]/],
    [{ criticSteps: 17 }, /criticSteps must be an integer from 1 to 16, got 17/],
    [{ generatorLearningRate: -1e-3 }, /generatorLearningRate must be a positive number/],
    [{ gradientPenaltyWeight: Number.NaN }, /gradientPenaltyWeight must be a number >= 0, got NaN/],
    [{ adamBeta2: 1 }, /adamBeta2 must be a number in \[0, 1\)/],
    [{ batchNormMomentum: 1.5 }, /batchNormMomentum must be a number in \[0, 1\]/],
  ];
  for (const [overrides, message] of refused) assert.throws(() => modelConfig(layout, { sampleLen: 2, ...overrides }), message);
  // Edges that are valid: no hidden layers, no aux critic, no gradient penalty, 16 critic steps.
  const edges = modelConfig(layout, { sampleLen: 2, criticHidden: [], auxCriticHidden: [], gradientPenaltyWeight: 0, criticSteps: 16, adamBeta1: 0 });
  assert.equal(edges.criticSteps, 16);
});
