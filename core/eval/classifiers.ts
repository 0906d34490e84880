/**
 * Two small classifiers in plain TypeScript, trained full-batch with Adam (deterministic given the seed):
 * a one-hidden-layer MLP for binary decisions (the discriminative score) and a multinomial logistic
 * regression (TSTR / TRTR). Inputs are dense row-major matrices.
 */

import type { Rng } from '../util/rng.ts';

export interface Matrix {
  rows: number;
  cols: number;
  /** data[i * cols + j]: row i, column j. */
  data: Float64Array;
}

export function matrixFromRows(rows: ReadonlyArray<ArrayLike<number>>, cols = rows[0]?.length ?? 0): Matrix {
  const data = new Float64Array(rows.length * cols);
  rows.forEach((row, i) => {
    if (row.length !== cols) throw new Error(`row ${i} has ${row.length} values, expected ${cols}`);
    data.set(row as ArrayLike<number>, i * cols);
  });
  return { rows: rows.length, cols, data };
}

export function selectRows(matrix: Matrix, indices: ArrayLike<number>): Matrix {
  const data = new Float64Array(indices.length * matrix.cols);
  for (let i = 0; i < indices.length; i++) data.set(matrix.data.subarray(indices[i] * matrix.cols, (indices[i] + 1) * matrix.cols), i * matrix.cols);
  return { rows: indices.length, cols: matrix.cols, data };
}

export interface Standardiser {
  means: Float64Array;
  scales: Float64Array;
}

/** Column means and standard deviations of the training rows (scale 1 for constant columns). */
export function fitStandardiser(matrix: Matrix): Standardiser {
  const means = new Float64Array(matrix.cols);
  const scales = new Float64Array(matrix.cols);
  for (let i = 0; i < matrix.rows; i++) for (let j = 0; j < matrix.cols; j++) means[j] += matrix.data[i * matrix.cols + j];
  for (let j = 0; j < matrix.cols; j++) means[j] /= Math.max(1, matrix.rows);
  for (let i = 0; i < matrix.rows; i++) for (let j = 0; j < matrix.cols; j++) scales[j] += (matrix.data[i * matrix.cols + j] - means[j]) ** 2;
  for (let j = 0; j < matrix.cols; j++) {
    const s = Math.sqrt(scales[j] / Math.max(1, matrix.rows));
    scales[j] = s > 1e-12 ? s : 1;
  }
  return { means, scales };
}

/** Standardised copy; values are clipped to +-10 so one wild synthetic series cannot dominate a fit. */
export function standardise(matrix: Matrix, standardiser: Standardiser): Matrix {
  const data = new Float64Array(matrix.data.length);
  for (let i = 0; i < matrix.rows; i++) {
    for (let j = 0; j < matrix.cols; j++) {
      const z = (matrix.data[i * matrix.cols + j] - standardiser.means[j]) / standardiser.scales[j];
      data[i * matrix.cols + j] = Math.max(-10, Math.min(10, z));
    }
  }
  return { rows: matrix.rows, cols: matrix.cols, data };
}

/** Adam over one flat parameter vector. */
function adam(size: number, learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8) {
  const m = new Float64Array(size);
  const v = new Float64Array(size);
  let step = 0;
  return (params: Float64Array, grads: Float64Array) => {
    step++;
    const c1 = 1 - beta1 ** step;
    const c2 = 1 - beta2 ** step;
    for (let i = 0; i < size; i++) {
      m[i] = beta1 * m[i] + (1 - beta1) * grads[i];
      v[i] = beta2 * v[i] + (1 - beta2) * grads[i] * grads[i];
      params[i] -= (learningRate * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + epsilon);
    }
  };
}

export interface MlpOptions {
  hidden?: number;
  epochs?: number;
  learningRate?: number;
  /** L2 penalty on the weights (not the biases). */
  weightDecay?: number;
}

export interface Mlp {
  inputs: number;
  hidden: number;
  /** Packed: W1 [hidden x inputs] (row j holds hidden unit j's input weights), b1 [hidden], w2 [hidden], b2 [1]. */
  params: Float64Array;
}

/** tanh(X W1^T + b1) into out [rows x hidden]; dot products over contiguous rows keep the hot loop tight. */
function mlpHidden(model: Mlp, x: Matrix, out: Float64Array): void {
  const { inputs: d, hidden: h, params } = model;
  const data = x.data;
  const b1 = d * h;
  for (let i = 0; i < x.rows; i++) {
    const rowStart = i * d;
    for (let j = 0; j < h; j++) {
      const weightStart = j * d;
      let sum = params[b1 + j];
      for (let k = 0; k < d; k++) sum += data[rowStart + k] * params[weightStart + k];
      out[i * h + j] = Math.tanh(sum);
    }
  }
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Probability of class 1 for every row. */
export function mlpPredict(model: Mlp, x: Matrix): Float64Array {
  const h = model.hidden;
  const hiddenValues = new Float64Array(x.rows * h);
  mlpHidden(model, x, hiddenValues);
  const w2 = model.inputs * h + h;
  const out = new Float64Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let z = model.params[w2 + h];
    for (let j = 0; j < h; j++) z += hiddenValues[i * h + j] * model.params[w2 + j];
    out[i] = sigmoid(z);
  }
  return out;
}

