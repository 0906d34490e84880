/**
 * The model's view of a dataset: fixed-width float32 arrays, plus what is needed to invert them exactly.
 */

/** Output activation of one encoded variable; it also fixes the variable's range ([0,1] or [-1,1]). */
export type Activation = 'softmax' | 'sigmoid' | 'tanh';

/** One variable of the encoded attribute or feature vector: a contiguous slice of `dim` floats. */
export interface EncodedVariable {
  name: string;
  /** continuous: dim 1, sigmoid or tanh. categorical (and gen flags): one-hot, softmax. */
  kind: 'continuous' | 'categorical';
  dim: number;
  activation: Activation;
}

/** The widths and activations the model is built from. */
export interface EncodedLayout {
  /** T: time steps per series after padding (a multiple of sampleLen). */
  maxLength: number;
  attributes: EncodedVariable[];
  /** Auto-normalization's per-series (max+min)/2 and (max-min)/2 per continuous feature; empty when off. */
  additionalAttributes: EncodedVariable[];
  /** Feature variables; the last one is the gen flag pair when `genFlags` is true. */
  features: EncodedVariable[];
  genFlags: boolean;
}

export interface EncodedDataset {
  layout: EncodedLayout;
  /** Number of series. */
  n: number;
  /** [n, attributeDim] row-major. */
  attributes: Float32Array;
  /** [n, additionalDim] row-major. */
  additionalAttributes: Float32Array;
  /** [n, T, featureDim] row-major, zero after each series' end. */
  features: Float32Array;
  /** Real length of each series (<= T). */
  lengths: Int32Array;
  /** Series ids, carried so export can name them. */
  ids: string[];
}

export const widthOf = (vars: EncodedVariable[]): number => vars.reduce((s, v) => s + v.dim, 0);
