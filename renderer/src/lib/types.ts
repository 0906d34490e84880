/**
 * The shapes of the API results the wizard screens read (core/api/service.ts returns them; the store's
 * records are in core/store/types.ts). Types only: the renderer imports no code from core; the types
 * core already declares are re-exported from it (erased at build time), so they cannot drift.
 */
import type { ColumnSchema, Schema } from '../../../core/data/index.ts';
import type { DatasetRecord, RunStatus } from '../../../core/store/types.ts';

export type { ColumnKind, ColumnRole, ColumnSchema, ColumnStats, Inspection, Schema } from '../../../core/data/index.ts';
export type { DatasetRecord, ProjectSummary, RunStatus } from '../../../core/store/types.ts';

export interface RunSummary {
  losses: Record<string, number> | null;
  elapsedSeconds: number;
  engine: string;
  privacy: { epsilon: number; delta?: number } | null;
  exposure: number | null;
  /** Why the membership exposure was not measured during training (no holdout, or too small a one). */
  exposureUnavailable?: string | null;
}

export interface RunRecord {
  id: string;
  projectId: string;
  datasetId: string;
  schemaVersion: number;
  settings: Record<string, unknown> | null;
  plan: { batchSize?: number; totalIterations?: number; iterationsPerEpoch?: number; engine?: string; dp?: { targetEpsilon?: number; noiseMultiplier: number } } | null;
  status: RunStatus;
  engine: string | null;
  iteration: number;
  totalIterations: number | null;
  runDir: string;
  error: { code?: string; message: string } | null;
  summary: RunSummary | null;
  createdAt: string;
  updatedAt: string;
}

export interface ProjectDetail {
  id: string;
  name: string;
  description: string;
  createdAt: string;
  datasets: DatasetRecord[];
  runs: RunRecord[];
  synthetic: { id: string; runId: string }[];
  evaluations: { id: string; runId: string; createdAt: string }[];
  exports: { id: string; runId: string }[];
}

export interface SchemaRecord {
  datasetId: string;
  version: number;
  schema: Schema;
  origin: 'inferred' | 'edited';
  createdAt: string;
}

export interface PreviewSeries {
  id: string;
  attributes: (number | string)[];
  length: number;
  features: (number | string)[][];
  times?: (number | string)[];
}

export interface Preview {
  columns: string[];
  rows: (number | string)[][];
  series: PreviewSeries[];
  totalSeries: number;
  attributes: ColumnSchema[];
  features: ColumnSchema[];
}

/** One attribute hidden (the contract's settings.hide entries). */
export type HideSpec =
  | { attribute: string; mode: 'drop' }
  | { attribute: string; mode: 'coarsen'; minSeries: number }
  | { attribute: string; mode: 'replace'; target: 'uniform' | Record<string, number> };

export interface Plan {
  settings: { sampleLen: number; batchSize: number; iterations: number; epochs: number; engine: string; checkpointEvery: number; seed: number };
  series: { training: number; holdout: number; length: number };
  dp: { noiseMultiplier: number; delta: number; clipNorm: number; targetEpsilon?: number; expectedBatch: number; epsilonAtEnd: number } | null;
  estimate: { engine: string; secondsPerIteration: number; totalSeconds: number; calibrationIterations: number } | null;
  /** The hiding controls' attributes (the data before hiding) and what the settings hide. */
  hiding: {
    attributes: { name: string; kind: string; categories?: { label: string; series: number }[] }[];
    dropped: string[];
    merged: Record<string, { label: string; categories: string[] }>;
    replace: string | null;
  };
  notes: string[];
  warnings: string[];
}

export interface ProgressPoint {
  iteration: number;
  elapsedSeconds: number;
  losses: Record<string, number>;
  epsilon: number | null;
  exposure: number | null;
  examplesPerSecond: number | null;
}

export interface SampleSeries {
  attributes: (number | string)[];
  features: (number | string)[][];
}

export interface RunDetail extends RunRecord {
  live: boolean;
  /** Series the run trains on and holds out (null before its run folder is written). */
  trainingSeries: number | null;
  holdoutSeries: number | null;
  samples: { iteration: number; samples: SampleSeries[] } | null;
  synthetic: { id: string; series: number; createdAt: string }[];
  evaluations: { id: string; createdAt: string }[];
}
