/**
 * Messages between the service and a training worker (a child process in browser mode and the CLI's
 * tests, Electron's utilityProcess in the app). One worker trains one run, then exits.
 */
import type { ReadOptions } from '../data/index.ts';
import type { ApiErrorData } from '../util/errors.ts';
import type { RunProgress, RunSummary, TrainRequest } from './training.ts';

/** The run folder's latest sample series (written by the worker at each checkpoint; the run screen shows them after a restart). */
export const SAMPLES_FILE = 'samples.json';

export type WorkerCommand =
  | { type: 'start'; runDir: string; data: { file: string; options?: ReadOptions }; settings: Omit<TrainRequest, 'data' | 'runDir'> }
  | { type: 'resume'; runDir: string; iterations?: number }
  /** Checkpoint and stop; the service decides whether that is a pause or a cancel. */
  | { type: 'stop' };

export interface SampleSeries {
  attributes: (number | string)[];
  features: (number | string)[][];
}

export type WorkerReport =
  | { type: 'log'; message: string }
  | { type: 'progress'; progress: RunProgress }
  | { type: 'checkpoint'; iteration: number; status: 'running' | 'cancelled' | 'complete' }
  | { type: 'samples'; iteration: number; samples: SampleSeries[] }
  | { type: 'done'; summary: RunSummary }
  | { type: 'failed'; error: ApiErrorData };

/** How a host starts a worker process running `modulePath` (Node's fork, or Electron's utilityProcess). */
export interface WorkerHandle {
  send(message: WorkerCommand): void;
  onMessage(listener: (message: WorkerReport) => void): void;
  /** Once, when the process is gone (its exit code; null when killed by a signal). */
  onExit(listener: (code: number | null) => void): void;
  kill(): void;
  readonly pid?: number;
}

export type LaunchWorker = (modulePath: string) => WorkerHandle;
