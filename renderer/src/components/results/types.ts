/**
 * The result screens' data: the shapes core/api/views.ts and service.ts deliver (types only, erased at
 * build time: the renderer runs no core code).
 */
import type { ChartsView, CompareView, FidelityView, PrivacyView, RunSettingsView } from '../../../../core/api/views';

export type { ChartsView, CompareView, FidelityView, PrivacyView, RunSettingsView };
export type { SharingRecommendation, SharingLevel, LineSet, AttackView, CompareRun } from '../../../../core/api/views';

export interface RunRef {
  id: string;
  projectId: string;
  datasetId: string;
  status: string;
  number: number;
  label: string;
  settings: RunSettingsView;
}

/** evaluations.get */
export interface EvaluationResult {
  id: string;
  runId: string;
  syntheticId: string | null;
  createdAt: string;
  reportFile: string;
  run: RunRef;
  project: { id: string; name: string };
  fidelity: FidelityView;
  review: PrivacyView;
}

export interface ExportRecord {
  id: string;
  runId: string;
  syntheticId: string | null;
  file: string;
  path: string;
  format: string;
  sha256: string;
  bytes: number;
  settings: { layout?: string; rows?: number; kind?: string; evaluationId?: string } | null;
  createdAt: string;
}

/** exports.list */
export interface ExportsResult {
  synthetic: { id: string; runId: string; series: number; seed: number; createdAt: string };
  run: RunRef;
  project: { id: string; name: string };
  evaluations: { id: string; createdAt: string }[];
  exports: ExportRecord[];
}

export interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string | null;
  projectId: string | null;
  details: unknown;
}

export type AuditVerification = { ok: true; rows: number } | { ok: false; rows: number; brokenAt: number; reason: string };
