/**
 * The result screens' data: the shapes core/api/views.ts, service.ts and the store deliver (types only,
 * erased at build time: the renderer runs no core code).
 */
import type { ChartsView, CompareView, FidelityView, PrivacyView, RunSettingsView } from '../../../../core/api/views';
import type { AuditRecord, ExportRecord as StoredExport } from '../../../../core/store/types';

export type { ChartsView, CompareView, FidelityView, PrivacyView, RunSettingsView };
export type { SharingRecommendation, SharingLevel, LineSet, AttackView, CompareRun } from '../../../../core/api/views';
export type { AuditVerification } from '../../../../core/store/types';

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

/** An export as the service returns it: the store's record with the file's full path, and the settings the screen reads. */
export interface ExportRecord extends Omit<StoredExport, 'settings'> {
  path: string;
  settings: { layout?: string; rows?: number; kind?: string; evaluationId?: string } | null;
}

/** exports.list */
export interface ExportsResult {
  synthetic: { id: string; runId: string; series: number; seed: number; createdAt: string };
  run: RunRef;
  project: { id: string; name: string };
  evaluations: { id: string; createdAt: string }[];
  exports: ExportRecord[];
}

/** audit.list: the store's audit records, hash chain included. */
export type AuditRow = AuditRecord;
