/**
 * The service: the one place that orchestrates project work over the store (core/store), the data
 * layer and the training worker. Every transport reaches it through the contract (host.ts); each
 * method here takes arguments the contract has already validated. The work itself lives in one module
 * per domain (projects, datasets, training, runs, evaluations, exports); this class dispatches to
 * them and owns what lives as long as it does: the event listeners and the running workers.
 */
import { inspectFile, type ReadOptions } from '../data/index.ts';
import type { RunRecord, Store } from '../store/index.ts';
import { errorData } from '../util/errors.ts';
import type { ApiEventOf, MethodArgs } from './contract.ts';
import { getDataset, importDataset, previewDataset, saveSchema } from './datasets-service.ts';
import { compareRuns, evaluate, evaluationCharts, getEvaluation } from './evaluations-service.ts';
import { copyExport, createDossier, createExport, exportModel, listExports } from './exports-service.ts';
import { createDemoProject, getProject } from './projects-service.ts';
import { syncIteration } from './run-folder-sync.ts';
import { type LiveRun, stopAllRuns, stopRun, type Supervision, waitForRun } from './run-supervisor.ts';
import { generateSynthetic, getRun, importRunFolder, runProgress } from './runs-service.ts';
import { planTraining, resumeRun, startRun } from './training-service.ts';
import type { LaunchWorker } from './worker-protocol.ts';

export { DEMO_PROJECT } from './projects-service.ts';

export interface ServiceOptions {
  launchWorker: LaunchWorker;
  workerModule: string;
  /** Who the audit log names (default: the OS user). */
  actor?: string;
  version?: string;
}

export class Service {
  private readonly listeners = new Set<(event: ApiEventOf) => void>();
  private readonly live = new Map<string, LiveRun>();
  /** What the domain modules work with: the store, the actor, the event stream and the running workers. */
  private readonly context: Supervision;

  constructor(
    readonly store: Store,
    private readonly options: ServiceOptions,
  ) {
    this.context = {
      store,
      get actor() {
        return { actor: options.actor ?? 'app' };
      },
      emit: (event) => this.emit(event),
      version: options.version,
      live: this.live,
      launchWorker: () => options.launchWorker(options.workerModule),
    };
    // No worker outlives the process that launched it: runs left 'running' were interrupted, at
    // whatever checkpoint their worker wrote last (it checkpoints when its parent goes away).
    for (const runId of store.markInterrupted({ actor: 'service' })) syncIteration(store, runId);
  }

  onEvent(listener: (event: ApiEventOf) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ApiEventOf): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Stops every worker (each checkpoints first) and waits for them. */
  close(): Promise<void> {
    return stopAllRuns(this.context);
  }

  /** Resolves when the run's worker has exited (at once when none is running). */
  waitForRun(runId: string): Promise<RunRecord> {
    return waitForRun(this.context, runId);
  }

  // ---- app and files

  appInfo() {
    return { name: 'DoppelGANger Studio', version: this.options.version ?? '0.0.0', storeDir: this.store.dir, node: process.version, platform: process.platform };
  }

  async inspect(args: MethodArgs<'files.inspect'>) {
    return inspectFile(args.path, (args.read ?? {}) as ReadOptions);
  }

  // ---- projects

  listProjects() {
    return this.store.listProjects();
  }

  createProject(args: MethodArgs<'projects.create'>) {
    return this.store.createProject(args, this.context.actor);
  }

  getProject(args: MethodArgs<'projects.get'>) {
    return getProject(this.store, args);
  }

  createDemoProject() {
    return createDemoProject(this.context);
  }

  // ---- datasets and schemas

  importDataset(args: MethodArgs<'datasets.import'>) {
    return importDataset(this.context, args);
  }

  getDataset(args: MethodArgs<'datasets.get'>) {
    return getDataset(this.store, args);
  }

  previewDataset(args: MethodArgs<'datasets.preview'>) {
    return previewDataset(this.store, args);
  }

  listSchemas(args: MethodArgs<'schemas.list'>) {
    return this.store.listSchemas(args.datasetId);
  }

  saveSchema(args: MethodArgs<'schemas.save'>) {
    return saveSchema(this.context, args);
  }

  // ---- training and runs

  planTraining(args: MethodArgs<'training.plan'>) {
    return planTraining(this.store, args);
  }

  startRun(args: MethodArgs<'runs.start'>) {
    return startRun(this.context, args);
  }

  getRun(args: MethodArgs<'runs.get'>) {
    return getRun(this.context, args);
  }

  runProgress(args: MethodArgs<'runs.progress'>) {
    return runProgress(this.store, args);
  }

  pauseRun(args: MethodArgs<'runs.pause'>) {
    return stopRun(this.context, args.runId, 'paused');
  }

  cancelRun(args: MethodArgs<'runs.cancel'>) {
    return stopRun(this.context, args.runId, 'cancelled');
  }

  resumeRun(args: MethodArgs<'runs.resume'>) {
    return resumeRun(this.context, args);
  }

  importRunFolder(args: MethodArgs<'runs.importFolder'>) {
    return importRunFolder(this.context, args);
  }

  // ---- generation, evaluation, export

  generate(args: MethodArgs<'runs.generate'>) {
    return generateSynthetic(this.context, args);
  }

  evaluate(args: MethodArgs<'evaluations.create'>) {
    return evaluate(this.context, args);
  }

  getEvaluation(args: MethodArgs<'evaluations.get'>) {
    return getEvaluation(this.store, args);
  }

  evaluationCharts(args: MethodArgs<'evaluations.charts'>) {
    return evaluationCharts(this.store, args);
  }

  compareRuns(args: MethodArgs<'runs.compare'>) {
    return compareRuns(this.store, args);
  }

  listExports(args: MethodArgs<'exports.list'>) {
    return listExports(this.store, args);
  }

  createDossier(args: MethodArgs<'exports.dossier'>) {
    return createDossier(this.context, args);
  }

  createExport(args: MethodArgs<'exports.create'>) {
    return createExport(this.context, args);
  }

  exportModel(args: MethodArgs<'runs.exportModel'>) {
    return exportModel(this.context, args);
  }

  copyExport(args: MethodArgs<'exports.copyTo'>) {
    return copyExport(this.store, args);
  }

  listAudit(args: MethodArgs<'audit.list'>) {
    return this.store.listAudit(args);
  }

  verifyAudit() {
    return this.store.verifyAudit();
  }
}

export { errorData };
