/**
 * The service: the one place that orchestrates project work over the store (core/store), the data
 * layer and the training worker. Every transport reaches it through the contract (host.ts); each
 * method here takes arguments the contract has already validated.
 */
import fs from 'node:fs';
import path from 'node:path';
import { demoDataset } from '../data/demo.ts';
import { inspectFile, readDataset, type ReadOptions } from '../data/index.ts';
import type { Dataset, Schema } from '../data/types.ts';
import { formatOf, writeDataset, writeDatasetParts } from '../export/index.ts';
import { withoutRealSeries } from '../eval/index.ts';
import type { Metrics } from '../eval/metrics.ts';
import { hidingOptions, replaceSpecOf } from '../privacy/hiding.ts';
import type { PrivacyReview } from '../privacy/review.ts';
import { sha256File, type EvaluationRecord, type RunRecord, type Store } from '../store/index.ts';
import { readRun, RUN_FILES, runDatasets } from '../train/run-folder.ts';
import { ApiError, errorData } from '../util/errors.ts';
import type { ApiEventOf, MethodArgs, TrainSettings } from './contract.ts';
import { readLike, runEvaluate } from './evaluate.ts';
import { generateToFile } from './generate.ts';
import { exportModel } from './model-export.ts';
import { estimateTraining, prepareTraining, type RunProgress } from './training.ts';
import { chartsView, compareView, dossierSection, fidelityView, privacyView, runLabel, runSettingsView } from './views.ts';
import { type LaunchWorker, SAMPLES_FILE, type SampleSeries, type WorkerHandle, type WorkerReport } from './worker-protocol.ts';

export interface ServiceOptions {
  launchWorker: LaunchWorker;
  workerModule: string;
  /** Who the audit log names (default: the OS user). */
  actor?: string;
  version?: string;
}

/** The demo project's name (one per store). */
export const DEMO_PROJECT = 'Demo: broadband lines';

/** Progress events per run and second at most (training can step hundreds of times a second). */
const EVENTS_PER_SECOND = 5;

interface LiveRun {
  worker: WorkerHandle;
  projectId: string;
  /** What a stop request means: pausing keeps the run resumable, cancelling ends it. */
  stopAs?: 'paused' | 'cancelled';
  finished: boolean;
  lastEvent: number;
  logEvery: number;
  pending: RunProgress[];
  samples?: { iteration: number; samples: SampleSeries[] };
}

/** The losses as numbers by name (DP clipping statistics stay in the run folder). */
const numericLosses = (losses: object): Record<string, number> => Object.fromEntries(Object.entries(losses).filter(([, v]) => typeof v === 'number'));

/** The schema for reading a dataset's Parquet copy: long layout, the same columns and settings. */
function copySchema(schema: Schema, idColumn: string, timeColumn: string): Schema {
  const data = schema.columns.filter((c) => c.role === 'attribute' || c.role === 'feature').map(({ wideColumns: _wide, ...c }) => c);
  return {
    ...schema,
    layout: { kind: 'long', idColumn, timeColumn },
    columns: [{ name: idColumn, kind: 'id', role: 'id' }, { name: timeColumn, kind: 'time', role: 'time' }, ...data],
  };
}

export class Service {
  private readonly listeners = new Set<(event: ApiEventOf) => void>();
  private readonly live = new Map<string, LiveRun>();

  constructor(
    readonly store: Store,
    private readonly options: ServiceOptions,
  ) {
    // No worker outlives the process that launched it: runs left 'running' were interrupted, at
    // whatever checkpoint their worker wrote last (it checkpoints when its parent goes away).
    for (const runId of store.markInterrupted({ actor: 'service' })) this.syncIteration(runId);
  }

  /** The run's iteration as its run folder's checkpoint says. */
  private syncIteration(runId: string): void {
    const run = this.store.getRun(runId);
    const file = path.join(this.runDir(run), RUN_FILES.checkpoint);
    if (!fs.existsSync(file)) return;
    const { iteration } = readRun(this.runDir(run)).checkpoint;
    this.store.updateRun(runId, { iteration }, { actor: 'service' });
    this.syncProgress(run, iteration);
  }

