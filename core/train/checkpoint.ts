/**
 * Checkpoints: everything needed to continue training exactly or to generate (model config, encoder,
 * engine weights + optimizer state + RNG position, loop position), in one atomically written file.
 */
import type { EncoderState } from '../encoding/encoder.ts';
import type { ModelConfig } from '../model/config.ts';
import type { EngineState } from '../model/engine.ts';
import type { EngineKind } from '../model/engines.ts';
import type { DpPlan } from './dp-sampling.ts';
import type { GuardSettings } from './privacy-guard.ts';
import { readTensorFile, writeTensorFile } from '../util/tensor-file.ts';

export const CHECKPOINT_FORMAT = 'dg-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface TrainingPlan {
  seed: number;
  batchSize: number;
  iterationsPerEpoch: number;
  totalIterations: number;
  /** Iterations between checkpoints (a checkpoint is also written on cancel and at the end). */
  checkpointEvery: number;
  engine: EngineKind;
  /** DP-SGD: Poisson-sampled batches of batchSize series on average, clipped and noised critics. */
  dp?: DpPlan;
  /** The privacy guard watches this run's exposure with these settings and may stop it (core/train/privacy-guard.ts); absent: it does not. */
  privacyGuard?: GuardSettings;
}

export interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  /** The run this checkpoint belongs to (run.json and the encoded data files carry it too); absent in older runs. */
  runId?: string;
  createdAt: string;
  /** The engine that wrote it (weights are interchangeable between engines). */
  engineName: string;
  model: ModelConfig;
  encoder: EncoderState;
  plan: TrainingPlan;
  /** Iterations completed. */
  iteration: number;
  status: 'running' | 'cancelled' | 'complete';
  elapsedSeconds: number;
  engineState: EngineState;
}

export function writeCheckpoint(file: string, checkpoint: Checkpoint): void {
  const { engineState, ...meta } = checkpoint;
  writeTensorFile(file, { ...meta, counters: engineState.counters }, engineState.tensors);
}

export function readCheckpoint(file: string): Checkpoint {
  const { meta, arrays } = readTensorFile<Omit<Checkpoint, 'engineState'> & { counters: Record<string, number> }>(file);
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`${file} is not a checkpoint`);
  if (meta.version !== CHECKPOINT_VERSION) throw new Error(`${file} is checkpoint version ${meta.version}; this build reads version ${CHECKPOINT_VERSION}`);
  const { counters, ...rest } = meta;
  const tensors = [...arrays.values()].map((a) => ({ name: a.name, shape: a.shape, data: a.data as Float32Array }));
  return { ...rest, engineState: { tensors, counters } };
}
