/**
 * TF.js building blocks of the reference engine, with the workarounds TF.js needs to be correct and
 * not needlessly slow. Everything here is differentiable with tf.grad / tf.variableGrads, to second
 * order where a critic needs it.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone has no backend and no gradients: the cpu backend (the wasm one loads when asked for,
// core/model/reference.ts) and tfjs-core's own gradient registrations (bundled at install by scripts/vendor-tfjs-gradients.mjs)
import '@tensorflow/tfjs-backend-cpu';
import './vendor/tfjs-gradients.js';
import type { Activation, EncodedVariable } from '../encoding/types.ts';

/** Parameters (or any named tensors) by their canonical name from params.ts. */
export type Weights = Record<string, tf.Tensor>;

/**
 * a @ b for 2-D a and b. Same value as tf.matMul, registered as its own kernel so that its gradient can
 * differ: the wasm backend's transposed matMul is about 8x slower than its plain one (it skips
 * XNNPACK), and tf.matMul's gradient is made of transposed products. This one's gradient transposes
 * explicitly and multiplies plainly, through this same kernel, so second-order gradients (the critics'
 * gradient penalty) stay fast and exact. Being a kernel (not tf.customGrad), each input's gradient is
 * computed only when something needs it.
 */
const MAT_MUL = 'DoppelGANgerMatMul';

function registerMatMul(): void {
  for (const backendName of ['wasm', 'cpu']) {
    if (tf.getKernel(MAT_MUL, backendName)) continue;
    tf.registerKernel({
      kernelName: MAT_MUL,
      backendName,
      kernelFunc: ({ inputs, backend }) => tf.getKernel(tf.BatchMatMul, backendName)!.kernelFunc({ inputs, backend, attrs: { transposeA: false, transposeB: false } }),
    });
  }
  if (!tf.getGradient(MAT_MUL)) {
    tf.registerGradient({
      kernelName: MAT_MUL,
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as tf.Tensor2D[];
        return {
          a: () => matMul(dy as tf.Tensor2D, tf.transpose(b)),
          b: () => matMul(tf.transpose(a), dy as tf.Tensor2D),
        };
      },
    });
  }
}
registerMatMul();

export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (a.shape[1] !== b.shape[0]) throw new Error(`matMul: inner sizes differ, [${a.shape}] @ [${b.shape}]`);
  return tf.engine().runKernel(MAT_MUL, { a, b } as unknown as tf.NamedTensorMap) as tf.Tensor2D;
}

/** x K + b. */
export function dense(x: tf.Tensor2D, kernel: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  return tf.add(matMul(x, kernel as tf.Tensor2D), bias);
}

/**
 * tanh(x) as 2 sigmoid(2x) - 1: the wasm backend's tanh kernel is about 15x slower than its sigmoid,
 * and the LSTM calls it at every step. Same function (absolute error ~1e-7 in float32).
 */
export function tanh<T extends tf.Tensor>(x: T): T {
  return tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1);
}

/**
 * fn(x) treated as a constant: its value is computed without recording, and no gradient reaches x
 * through it. TF.js has no stopGradient; this is one, and it also lets fn use ops without gradients
 * (comparisons, casts).
 */
export function withoutGradient(x: tf.Tensor, fn: (x: tf.Tensor) => tf.Tensor = (t) => tf.clone(t)): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return { value: fn(input), gradFunc: () => tf.zerosLike(input) };
  });
  return op(x);
}

/** A contiguous slice of the last axis that gets one activation. */
export interface HeadSegment {
  start: number;
  dim: number;
  activation: Activation;
}

/**
 * The output heads of a list of encoded variables: every softmax variable is its own segment (the
 * softmax runs over that variable's dims); neighbouring sigmoid (or tanh) variables share one
 * segment, since those activations are elementwise.
 */
export function headSegments(variables: EncodedVariable[]): HeadSegment[] {
  const segments: HeadSegment[] = [];
  let start = 0;
  for (const v of variables) {
    const last = segments[segments.length - 1];
    if (v.activation !== 'softmax' && last && last.activation === v.activation) last.dim += v.dim;
    else segments.push({ start, dim: v.dim, activation: v.activation });
    start += v.dim;
  }
  return segments;
}

function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  if (activation === 'softmax') return tf.softmax(x);
  if (activation === 'sigmoid') return tf.sigmoid(x);
  return tanh(x);
}

/** Applies each segment's activation to its slice of the last axis of x (rank 2 or 3). */
export function heads<T extends tf.Tensor>(x: T, segments: HeadSegment[]): T {
  if (segments.length === 1) return activate(x, segments[0].activation) as T;
  const rank = x.rank;
  const parts = segments.map((s) => {
    const begin = new Array(rank).fill(0);
    const size = new Array(rank).fill(-1);
    begin[rank - 1] = s.start;
    size[rank - 1] = s.dim;
    return activate(tf.slice(x, begin, size), s.activation);
  });
  return tf.concat(parts, rank - 1) as T;
}

/** Concatenates the non-null parts along the last axis. */
export function concatColumns(parts: (tf.Tensor2D | null)[]): tf.Tensor2D {
  const present = parts.filter((p): p is tf.Tensor2D => p !== null);
  return present.length === 1 ? present[0] : tf.concat(present, 1);
}
