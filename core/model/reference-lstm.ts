/**
 * The feature generator's recurrence over all T/S steps as one differentiable TF.js op with a
 * hand-written backward pass (backpropagation through time).
 *
 * Why not plain autograd: TF.js records every small op of every step on its tape, clones the tensors each
 * op saves, and runs ~60 kernels per step backwards; at T/S = 55 steps that bookkeeping, not arithmetic,
 * dominated an iteration. Here the backward pass is ~20 kernels per step and the kernel gradient is one
 * large product over all steps. tests/model.test.ts checks it against autograd of the plain formulation.
 *
 * Gate pre-activations come in pre-scaled: the g block's columns are doubled, so that one sigmoid gives
 * i, f, o and g = 2 sigmoid(2u) - 1 = tanh(u) at once.
 */
import * as tf from '@tensorflow/tfjs-core';
import { tanh } from './reference-ops.ts';

/** Column scale of the gate pre-activations [i, f, g, o]: 1, 1, 2, 1 (see above). */
export function gateScale(units: number): tf.Tensor1D {
  return tf.concat([tf.ones([2 * units]), tf.fill([units], 2), tf.ones([units])]) as tf.Tensor1D;
}

/**
 * Runs the LSTM (c_0 = h_0 = 0) and its per-step output layer without bias:
 *   u_j = [z_j, h_{j-1}] K + G;  s = sigmoid(u_j);  i, f, o = blocks of s;  g = 2 s_g - 1;
 *   c_j = f c_{j-1} + i g;  h_j = o tanh(c_j);  y_j = h_j W.
 * Inputs: G [B, 4H] the step-invariant part of u (conditioning rows times the kernel, plus bias), K
 * [nz + H, 4H] the rows of the kernel for [z_j, h_{j-1}], W [H, S*F], all with the g block pre-scaled;
 * `noise` holds z_j [B, nz] per step (constants). Returns [B, steps * S*F], step j in columns
 * [j*S*F, (j+1)*S*F).
 */
export function lstmSequence(G: tf.Tensor2D, K: tf.Tensor2D, W: tf.Tensor2D, noise: tf.Tensor2D[]): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [constantGates, kernel, outKernel, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const [B, fourH] = constantGates.shape;
    const H = fourH / 4;
    const steps = noise.length;

    // per step, what the backward pass needs: x_j = [z_j, h_{j-1}], s_j (all gates' sigmoids), i, f, g, o, c_j, tanh(c_j), h_j
    const saved: tf.Tensor[] = [];
    let h: tf.Tensor2D = tf.zeros([B, H]);
    let c: tf.Tensor2D = tf.zeros([B, H]);
    const outputs: tf.Tensor2D[] = [];
    for (let j = 0; j < steps; j++) {
      const x = tf.concat([noise[j], h], 1);
      const s = tf.sigmoid(tf.add(tf.matMul(x, kernel), constantGates));
      const i = tf.slice(s, [0, 0], [B, H]);
      const f = tf.slice(s, [0, H], [B, H]);
      const g = tf.sub(tf.mul(tf.slice(s, [0, 2 * H], [B, H]), 2), 1);
      const o = tf.slice(s, [0, 3 * H], [B, H]);
      c = tf.add(tf.mul(f, c), tf.mul(i, g));
      const tanhC = tanh(c);
      h = tf.mul(o, tanhC);
      outputs.push(tf.matMul(h, outKernel));
      saved.push(x, s, i, f, g, o, c, tanhC, h);
    }
    // the inputs too: intermediates of the caller's forward pass are gone by the time gradients run
    save([...saved, kernel, outKernel]);
    const value = tf.concat(outputs, 1);

    const gradFunc = (dy: tf.Tensor, kept: tf.Tensor[]) => {
      const [kernel, outKernel] = kept.slice(9 * steps) as tf.Tensor2D[];
      const at = (j: number) => {
        const [x, s, i, f, g, o, c, tanhC, h] = kept.slice(9 * j, 9 * j + 9) as tf.Tensor2D[];
        return { x, s, i, f, g, o, c, tanhC, h };
      };
      const SF = outKernel.shape[1];
      const outKernelT = tf.transpose(outKernel);
      const recurrentT = tf.transpose(tf.slice(kernel, [kernel.shape[0] - H, 0], [H, fourH])); // [4H, H]
      const scale = gateScale(H);
      const zeros = tf.zeros([B, H]) as tf.Tensor2D;
      let dhNext = zeros;
      let dcNext = zeros;
      const dPre: tf.Tensor2D[] = new Array(steps);
      const dOut: tf.Tensor2D[] = new Array(steps);
      for (let j = steps - 1; j >= 0; j--) {
        const { s, i, f, g, o, tanhC } = at(j);
        const cPrev = j > 0 ? at(j - 1).c : zeros;
        dOut[j] = tf.slice(dy as tf.Tensor2D, [0, j * SF], [B, SF]);
        const dh = tf.add(dhNext, tf.matMul(dOut[j], outKernelT));
        const dc = tf.add(dcNext, tf.mul(tf.mul(dh, o), tf.sub(1, tf.square(tanhC))));
        // d/d(i, f, g, o), then through s = sigmoid(u): ds/du = s(1-s), and g = 2 s_g - 1 adds a factor 2
        const dGates = tf.concat([tf.mul(dc, g), tf.mul(dc, cPrev), tf.mul(dc, i), tf.mul(dh, tanhC)], 1);
        dPre[j] = tf.mul(dGates, tf.mul(tf.mul(s, tf.sub(1, s)), scale));
        dhNext = tf.matMul(dPre[j], recurrentT);
        dcNext = tf.mul(dc, f);
      }
      const allPre = tf.concat(dPre, 0); // [steps*B, 4H]
      const allX = tf.concat(
        Array.from({ length: steps }, (_, j) => at(j).x),
        0,
      );
      const allH = tf.concat(
        Array.from({ length: steps }, (_, j) => at(j).h),
        0,
      );
      const dConstantGates = tf.sum(tf.reshape(allPre, [steps, B, fourH]), 0);
      const dKernel = tf.matMul(tf.transpose(allX), allPre);
      const dOutKernel = tf.matMul(tf.transpose(allH), tf.concat(dOut, 0));
      return [dConstantGates, dKernel, dOutKernel];
    };
    return { value, gradFunc };
  });
  return op(G, K, W) as tf.Tensor2D;
}
