/**
 * The training loop: seeded batches, engine steps, progress, cancel, periodic checkpoints. It knows
 * nothing of files or engines' insides: the caller decides what a checkpoint writes.
 */
import type { EncodedDataset } from '../encoding/types.ts';
import { widthOf } from '../encoding/types.ts';
import type { Engine, RealBatch, StepLosses } from '../model/engine.ts';
import { createPoissonSampler, createSeriesPoissonSampler } from './dp-sampling.ts';
import { Rng } from '../util/rng.ts';
import type { TrainingPlan } from './checkpoint.ts';

export interface Progress {
  iteration: number;
  totalIterations: number;
  epoch: number;
  losses: StepLosses;
  examplesPerSecond: number;
  elapsedSeconds: number;
  /** Seconds left at the recent rate (see `EtaClock`); NaN until the first iterations after warm-up are timed. */
  etaSeconds: number;
}

/** Iterations of a session left out of its rate: the first takes the setup (a training set handed to the engine, first allocations) and runs ~3x slower. */
export const WARMUP_ITERATIONS = 3;
/** About how many recent iterations the moving rate follows. */
const RATE_WINDOW = 50;

/**
 * The time an iteration takes, as a moving average that leaves out a session's warm-up: the mean of the
 * iterations since warm-up at first, then an exponential average over about RATE_WINDOW iterations (so a
 * machine that gets busier or freer shows in the ETA). Checkpoints and exposure checks fall in the
 * iterations they follow, so they count at their share.
 */
export class EtaClock {
  private iterations = 0;
  private secondsPerIteration = Number.NaN;
  private measured = 0;

  /** `last`: when the first iteration started (ms, performance.now()'s clock). */
  constructor(private last = performance.now()) {}

  /** Marks the end of an iteration. */
  tick(now = performance.now()): void {
    const seconds = (now - this.last) / 1000;
    this.last = now;
    this.iterations++;
    if (this.iterations <= WARMUP_ITERATIONS) return;
    this.measured++;
    const weight = Math.max(1 / this.measured, 1 / RATE_WINDOW);
    this.secondsPerIteration = this.measured === 1 ? seconds : this.secondsPerIteration + weight * (seconds - this.secondsPerIteration);
  }

  /** Seconds per iteration at the recent rate; NaN during warm-up. */
  get rate(): number {
    return this.secondsPerIteration;
  }

  eta(remainingIterations: number): number {
    return remainingIterations <= 0 ? 0 : remainingIterations * this.secondsPerIteration;
  }
}

export interface LoopOptions {
  engine: Engine;
  data: EncodedDataset;
  plan: TrainingPlan;
  /** Iterations already done (resume). */
  startIteration: number;
  /** Seconds spent before this session (resume), for progress figures. */
  previousSeconds?: number;
  onProgress?: (progress: Progress) => void;
  /** Called every plan.checkpointEvery iterations, on cancel and at the end. */
  onCheckpoint: (iteration: number, status: 'running' | 'cancelled' | 'complete', elapsedSeconds: number) => Promise<void> | void;
  /** Says how batches reach the engine when it is worth knowing (a training set the GPU could not hold). */
  onNotice?: (message: string) => void;
  /**
   * Called after each iteration's step, before its progress report (measurements that need the engine).
   * 'stop' ends the run there as complete (the privacy guard's decision; the caller knows what to keep).
   */
  afterStep?: (iteration: number) => Promise<'stop' | undefined>;
  signal?: AbortSignal;
}

export interface LoopResult {
  iteration: number;
  status: 'complete' | 'cancelled';
  losses?: StepLosses;
  elapsedSeconds: number;
}

/** Stream of the batch order of one epoch: derived from (seed, epoch) so resume needs no sampler state. */
const epochStream = (epoch: number) => 0x10000 + epoch;

export function iterationsPerEpoch(n: number, batchSize: number): number {
  return Math.max(1, Math.floor(n / batchSize));
}

export interface BatchSampler {
  /**
   * The training-set rows of iteration `iteration`'s batch: from the epoch's seeded permutation, or
   * with DP-SGD a fresh Poisson sample of its own size (from secure randomness, see core/privacy/dp.ts).
   */
  rowsAt(iteration: number): Int32Array;
  /** Those rows gathered into a batch, which carries them as its `rows` (DP-SGD keys on them). */
  batchAt(iteration: number): RealBatch;
}

type BatchArrays = Omit<RealBatch, 'size'>;

/** Arrays for batches of up to `rows` series of this dataset. */
function batchArrays(data: EncodedDataset, rows: number): BatchArrays {
  return {
    attributes: new Float32Array(rows * widthOf(data.layout.attributes)),
    additionalAttributes: new Float32Array(rows * widthOf(data.layout.additionalAttributes)),
    features: new Float32Array(rows * data.layout.maxLength * widthOf(data.layout.features)),
  };
}