  /**
   * The curve's points the store missed (its worker went on to a last checkpoint after this process
   * stopped hearing from it), from the run folder's progress.jsonl, up to the checkpoint's iteration.
   */
  private syncProgress(run: RunRecord, iteration: number): void {
    const file = path.join(this.runDir(run), RUN_FILES.progress);
    if (!fs.existsSync(file)) return;
    const stored = this.store.listProgressSamples(run.id).at(-1)?.iteration ?? 0;
    const missed = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line) => {
        try {
          return line.trim() ? [JSON.parse(line) as Record<string, number>] : [];
        } catch {
          return []; // a line cut short by the crash
        }
      })
      .filter((p) => p.iteration > stored && p.iteration <= iteration)
      .map(({ iteration: at, epoch: _epoch, elapsedSeconds, epsilon, exposure, ...losses }) => ({
        iteration: at,
        elapsedSeconds,
        losses: numericLosses(losses),
        epsilon: epsilon ?? null,
        exposure: exposure ?? null,
        examplesPerSecond: null,
      }));
    if (missed.length) this.store.addProgressSamples(run.id, missed);
  }

  private get actor() {
    return { actor: this.options.actor ?? 'app' };
  }

  onEvent(listener: (event: ApiEventOf) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ApiEventOf): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Stops every worker (each checkpoints first) and waits for them. */
  async close(): Promise<void> {
    const waiting = [...this.live.entries()].map(([runId, live]) => {
      live.stopAs = 'paused';
      live.worker.send({ type: 'stop' });
      return this.waitForRun(runId);
    });
    await Promise.all(waiting);
  }

  /** Resolves when the run's worker has exited (at once when none is running). */
  waitForRun(runId: string): Promise<RunRecord> {
    const live = this.live.get(runId);
    if (!live) return Promise.resolve(this.store.getRun(runId));
    return new Promise((resolve) => live.worker.onExit(() => setImmediate(() => resolve(this.store.getRun(runId)))));
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
    return this.store.createProject(args, this.actor);
  }

  getProject(args: MethodArgs<'projects.get'>) {
    const project = this.store.getProject(args.projectId);
    const runs = this.store.listRuns(project.id);
    return {
      ...project,
      datasets: this.store.listDatasets(project.id),
      runs,
      synthetic: runs.flatMap((r) => this.store.listSyntheticSets(r.id)),
      evaluations: runs.flatMap((r) => this.store.listEvaluations(r.id)),
      exports: runs.flatMap((r) => this.store.listExports(r.id)),
    };
  }

  /**
   * The demo project (simulated broadband lines, imported like a user's file), for a first launch with
   * no data of one's own; the existing one when it is there already.
   */
  async createDemoProject() {
    const existing = this.store.listProjects().find((p) => p.name === DEMO_PROJECT);
    if (existing) return this.getProject({ projectId: existing.id });
    const project = this.store.createProject(
      {
        name: DEMO_PROJECT,
        description: 'Simulated hourly broadband measurements (download, upload, latency) of 400 lines, with ISP, technology and region: try every step here before bringing your own data.',
      },
      this.actor,
    );
    const file = this.store.resolve(project.id, 'source/demo-broadband-lines.csv');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await writeDataset(demoDataset({ seed: 1 }), file);
    await this.importDataset({ projectId: project.id, path: file, read: { idColumn: 'line_id', timeColumn: 'hour' }, name: 'Simulated broadband lines' });
    return this.getProject({ projectId: project.id });
  }

  // ---- datasets and schemas

  /**
   * Reads a file into a project: the series as read are kept as a Parquet copy in the project folder
   * (long layout, with its SHA-256), the mapping used as schema version 1.
   */
  async importDataset(args: MethodArgs<'datasets.import'>) {
    const project = this.store.getProject(args.projectId);
    const read = await readDataset(args.path, (args.read ?? {}) as ReadOptions, (done, total, unit) =>
      this.emit({ type: 'job.progress', job: `import:${args.path}`, kind: 'import', done, total, unit }),
    );
    const { dataset, report } = read;
    const layout = dataset.schema.layout;
    const idColumn = (layout.kind !== 'long-chunked' ? layout.idColumn : undefined) ?? 'series_id';
    const timeColumn = (layout.kind !== 'wide' ? layout.timeColumn : undefined) ?? 'step';
    const { record } = await this.addDatasetCopy(project.id, dataset, { idColumn, timeColumn }, dataset.schema, {
      name: args.name ?? path.basename(args.path),
      sourceFile: path.resolve(args.path),
      origin: args.read?.schema ? 'edited' : 'inferred',
    });
    return { dataset: record, report, schema: dataset.schema };
  }

  /**
   * Keeps a dataset in the project: its Parquet copy (long layout, with these id and time columns) and
   * SHA-256, and its mapping as schema version 1, recorded in one transaction.
   */
  private async addDatasetCopy(
    projectId: string,
    dataset: Dataset,
    columns: { idColumn: string; timeColumn: string },
    schema: Schema,
    entry: { name: string; sourceFile: string; origin: 'inferred' | 'edited' },
  ) {
    const id = crypto.randomUUID();
    const copyFile = `datasets/${id}.parquet`;
    const file = this.store.resolve(projectId, copyFile);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const written = await writeDataset(dataset, file, { layout: 'long', ...columns });
    const sha256 = await sha256File(file);
    return this.store.transaction(() => {
      const record = this.store.addDataset(
        projectId,
        { id, name: entry.name, sourceFile: entry.sourceFile, copyFile, sha256, bytes: fs.statSync(file).size, rows: written.rows, series: dataset.series.length },
        this.actor,
      );
      const schemaVersion = this.store.saveSchema(id, copySchema(schema, columns.idColumn, columns.timeColumn), entry.origin, this.actor);
      return { record, schemaVersion };
    });
  }

  getDataset(args: MethodArgs<'datasets.get'>) {
    const dataset = this.store.getDataset(args.datasetId);
    return { ...dataset, schemas: this.store.listSchemas(dataset.id) };
  }

  /** The dataset as the latest mapping reads it. */
  private async loadDataset(datasetId: string, version?: number): Promise<{ dataset: Dataset; file: string; schema: Schema; schemaVersion: number }> {
    const record = this.store.getDataset(datasetId);
    const { schema, version: schemaVersion } = this.store.getSchema(datasetId, version);
    const file = this.store.resolve(record.projectId, record.copyFile);
    const { dataset } = await readDataset(file, { schema: schema as Schema });
    return { dataset, file, schema: schema as Schema, schemaVersion };
  }

  async previewDataset(args: MethodArgs<'datasets.preview'>) {
    const { dataset } = await this.loadDataset(args.datasetId);
    const series = dataset.series.slice(0, args.series ?? 5).map((s) => ({
      id: s.id,
      attributes: s.attributes,
      length: s.length,
      features: s.features.map((f) => Array.from(f as ArrayLike<number | string>)),
      ...(s.times ? { times: Array.from(s.times) } : {}),
    }));
    const rows: (number | string)[][] = [];
    for (const s of dataset.series) {
      for (let t = 0; t < s.length && rows.length < (args.rows ?? 20); t++) rows.push([s.id, s.times?.[t] ?? t, ...s.attributes, ...s.features.map((f) => f[t])]);
      if (rows.length >= (args.rows ?? 20)) break;
    }
    const columns = ['series', 'time', ...dataset.attributes.map((c) => c.name), ...dataset.features.map((c) => c.name)];
    return { columns, rows, series, totalSeries: dataset.series.length, attributes: dataset.attributes, features: dataset.features };
  }

  listSchemas(args: MethodArgs<'schemas.list'>) {
    return this.store.listSchemas(args.datasetId);
  }

  /** A new mapping version, checked by reading the dataset with it. */
  async saveSchema(args: MethodArgs<'schemas.save'>) {
    const record = this.store.getDataset(args.datasetId);
    const current = this.store.getSchema(args.datasetId).schema as Schema;
    if (args.schema.layout.kind !== 'long' || current.layout.kind !== 'long' || args.schema.layout.idColumn !== current.layout.idColumn) {
      throw new ApiError('invalid_argument', `the mapping of an imported dataset keeps its copy's layout (long, id column '${current.layout.kind === 'long' ? current.layout.idColumn : ''}')`, {
        where: { column: 'layout' },
        hint: { text: 're-import the file to change how rows become series', action: 'datasets.import' },
      });
    }
    await readDataset(this.store.resolve(record.projectId, record.copyFile), { schema: args.schema });
    const version = this.store.saveSchema(args.datasetId, args.schema, 'edited', this.actor);
    return this.store.getSchema(args.datasetId, version);
  }

  // ---- training

  async planTraining(args: MethodArgs<'training.plan'>) {
    const { dataset } = await this.loadDataset(args.datasetId);
    const prepared = await prepareTraining({ ...args.settings, data: { dataset, label: args.datasetId } });
    const estimate = args.calibrate === false ? undefined : await estimateTraining(prepared);
    const { plan, model, encoder } = prepared;
    return {
      settings: {
        sampleLen: model.sampleLen,
        autoNormalize: encoder.autoNormalize,
        batchSize: plan.batchSize,
        iterations: plan.totalIterations,
        epochs: plan.totalIterations / plan.iterationsPerEpoch,
        criticSteps: model.criticSteps,
        seed: plan.seed,
        engine: plan.engine,
        checkpointEvery: plan.checkpointEvery,
      },
      series: { training: prepared.data.n, holdout: prepared.holdout?.series.length ?? 0, length: encoder.layout.maxLength },
      model,
      dp: plan.dp ? { ...plan.dp, epsilonAtEnd: (await import('../privacy/dp.ts')).epsilonSpent(plan.dp, plan.totalIterations).epsilon } : null,
      estimate: estimate ?? null,
      // what the privacy step's hiding controls offer (the data before hiding) and what the settings did
      hiding: {
        attributes: hidingOptions(prepared.dataset),
        dropped: prepared.hiding?.dropped ?? [],
        merged: prepared.hiding?.merged ?? {},
        replace: replaceSpecOf(args.settings.hide)?.attribute ?? null,
      },
      notes: prepared.notes,
      warnings: prepared.warnings,
    };
  }

  async startRun(args: MethodArgs<'runs.start'>) {
    const { dataset, file, schema, schemaVersion } = await this.loadDataset(args.datasetId);
    const record = this.store.getDataset(args.datasetId);
    const settings = args.settings as TrainSettings;
    // Plans (and refuses bad settings) before anything is written or launched.
    const prepared = await prepareTraining({ ...settings, data: { dataset, label: record.name } });
    const id = crypto.randomUUID();
    const run = this.store.createRun(
      record.projectId,
      { id, datasetId: record.id, schemaVersion, settings, plan: prepared.plan, status: 'running', totalIterations: prepared.plan.totalIterations, runDir: `runs/${id}` },
      this.actor,
    );
    this.launch(run, { type: 'start', runDir: this.runDir(run), data: { file, options: { schema } }, settings });
    return this.store.getRun(id);
  }

  private runDir(run: RunRecord): string {
    return this.store.resolve(run.projectId, run.runDir);
  }

  private launch(run: RunRecord, command: Parameters<WorkerHandle['send']>[0]): void {
    const worker = this.options.launchWorker(this.options.workerModule);
    const plan = run.plan as { iterationsPerEpoch?: number } | null;
    const live: LiveRun = { worker, projectId: run.projectId, finished: false, lastEvent: 0, logEvery: Math.max(1, Math.floor(plan?.iterationsPerEpoch ?? 1)), pending: [] };
    this.live.set(run.id, live);
    this.store.updateRun(run.id, { workerPid: worker.pid ?? null, error: null }, this.actor);
    worker.onMessage((message) => this.onWorkerReport(run.id, live, message));
    worker.onExit((code) => this.onWorkerExit(run.id, live, code));
    worker.send(command);
    this.emitStatus(run.id);
  }

  private emitStatus(runId: string, message?: string): void {
    const run = this.store.getRun(runId);
    this.emit({ type: 'run.status', runId, projectId: run.projectId, status: run.status, iteration: run.iteration, totalIterations: run.totalIterations ?? 0, ...(message ? { message } : {}) });
  }

  private flushSamples(runId: string, live: LiveRun): void {
    if (live.pending.length === 0) return;
    this.store.addProgressSamples(
      runId,
      live.pending.map((p) => ({
        iteration: p.iteration,
        elapsedSeconds: p.elapsedSeconds,
        losses: numericLosses(p.losses),
        epsilon: p.privacy?.epsilon ?? null,
        exposure: p.exposure ?? null,
        examplesPerSecond: p.examplesPerSecond,
      })),
    );
    live.pending = [];
  }

  private onWorkerReport(runId: string, live: LiveRun, message: WorkerReport): void {
    switch (message.type) {
      case 'log':
        this.emit({ type: 'run.log', runId, message: message.message });
        return;
      case 'progress': {
        const p = message.progress;
        if (p.iteration % live.logEvery === 0 || p.iteration === p.totalIterations) live.pending.push(p);
        const now = Date.now();
        if (now - live.lastEvent < 1000 / EVENTS_PER_SECOND && p.iteration !== p.totalIterations) return;
        live.lastEvent = now;
        this.emit({
          type: 'run.progress',
          runId,
          iteration: p.iteration,
          totalIterations: p.totalIterations,
          epoch: p.epoch,
          losses: numericLosses(p.losses),
          examplesPerSecond: p.examplesPerSecond,
          elapsedSeconds: p.elapsedSeconds,
          etaSeconds: p.etaSeconds,
          ...(p.privacy ? { epsilon: p.privacy.epsilon } : {}),
          ...(p.exposure !== undefined ? { exposure: p.exposure } : {}),
        });
        return;
      }
      case 'checkpoint':
        this.flushSamples(runId, live);
        this.store.updateRun(runId, { iteration: message.iteration }, this.actor);
        return;
      case 'samples':
        live.samples = { iteration: message.iteration, samples: message.samples };
        this.emit({ type: 'run.samples', runId, iteration: message.iteration, samples: message.samples });
        return;
      case 'done': {
        live.finished = true;
        this.flushSamples(runId, live);
        const s = message.summary;
        const status = s.status === 'complete' ? 'complete' : (live.stopAs ?? 'paused');
        const summary = {
          losses: s.losses ?? null,
          elapsedSeconds: s.elapsedSeconds,
          engine: s.engine,
          privacy: s.privacy ?? null,
          exposure: s.exposure ?? null,
          exposureUnavailable: s.exposureUnavailable ?? null,
        };
        this.store.updateRun(runId, { status, iteration: s.iteration, totalIterations: s.totalIterations, engine: s.engine, summary, workerPid: null }, this.actor);
        this.emitStatus(runId);
        return;
      }
      case 'failed':
        live.finished = true;
        this.flushSamples(runId, live);
        this.store.updateRun(runId, { status: 'failed', error: message.error, workerPid: null }, this.actor);
        this.emitStatus(runId, message.error.message);
        return;
    }
  }

  private onWorkerExit(runId: string, live: LiveRun, code: number | null): void {
    this.live.delete(runId);
    if (live.finished) return;
    // Gone without a word (a crash, killed): the run folder is at its last checkpoint.
    this.flushSamples(runId, live);
    this.store.updateRun(runId, { status: 'interrupted', workerPid: null, error: { code: 'internal', message: `the training process ended unexpectedly (exit ${code ?? 'by signal'})` } }, this.actor);
    this.syncIteration(runId);
    this.emitStatus(runId, 'the training process ended unexpectedly; resume continues from the last checkpoint');
  }

  getRun(args: MethodArgs<'runs.get'>) {
    const run = this.store.getRun(args.runId);
    const live = this.live.get(run.id);
    // How many series the run trains on and holds out (run.json), and its latest sample series (null before the worker has written them).
    const read = <T>(name: string): T | null => {
      try {
        return JSON.parse(fs.readFileSync(path.join(this.runDir(run), name), 'utf8')) as T;
      } catch {
        return null;
      }
    };
    const info = read<{ trainSeries?: number; holdoutSeries?: number }>(RUN_FILES.run);
    return {
      ...run,
      live: Boolean(live),
      trainingSeries: info?.trainSeries ?? null,
      holdoutSeries: info?.holdoutSeries ?? null,
      samples: live?.samples ?? read<{ iteration: number; samples: SampleSeries[] }>(SAMPLES_FILE),
      synthetic: this.store.listSyntheticSets(run.id),
      evaluations: this.store.listEvaluations(run.id),
    };
  }

  runProgress(args: MethodArgs<'runs.progress'>) {
    return this.store.listProgressSamples(args.runId, args.after !== undefined ? { after: args.after } : {});
  }

  private stop(runId: string, as: 'paused' | 'cancelled') {
    const run = this.store.getRun(runId);
    const live = this.live.get(runId);
    if (live) {
      live.stopAs = as;
      live.worker.send({ type: 'stop' });
      return { ...run, stopping: true };
    }
    if (as === 'paused') throw new ApiError('conflict', `run ${runId} is not training (it is ${run.status})`, { hint: { text: 'resume it to train further', action: 'runs.resume' } });
    if (run.status === 'complete' || run.status === 'cancelled') throw new ApiError('conflict', `run ${runId} is already ${run.status}`);
    const cancelled = this.store.updateRun(runId, { status: 'cancelled' }, this.actor);
    this.emitStatus(runId);
    return { ...cancelled, stopping: false };
  }

  pauseRun(args: MethodArgs<'runs.pause'>) {
    return this.stop(args.runId, 'paused');
  }

  cancelRun(args: MethodArgs<'runs.cancel'>) {
    return this.stop(args.runId, 'cancelled');
  }

  resumeRun(args: MethodArgs<'runs.resume'>) {
    const run = this.store.getRun(args.runId);
    if (this.live.has(run.id)) throw new ApiError('conflict', `run ${run.id} is already training`);
    if (run.status === 'complete' && !args.iterations)
      throw new ApiError('conflict', `run ${run.id} is complete`, { hint: { text: 'give a larger number of iterations to train further', option: 'iterations' } });
    if (!fs.existsSync(path.join(this.runDir(run), RUN_FILES.checkpoint))) {
      throw new ApiError('conflict', `run ${run.id} has no checkpoint to resume from (it stopped before its first one)`, { hint: { text: 'start a new run', action: 'runs.start' } });
    }
    this.store.updateRun(run.id, { status: 'running', ...(args.iterations ? { totalIterations: args.iterations } : {}) }, this.actor);
    this.launch(this.store.getRun(run.id), { type: 'resume', runDir: this.runDir(run), ...(args.iterations ? { iterations: args.iterations } : {}) });
    return this.store.getRun(run.id);
  }

  /** Brings a `dg train` run folder into a project: its data becomes a dataset, the folder a run. */
  async importRunFolder(args: MethodArgs<'runs.importFolder'>) {
    const project = this.store.getProject(args.projectId);
    const source = path.resolve(args.path);
    const { checkpoint, info } = readRun(source);
    const { train, holdout } = runDatasets(source, { checkpoint, info });
    const all: Dataset = { ...train, series: [...train.series, ...(holdout?.series ?? [])] };
    const { record: dataset, schemaVersion } = await this.addDatasetCopy(project.id, all, { idColumn: 'series_id', timeColumn: 'step' }, checkpoint.encoder.schema, {
      name: `${path.basename(source)} (run folder)`,
      sourceFile: info.source,
      origin: 'inferred',
    });
    const id = crypto.randomUUID();
    const runDir = `runs/${id}`;
    fs.cpSync(source, this.store.resolve(project.id, runDir), { recursive: true, filter: (f) => !f.endsWith('.lock') && !f.includes('.tmp-') });
    const status = checkpoint.iteration >= checkpoint.plan.totalIterations ? 'complete' : 'paused';
    const run = this.store.createRun(
      project.id,
      {
        id,
        datasetId: dataset.id,
        schemaVersion,
        settings: { importedFrom: source },
        plan: checkpoint.plan,
        status: 'running',
        engine: checkpoint.engineName,
        totalIterations: checkpoint.plan.totalIterations,
        runDir,
      },
      this.actor,
    );
    return this.store.updateRun(run.id, { status, iteration: checkpoint.iteration }, this.actor);
  }

  // ---- generation, evaluation, export

  async generate(args: MethodArgs<'runs.generate'>) {
    const run = this.store.getRun(args.runId);
    if (this.live.has(run.id))
      throw new ApiError('conflict', `run ${run.id} is training: pause it or wait for it to finish before generating`, { hint: { text: 'pause the run', action: 'runs.pause' } });
    const id = crypto.randomUUID();
    const relative = `synthetic/${id}.parquet`;
    const file = this.store.resolve(run.projectId, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const seed = args.seed ?? ((run.plan as { seed?: number } | null)?.seed ?? 0) + 1;
    await generateToFile(
      { runDir: this.runDir(run), n: args.n, seed, out: file, layout: 'long' },
      { onProgress: (done, total) => this.emit({ type: 'job.progress', job: `generate:${id}`, kind: 'generate', done, total, unit: 'series' }) },
    );
    return this.store.addSyntheticSet(run.id, { id, file: relative, sha256: await sha256File(file), series: args.n, seed }, this.actor);
  }

  async evaluate(args: MethodArgs<'evaluations.create'>) {
    const synthetic = this.store.getSyntheticSet(args.syntheticId);
    const run = this.store.getRun(synthetic.runId);
    const id = crypto.randomUUID();
    const dir = `evaluations/${id}`;
    this.emit({ type: 'job.progress', job: `evaluate:${id}`, kind: 'evaluate', done: 0, total: 1, unit: 'evaluation' });
    const result = await runEvaluate({
      real: { runDir: this.runDir(run) },
      synthetic: this.store.resolve(run.projectId, synthetic.file),
      options: {},
      outDir: this.store.resolve(run.projectId, dir),
      seed: args.seed,
      log: (message) => this.emit({ type: 'run.log', runId: run.id, message }),
    });
    const evaluation = this.store.addEvaluation(run.id, { id, syntheticId: synthetic.id, dir, summary: { text: result.summary } }, this.actor);
    const review = this.store.addPrivacyReview(
      run.id,
      {
        evaluationId: id,
        file: `${dir}/privacy.json`,
        summary: { statements: result.privacy.statements, strongestAttackAuc: Math.max(...result.privacy.attacks.map((a) => a.auc), 0.5), copiesOfTraining: result.privacy.copies.ofTraining },
      },
      this.actor,
    );
    this.emit({ type: 'job.progress', job: `evaluate:${id}`, kind: 'evaluate', done: 1, total: 1, unit: 'evaluation' });
    return { evaluation, privacyReview: review, summary: result.summary, statements: result.privacy.statements };
  }

  /** An evaluation's files: metrics.json and privacy.json. */
  private readEvaluation(evaluation: EvaluationRecord, projectId: string) {
    const read = (name: string) => JSON.parse(fs.readFileSync(this.store.resolve(projectId, `${evaluation.dir}/${name}`), 'utf8')) as unknown;
    return { metrics: read('metrics.json') as Metrics, privacy: read('privacy.json') as PrivacyReview };
  }

  /** The run as the result screens name it: its number in the project, label and settings. */
  private runView(run: RunRecord) {
    const number = this.store.listRuns(run.projectId).findIndex((r) => r.id === run.id) + 1;
    const settings = runSettingsView(run);
    return { id: run.id, projectId: run.projectId, datasetId: run.datasetId, status: run.status, number, label: runLabel(number, settings), settings };
  }

  /** The stored results with what the screens show: verdicts and paragraph (fidelity), the review in words and the sharing recommendation (review). */
  getEvaluation(args: MethodArgs<'evaluations.get'>) {
    const evaluation = this.store.getEvaluation(args.evaluationId);
    const run = this.store.getRun(evaluation.runId);
    const { metrics, privacy } = this.readEvaluation(evaluation, run.projectId);
    return {
      ...evaluation,
      metrics,
      privacy,
      reportFile: this.store.resolve(run.projectId, `${evaluation.dir}/report.html`),
      run: this.runView(run),
      project: { id: run.projectId, name: this.store.getProject(run.projectId).name },
      fidelity: fidelityView(metrics),
      review: privacyView(privacy),
    };
  }

  /** The Evaluate screen's chart series (reads the run's data and the synthetic file). */
  async evaluationCharts(args: MethodArgs<'evaluations.charts'>) {
    const evaluation = this.store.getEvaluation(args.evaluationId);
    const run = this.store.getRun(evaluation.runId);
    if (!evaluation.syntheticId) throw new ApiError('not_found', `evaluation ${evaluation.id} has no synthetic set in this store to draw`);
    const { train, holdout } = runDatasets(this.runDir(run));
    const synthetic = await readLike(this.store.resolve(run.projectId, this.store.getSyntheticSet(evaluation.syntheticId).file), {}, train);
    return chartsView(this.readEvaluation(evaluation, run.projectId).metrics, { real: train, synthetic, holdout });
  }

  /** A project's runs side by side (each with its latest evaluation), for picking the run to release. */
  compareRuns(args: MethodArgs<'runs.compare'>) {
    const all = this.store.listRuns(args.projectId);
    for (const runId of args.runIds ?? []) if (!all.some((r) => r.id === runId)) throw new ApiError('not_found', `run ${runId} is not in project ${args.projectId}`);
    const inputs = all.flatMap((run, index) => {
      if (args.runIds && !args.runIds.includes(run.id)) return [];
      const latest = this.store.listEvaluations(run.id).at(-1);
      const evaluation = latest ? { id: latest.id, syntheticId: latest.syntheticId, ...(({ metrics, privacy }) => ({ metrics, review: privacy }))(this.readEvaluation(latest, run.projectId)) } : null;
      return [{ runId: run.id, number: index + 1, createdAt: run.createdAt, status: run.status, settings: runSettingsView(run), evaluation }];
    });
    return compareView(inputs);
  }

  /** A synthetic set's run, its evaluations and the run's exports (newest first), for the Export screen. */
  listExports(args: MethodArgs<'exports.list'>) {
    const synthetic = this.store.getSyntheticSet(args.syntheticId);
    const run = this.store.getRun(synthetic.runId);
    const exports = this.store
      .listExports(run.id)
      .reverse()
      .map((e) => ({ ...e, path: path.isAbsolute(e.file) ? e.file : this.store.resolve(run.projectId, e.file) }));
    return {
      synthetic,
      run: this.runView(run),
      project: { id: run.projectId, name: this.store.getProject(run.projectId).name },
      evaluations: this.store.listEvaluations(run.id).filter((e) => e.syntheticId === synthetic.id),
      exports,
    };
  }

  /** The dossier: the evaluation's report with the settings, the DP guarantee and the sharing recommendation; recorded as an export. */
  async createDossier(args: MethodArgs<'exports.dossier'>) {
    const evaluation = this.store.getEvaluation(args.evaluationId);
    const run = this.store.getRun(evaluation.runId);
    // the dossier goes with shared data: the report's real series stay behind
    const report = withoutRealSeries(fs.readFileSync(this.store.resolve(run.projectId, `${evaluation.dir}/report.html`), 'utf8'));
    if (report === null)
      throw new ApiError('conflict', 'this evaluation was written by an older version, whose report cannot leave out the real series it plots', {
        hint: { text: 'evaluate the synthetic data again, then make the dossier from the new evaluation', action: 'evaluate' },
      });
    const view = this.runView(run);
    const added = dossierSection({
      projectName: this.store.getProject(run.projectId).name,
      datasetName: this.store.getDataset(run.datasetId).name,
      runLabel: view.label,
      settings: view.settings,
      plan: run.plan,
      review: this.readEvaluation(evaluation, run.projectId).privacy,
      createdAt: new Date().toISOString(),
    });
    const html = report.replace('<title>', '<title>Dossier: ').replace(/(<h1>)([^<]*)(<\/h1>)/, `$1Dossier: $2$3\n${added}`);
    const id = crypto.randomUUID();
    const relative = `exports/${id}-dossier.html`;
    const file = this.store.resolve(run.projectId, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, html);
    const exported = this.store.addExport(
      run.id,
      {
        id,
        syntheticId: evaluation.syntheticId,
        file: relative,
        format: 'html',
        sha256: await sha256File(file),
        bytes: fs.statSync(file).size,
        settings: { kind: 'dossier', evaluationId: evaluation.id },
      },
      this.actor,
    );
    return { ...exported, path: file };
  }

  /** Writes a synthetic set in the asked format and layout into the project's exports folder. */
  async createExport(args: MethodArgs<'exports.create'>) {
    const synthetic = this.store.getSyntheticSet(args.syntheticId);
    const run = this.store.getRun(synthetic.runId);
    const { train } = runDatasets(this.runDir(run));
    const data = await readLike(this.store.resolve(run.projectId, synthetic.file), {}, train);
    const id = crypto.randomUUID();
    const relative = `exports/${id}.${args.format}`;
    const file = this.store.resolve(run.projectId, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    formatOf(file);
    const written = await writeDatasetParts([data], file, args.layout ? { layout: args.layout } : {});
    return this.store.addExport(
      run.id,
      {
        id,
        syntheticId: synthetic.id,
        file: relative,
        format: written.format,
        sha256: await sha256File(file),
        bytes: fs.statSync(file).size,
        settings: { layout: args.layout ?? 'long', rows: written.rows },
      },
      this.actor,
    );
  }

  /**
   * The run's model as a shareable file (core/api/model-export.ts), recorded as an export of the run: into
   * the project's exports folder, or to `path` when given.
   */
  async exportModel(args: MethodArgs<'runs.exportModel'>) {
    const run = this.store.getRun(args.runId);
    const id = crypto.randomUUID();
    const relative = `exports/${id}-model.dgm`;
    const file = args.path ?? this.store.resolve(run.projectId, relative);
    if (!args.path) fs.mkdirSync(path.dirname(file), { recursive: true });
    const written = exportModel({ runDir: this.runDir(run), out: file, version: this.options.version });
    const exported = this.store.addExport(
      run.id,
      {
        id,
        file: args.path ? written.file : relative,
        format: 'dgm',
        sha256: await sha256File(written.file),
        bytes: written.bytes,
        settings: { kind: 'model', iteration: written.iteration, ...(written.privacy ? { privacy: written.privacy } : {}) },
      },
      this.actor,
    );
    return { ...exported, path: written.file };
  }

  /** Copies an export to a place the user picked. */
  async copyExport(args: MethodArgs<'exports.copyTo'>) {
    const exported = this.store.getExport(args.exportId);
    const run = this.store.getRun(exported.runId);
    fs.copyFileSync(this.store.resolve(run.projectId, exported.file), args.path);
    return { path: args.path, sha256: exported.sha256 };
  }

  listAudit(args: MethodArgs<'audit.list'>) {
    return this.store.listAudit(args);
  }

  verifyAudit() {
    return this.store.verifyAudit();
  }
}

export { errorData };
