/** The store's records: one interface per table, camelCase fields, JSON columns parsed. */

export const RUN_STATUSES = ['planned', 'running', 'paused', 'interrupted', 'cancelled', 'complete', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * The status changes updateRun accepts (a status may always be set to itself). `complete` is final;
 * a cancelled, interrupted or failed run may be resumed from its checkpoint.
 */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  planned: ['running', 'cancelled', 'failed'],
  running: ['paused', 'interrupted', 'cancelled', 'complete', 'failed'],
  paused: ['running', 'interrupted', 'cancelled', 'failed'],
  interrupted: ['running', 'cancelled', 'failed'],
  cancelled: ['running', 'failed'],
  failed: ['running'],
  complete: ['running'], // trained further with more iterations
};

export type SchemaOrigin = 'inferred' | 'edited';

/** Every mutating method takes these last; `actor` is who the audit log names ('cli', 'app', a user). */
export interface ActorOptions {
  actor?: string;
}

export interface ProjectRecord {
  id: string;
  name: string;
  description: string;
  createdAt: string;
}

export interface ProjectSummary extends ProjectRecord {
  datasets: number;
  runs: number;
  /** The status of the most recently created run, null without runs. */
  latestRunStatus: RunStatus | null;
}

export interface NewProject {
  name: string;
  description?: string;
}

export interface DatasetRecord {
  id: string;
  projectId: string;
  name: string;
  /** The original path as the user gave it. */
  sourceFile: string;
  /** The imported copy (Parquet), relative to the project folder. */
  copyFile: string;
  /** Of the copy. */
  sha256: string;
  bytes: number;
  rows: number;
  series: number;
  createdAt: string;
}

export type NewDataset = Omit<DatasetRecord, 'id' | 'projectId' | 'createdAt'> & { id?: string };

export interface SchemaRecord {
  datasetId: string;
  version: number;
  schema: unknown;
  origin: SchemaOrigin;
  createdAt: string;
}

export interface RunRecord {
  id: string;
  projectId: string;
  datasetId: string;
  schemaVersion: number;
  /** What the user asked for. */
  settings: unknown;
  /** The resolved settings, once planned. */
  plan: unknown | null;
  status: RunStatus;
  engine: string | null;
  iteration: number;
  totalIterations: number | null;
  /** Relative to the project folder. */
  runDir: string;
  workerPid: number | null;
  error: unknown | null;
  /** Final losses, epsilon, exposure. */
  summary: unknown | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewRun {
  id?: string;
  datasetId: string;
  schemaVersion: number;
  settings: unknown;
  plan?: unknown;
  status?: RunStatus;
  engine?: string | null;
  totalIterations?: number | null;
  /** Relative to the project folder; default `runs/<id>`. */
  runDir?: string;
}

export interface RunPatch {
  status?: RunStatus;
  iteration?: number;
  totalIterations?: number | null;
  engine?: string | null;
  workerPid?: number | null;
  error?: unknown | null;
  summary?: unknown | null;
  plan?: unknown | null;
}

export interface ProgressSample {
  iteration: number;
  elapsedSeconds: number;
  losses: Record<string, number>;
  epsilon?: number | null;
  exposure?: number | null;
  examplesPerSecond?: number | null;
}

export interface ProgressSampleRecord extends Required<ProgressSample> {
  runId: string;
}

export interface SyntheticSetRecord {
  id: string;
  runId: string;
  /** Parquet, relative to the project folder. */
  file: string;
  sha256: string;
  series: number;
  seed: number;
  createdAt: string;
}

export type NewSyntheticSet = Omit<SyntheticSetRecord, 'id' | 'runId' | 'createdAt'> & { id?: string };

export interface EvaluationRecord {
  id: string;
  runId: string;
  syntheticId: string | null;
  /** Relative to the project folder. */
  dir: string;
  /** Verdict etc. */
  summary: unknown;
  createdAt: string;
}

export type NewEvaluation = Omit<EvaluationRecord, 'id' | 'runId' | 'createdAt' | 'syntheticId'> & { id?: string; syntheticId?: string | null };

export interface PrivacyReviewRecord {
  id: string;
  runId: string;
  evaluationId: string | null;
  /** Relative to the project folder. */
  file: string;
  summary: unknown;
  createdAt: string;
}

export type NewPrivacyReview = Omit<PrivacyReviewRecord, 'id' | 'runId' | 'createdAt' | 'evaluationId'> & {
  id?: string;
  evaluationId?: string | null;
};

export interface ExportRecord {
  id: string;
  runId: string;
  syntheticId: string | null;
  /** The path written: absolute (outside the project) or relative to the project folder. */
  file: string;
  format: string;
  sha256: string;
  bytes: number;
  settings: unknown;
  createdAt: string;
}

export type NewExport = Omit<ExportRecord, 'id' | 'runId' | 'createdAt' | 'syntheticId'> & { id?: string; syntheticId?: string | null };

export interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string | null;
  projectId: string | null;
  details: unknown;
  prevHash: string;
  hash: string;
}

export type AuditVerification = { ok: true; rows: number } | { ok: false; rows: number; brokenAt: number; reason: string };