/** The series `rows` of an encoded dataset as one batch, copied into `into` (large enough) or new arrays. */
export function gatherRows(data: EncodedDataset, rows: ArrayLike<number>, into: BatchArrays = batchArrays(data, rows.length)): RealBatch {
  const aDim = widthOf(data.layout.attributes);
  const mDim = widthOf(data.layout.additionalAttributes);
  const fSize = data.layout.maxLength * widthOf(data.layout.features);
  const size = rows.length;
  for (let b = 0; b < size; b++) {
    const i = rows[b];
    into.attributes.set(data.attributes.subarray(i * aDim, (i + 1) * aDim), b * aDim);
    into.additionalAttributes.set(data.additionalAttributes.subarray(i * mDim, (i + 1) * mDim), b * mDim);
    into.features.set(data.features.subarray(i * fSize, (i + 1) * fSize), b * fSize);
  }
  return {
    size,
    attributes: into.attributes.subarray(0, size * aDim),
    additionalAttributes: into.additionalAttributes.subarray(0, size * mDim),
    features: into.features.subarray(0, size * fSize),
  };
}

/**
 * Each call refills the same rows and batch arrays (engines consume them within a step): at
 * WWT-shaped batch 1024, 6.7 MB allocated and zeroed per iteration cost more than the copy itself.
 */
export function createBatchSampler(data: EncodedDataset, plan: TrainingPlan): BatchSampler {
  const B = plan.batchSize;
  const rows = new Int32Array(B);
  let capacity = B;
  let buffers = batchArrays(data, B);
  let permutationEpoch = -1;
  let permutation: Int32Array = new Int32Array(0);
  const permutedRows = (iteration: number) => {
    const epoch = Math.floor(iteration / plan.iterationsPerEpoch);
    const k = iteration % plan.iterationsPerEpoch;
    if (epoch !== permutationEpoch) {
      permutation = new Rng(plan.seed, epochStream(epoch)).permutation(data.n);
      permutationEpoch = epoch;
    }
    for (let b = 0; b < B; b++) rows[b] = permutation[(k * B + b) % data.n];
    return rows;
  };
  const { dp } = plan;
  const rowsAt = !dp ? permutedRows : dp.seriesUnit ? createSeriesPoissonSampler(dp.seriesUnit, dp.samplingRate) : createPoissonSampler(data.n, dp.samplingRate);
  return {
    rowsAt,
    batchAt(iteration) {
      const picked = rowsAt(iteration);
      if (picked.length > capacity) {
        capacity = Math.ceil(picked.length * 1.25);
        buffers = batchArrays(data, capacity);
      }
      return { ...gatherRows(data, picked, buffers), rows: picked };
    },
  };
}

/** Whether the engine took the whole training set (then it trains on row numbers). */
async function handTrainingSet(engine: Engine, data: EncodedDataset, onNotice?: (message: string) => void): Promise<boolean> {
  if (!engine.holdTrainingData || !engine.trainStepOnRows) return false;
  try {
    await engine.holdTrainingData({ size: data.n, attributes: data.attributes, additionalAttributes: data.additionalAttributes, features: data.features });
    return true;
  } catch (error) {
    onNotice?.(`the engine could not hold the training set (${error instanceof Error ? error.message : String(error)}): sending it a batch per iteration`);
    return false;
  }
}

/** Lets signal handlers (Ctrl-C) and other events run between synchronous engine steps. */
const yieldToEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runLoop(options: LoopOptions): Promise<LoopResult> {
  const { engine, data, plan, signal } = options;
  const previous = options.previousSeconds ?? 0;
  const started = performance.now();
  const elapsed = () => previous + (performance.now() - started) / 1000;
  const sampler = createBatchSampler(data, plan);
  const onRows = await handTrainingSet(engine, data, options.onNotice);
  let iteration = options.startIteration;
  let losses: StepLosses | undefined;
  // Throughput over this session only, so a resume does not inherit a stale rate.
  let sessionIterations = 0;
  const clock = new EtaClock();
  while (iteration < plan.totalIterations) {
    if (signal?.aborted) {
      await options.onCheckpoint(iteration, 'cancelled', elapsed());
      return { iteration, status: 'cancelled', losses, elapsedSeconds: elapsed() };
    }
    // one batch for every critic step of an iteration
    const everyStep = <T>(x: T) => Array.from({ length: engine.config.criticSteps }, () => x);
    losses = onRows ? await engine.trainStepOnRows!(everyStep(sampler.rowsAt(iteration))) : await engine.trainStep(everyStep(sampler.batchAt(iteration)));
    if (!Number.isFinite(losses.critic) || !Number.isFinite(losses.generator)) {
      throw new Error(`training diverged at iteration ${iteration + 1} (critic loss ${losses.critic}, generator loss ${losses.generator}); resume from the last checkpoint with a lower learning rate`);
    }
    iteration++;
    sessionIterations++;
    const stop = (await options.afterStep?.(iteration)) === 'stop';
    clock.tick();
    // the moving rate once warm-up is over; until then the session's (a throughput, not an ETA)
    const rate = Number.isFinite(clock.rate) ? 1 / clock.rate : sessionIterations / Math.max((performance.now() - started) / 1000, 1e-9);
    options.onProgress?.({
      iteration,
      totalIterations: plan.totalIterations,
      epoch: Math.floor((iteration - 1) / plan.iterationsPerEpoch) + 1,
      losses,
      examplesPerSecond: rate * plan.batchSize,
      elapsedSeconds: elapsed(),
      etaSeconds: clock.eta(plan.totalIterations - iteration),
    });
    if (stop) break;
    if (iteration % plan.checkpointEvery === 0 && iteration < plan.totalIterations) await options.onCheckpoint(iteration, 'running', elapsed());
    await yieldToEvents();
  }
  await options.onCheckpoint(iteration, 'complete', elapsed());
  return { iteration, status: 'complete', losses, elapsedSeconds: elapsed() };
}
