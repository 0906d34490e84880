/**
 * The contract every engine (TF.js reference, native CPU, CUDA) implements. The training loop, data
 * pipeline and privacy code only ever talk to this.
 */
import type { ModelConfig } from './config.ts';

/** A named float32 tensor, row-major. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** One batch of real, encoded series. */
export interface RealBatch {
  size: number;
  /** [size, attributeDim] */
  attributes: Float32Array;
  /** [size, additionalDim] */
  additionalAttributes: Float32Array;
  /** [size, T, featureDim] */
  features: Float32Array;
  /**
   * The series' row numbers in the training set, [size]. DP-SGD on Poisson-sampled batches
   * (`DpOptions.expectedBatch`) needs them: each series' fake partner and interpolation weights are
   * keyed by its row, so its clipped gradient does not depend on which other series were sampled.
   * Other training ignores them.
   */
  rows?: Int32Array;
}

export interface StepLosses {
  /** Main critic loss including its gradient penalty. */
  critic: number;
  /** Auxiliary critic loss including its gradient penalty (0 without an auxiliary critic). */
  auxCritic: number;
  /** Gradient penalty terms alone, for monitoring. */
  gradientPenalty: number;
  auxGradientPenalty: number;
  /** Generator loss. */
  generator: number;
  /** E[D(real)] - E[D(fake)]: the Wasserstein estimate. */
  wassersteinDistance: number;
  /** Clipping statistics of the last critic step, when DP-SGD is on. */
  dp?: DpClipStats;
}

/**
 * DP-SGD on both critics (main and auxiliary): per critic step, each example's gradient of its own
 * loss term is clipped to L2 norm <= clipNorm over all of that critic's parameters, the clipped
 * gradients are summed, N(0, (noiseMultiplier * clipNorm)^2) is added to each coordinate, and the
 * result divided by the batch size is what Adam uses. The noise comes from the OS's cryptographically
 * secure randomness, not the seed, so a run with noiseMultiplier > 0 is not bit-reproducible
 * (everything else stays seeded). clipNorm = Infinity turns DP off (noiseMultiplier must then be 0).
 */
export interface DpOptions {
  clipNorm: number;
  noiseMultiplier: number;
  /**
   * For Poisson-sampled batches (a different size every iteration): the expected batch size E, which
   * then divides the clipped, noised sums and sets every critic and generator step's fake batch (E
   * series), so nothing the model keeps depends on how many or which series were sampled except
   * through the noised sums (core/native/README.md, DP-SGD). Each batch must then carry its `rows`.
   * Absent: fixed-size batches.
   */
  expectedBatch?: number;
}

/** Per-critic clipping statistics of the iteration's last critic step. */
export interface DpClipStats {
  /** Mean over the batch of each example's gradient norm (main critic), before clipping. */
  gradNorm: number;
  /** Share of the batch whose gradient norm exceeded clipNorm (main critic). */
  clippedFraction: number;
  /** The same for the auxiliary critic (0 without one). */
  auxGradNorm: number;
  auxClippedFraction: number;
}

/** Generated, still encoded data (same layout as `RealBatch`, features already masked after each end). */
export interface GeneratedBatch extends RealBatch {
  lengths: Int32Array;
}

export interface GenerateOptions {
  /** Encoded attributes to condition on, [n, attributeDim]; the engine then generates only the rest. */
  givenAttributes?: Float32Array;
  /** Encoded additional attributes to condition on too (only with givenAttributes). */
  givenAdditionalAttributes?: Float32Array;
}

/** Everything that makes training resumable exactly: parameters, optimizer moments, RNG position. */
export interface EngineState {
  /** Parameters then optimizer slots, in a fixed order the engine defines. */
  tensors: NamedTensor[];
  /** Adam step counts per network and the RNG counter. */
  counters: Record<string, number>;
}

/**
 * Series per noise block in `generate`: every engine draws a block's noise together, then the next
 * block's, from the stream's position at the call. Calls of whole blocks therefore generate exactly
 * what one call for all of them would (generation in parts relies on it).
 */
export const GENERATION_BLOCK = 1000;

export interface Engine {
  readonly name: string;
  readonly config: ModelConfig;
  /** One iteration: `criticSteps` critic updates (one batch each) then one generator update. */
  trainStep(realBatches: RealBatch[]): Promise<StepLosses>;
  /**
   * Engines that keep the training set themselves (CUDA: on the GPU) have these two. holdTrainingData
   * takes every training series as one batch (copied now; rejects, holding nothing, when it cannot:
   * too little GPU memory); trainStepOnRows is then trainStep on row numbers of that set, one
   * Int32Array per critic step, so no batch is gathered, copied or uploaded per iteration.
   */
  holdTrainingData?(all: RealBatch): Promise<void>;
  trainStepOnRows?(rows: Int32Array[]): Promise<StepLosses>;
  generate(n: number, options?: GenerateOptions): Promise<GeneratedBatch>;
  /** Main critic output D(x) per example (for the membership-inference review). */
  criticScores(batch: RealBatch): Promise<Float32Array>;
  getState(): Promise<EngineState>;
  setState(state: EngineState): Promise<void>;
  dispose(): void;
}

export interface EngineOptions {
  config: ModelConfig;
  seed: number;
  /** DP-SGD on the critics (native engine only for now; the reference engine refuses it). */
  dp?: DpOptions;
}
