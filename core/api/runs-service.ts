/**
 * A run's records: the run as the screens read it, its progress curve, a `dg train` folder brought in
 * as a run, and synthetic sets generated from its model.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../data/types.ts';
import { sha256File, type Store } from '../store/index.ts';
import { readRun, RUN_FILES, runDatasets } from '../train/run-folder.ts';
import { ApiError } from '../util/errors.ts';
import type { MethodArgs } from './contract.ts';
import { addDatasetCopy } from './datasets-service.ts';
import { generateToFile } from './generate.ts';
import type { Supervision } from './run-supervisor.ts';
import { runDir, type ServiceContext } from './service-context.ts';
import { SAMPLES_FILE, type SampleSeries } from './worker-protocol.ts';

export function getRun(sup: Supervision, args: MethodArgs<'runs.get'>) {
  const { store } = sup;
  const run = store.getRun(args.runId);
  const live = sup.live.get(run.id);
  // How many series the run trains on and holds out (run.json), and its latest sample series (null before the worker has written them).
  const read = <T>(name: string): T | null => {
    try {
      return JSON.parse(fs.readFileSync(path.join(runDir(store, run), name), 'utf8')) as T;
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
    synthetic: store.listSyntheticSets(run.id),
    evaluations: store.listEvaluations(run.id),
  };
}

export function runProgress(store: Store, args: MethodArgs<'runs.progress'>) {
  return store.listProgressSamples(args.runId, args.after !== undefined ? { after: args.after } : {});
}

/** Brings a `dg train` run folder into a project: its data becomes a dataset, the folder a run. */
export async function importRunFolder(ctx: ServiceContext, args: MethodArgs<'runs.importFolder'>) {
  const { store } = ctx;
  const project = store.getProject(args.projectId);
  const source = path.resolve(args.path);
  const { checkpoint, info } = readRun(source);
  const { train, holdout } = runDatasets(source, { checkpoint, info });
  const all: Dataset = { ...train, series: [...train.series, ...(holdout?.series ?? [])] };
  const { record: dataset, schemaVersion } = await addDatasetCopy(ctx, project.id, all, { idColumn: 'series_id', timeColumn: 'step' }, checkpoint.encoder.schema, {
    name: `${path.basename(source)} (run folder)`,
    sourceFile: info.source,
    origin: 'inferred',
  });
  const id = crypto.randomUUID();
  const folder = `runs/${id}`;
  fs.cpSync(source, store.resolve(project.id, folder), { recursive: true, filter: (f) => !f.endsWith('.lock') && !f.includes('.tmp-') });
  const status = checkpoint.iteration >= checkpoint.plan.totalIterations ? 'complete' : 'paused';
  const run = store.createRun(
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
      runDir: folder,
    },
    ctx.actor,
  );
  return store.updateRun(run.id, { status, iteration: checkpoint.iteration }, ctx.actor);
}

/** A synthetic set from the run's model, into the project's synthetic folder. */
export async function generateSynthetic(sup: Supervision, args: MethodArgs<'runs.generate'>) {
  const { store } = sup;
  const run = store.getRun(args.runId);
  if (sup.live.has(run.id)) throw new ApiError('conflict', `run ${run.id} is training: pause it or wait for it to finish before generating`, { hint: { text: 'pause the run', action: 'runs.pause' } });
  const id = crypto.randomUUID();
  const relative = `synthetic/${id}.parquet`;
  const file = store.resolve(run.projectId, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const seed = args.seed ?? ((run.plan as { seed?: number } | null)?.seed ?? 0) + 1;
  await generateToFile(
    { runDir: runDir(store, run), n: args.n, seed, out: file, layout: 'long' },
    { onProgress: (done, total) => sup.emit({ type: 'job.progress', job: `generate:${id}`, kind: 'generate', done, total, unit: 'series' }) },
  );
  return store.addSyntheticSet(run.id, { id, file: relative, sha256: await sha256File(file), series: args.n, seed }, sup.actor);
}