/** Trains a tanh MLP with one hidden layer on labels 0/1 by full-batch Adam on the mean cross-entropy. */
export function trainMlp(x: Matrix, labels: ArrayLike<number>, rng: Rng, options: MlpOptions = {}): Mlp {
  const { hidden: h = 16, epochs = 300, learningRate = 0.01, weightDecay = 1e-3 } = options;
  const d = x.cols;
  const n = x.rows;
  const data = x.data;
  const size = d * h + h + h + 1;
  const params = new Float64Array(size);
  const initScale = 1 / Math.sqrt(Math.max(1, d));
  for (let i = 0; i < d * h; i++) params[i] = rng.normal() * initScale;
  const b1 = d * h;
  const w2 = d * h + h;
  for (let j = 0; j < h; j++) params[w2 + j] = rng.normal() / Math.sqrt(h);
  const model: Mlp = { inputs: d, hidden: h, params };
  const grads = new Float64Array(size);
  const hiddenValues = new Float64Array(n * h);
  const hiddenGrads = new Float64Array(n * h);
  const step = adam(size, learningRate);
  for (let epoch = 0; epoch < epochs; epoch++) {
    mlpHidden(model, x, hiddenValues);
    grads.fill(0);
    for (let i = 0; i < n; i++) {
      let z = params[w2 + h];
      for (let j = 0; j < h; j++) z += hiddenValues[i * h + j] * params[w2 + j];
      const dz = (sigmoid(z) - labels[i]) / n;
      grads[w2 + h] += dz;
      for (let j = 0; j < h; j++) {
        const a = hiddenValues[i * h + j];
        grads[w2 + j] += dz * a;
        hiddenGrads[i * h + j] = dz * params[w2 + j] * (1 - a * a);
      }
    }
    for (let i = 0; i < n; i++) {
      const rowStart = i * d;
      for (let j = 0; j < h; j++) {
        const g = hiddenGrads[i * h + j];
        grads[b1 + j] += g;
        const weightStart = j * d;
        for (let k = 0; k < d; k++) grads[weightStart + k] += g * data[rowStart + k];
      }
    }
    for (let i = 0; i < d * h; i++) grads[i] += weightDecay * params[i];
    for (let j = 0; j < h; j++) grads[w2 + j] += weightDecay * params[w2 + j];
    step(params, grads);
  }
  return model;
}

export interface LogisticOptions {
  iterations?: number;
  learningRate?: number;
  weightDecay?: number;
}

export interface Logistic {
  inputs: number;
  classes: number;
  /** Packed: W [inputs x classes], b [classes]. */
  params: Float64Array;
}

function softmaxRows(model: Logistic, x: Matrix, out: Float64Array): void {
  const { inputs: d, classes: k, params } = model;
  for (let i = 0; i < x.rows; i++) {
    const row = i * k;
    for (let c = 0; c < k; c++) out[row + c] = params[d * k + c];
    for (let j = 0; j < d; j++) {
      const value = x.data[i * d + j];
      if (value === 0) continue;
      for (let c = 0; c < k; c++) out[row + c] += value * params[j * k + c];
    }
    let top = -Infinity;
    for (let c = 0; c < k; c++) top = Math.max(top, out[row + c]);
    let sum = 0;
    for (let c = 0; c < k; c++) {
      out[row + c] = Math.exp(out[row + c] - top);
      sum += out[row + c];
    }
    for (let c = 0; c < k; c++) out[row + c] /= sum;
  }
}

/**
 * Multinomial logistic regression on labels 0..classes-1, full-batch Adam from zero weights (the problem
 * is convex, so no random start is needed and the same data always gives the same model).
 */
export function trainLogistic(x: Matrix, labels: ArrayLike<number>, classes: number, options: LogisticOptions = {}): Logistic {
  const { iterations = 400, learningRate = 0.05, weightDecay = 1e-3 } = options;
  const d = x.cols;
  const size = d * classes + classes;
  const params = new Float64Array(size);
  const model: Logistic = { inputs: d, classes, params };
  const grads = new Float64Array(size);
  const probabilities = new Float64Array(x.rows * classes);
  const step = adam(size, learningRate);
  for (let iteration = 0; iteration < iterations; iteration++) {
    softmaxRows(model, x, probabilities);
    grads.fill(0);
    for (let i = 0; i < x.rows; i++) {
      probabilities[i * classes + labels[i]] -= 1;
      for (let c = 0; c < classes; c++) {
        const g = probabilities[i * classes + c] / x.rows;
        grads[d * classes + c] += g;
        probabilities[i * classes + c] = g;
      }
      for (let j = 0; j < d; j++) {
        const value = x.data[i * d + j];
        if (value === 0) continue;
        for (let c = 0; c < classes; c++) grads[j * classes + c] += value * probabilities[i * classes + c];
      }
    }
    for (let i = 0; i < d * classes; i++) grads[i] += weightDecay * params[i];
    step(params, grads);
  }
  return model;
}

/** The most probable class of every row. */
export function logisticPredict(model: Logistic, x: Matrix): Int32Array {
  const probabilities = new Float64Array(x.rows * model.classes);
  softmaxRows(model, x, probabilities);
  const out = new Int32Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let best = 0;
    for (let c = 1; c < model.classes; c++) if (probabilities[i * model.classes + c] > probabilities[i * model.classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

export function accuracy(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < truth.length; i++) if (predicted[i] === truth[i]) correct++;
  return truth.length > 0 ? correct / truth.length : NaN;
}
