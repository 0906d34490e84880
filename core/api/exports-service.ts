/**
 * What leaves a project: synthetic data in a chosen format, the dossier, the model file, and copies
 * of any of them to a place the user picked; each recorded as an export of its run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { formatOf, writeDatasetParts } from '../export/index.ts';
import { withoutRealSeries } from '../eval/index.ts';
import { sha256File, type Store } from '../store/index.ts';
import { runDatasets } from '../train/run-folder.ts';
import { ApiError } from '../util/errors.ts';
import type { MethodArgs } from './contract.ts';
import { readLike } from './evaluate.ts';
import { readEvaluation, runView } from './evaluations-service.ts';
import { exportModel as writeModelFile } from './model-export.ts';
import { runDir, type ServiceContext } from './service-context.ts';
import { dossierSection } from './views.ts';

/** A synthetic set's run, its evaluations and the run's exports (newest first), for the Export screen. */
export function listExports(store: Store, args: MethodArgs<'exports.list'>) {
  const synthetic = store.getSyntheticSet(args.syntheticId);
  const run = store.getRun(synthetic.runId);
  const exports = store
    .listExports(run.id)
    .reverse()
    .map((e) => ({ ...e, path: path.isAbsolute(e.file) ? e.file : store.resolve(run.projectId, e.file) }));
  return {
    synthetic,
    run: runView(store, run),
    project: { id: run.projectId, name: store.getProject(run.projectId).name },
    evaluations: store.listEvaluations(run.id).filter((e) => e.syntheticId === synthetic.id),
    exports,
  };
}

/** The dossier: the evaluation's report with the settings, the DP guarantee and the sharing recommendation; recorded as an export. */
export async function createDossier(ctx: ServiceContext, args: MethodArgs<'exports.dossier'>) {
  const { store } = ctx;
  const evaluation = store.getEvaluation(args.evaluationId);
  const run = store.getRun(evaluation.runId);
  // the dossier goes with shared data: the report's real series stay behind
  const report = withoutRealSeries(fs.readFileSync(store.resolve(run.projectId, `${evaluation.dir}/report.html`), 'utf8'));
  if (report === null)
    throw new ApiError('conflict', 'this evaluation was written by an older version, whose report cannot leave out the real series it plots', {
      hint: { text: 'evaluate the synthetic data again, then make the dossier from the new evaluation', action: 'evaluate' },
    });
  const view = runView(store, run);
  const added = dossierSection({
    projectName: store.getProject(run.projectId).name,
    datasetName: store.getDataset(run.datasetId).name,
    runLabel: view.label,
    settings: view.settings,
    plan: run.plan,
    review: readEvaluation(store, evaluation, run.projectId).privacy,
    createdAt: new Date().toISOString(),
  });
  const html = report.replace('<title>', '<title>Dossier: ').replace(/(<h1>)([^<]*)(<\/h1>)/, `$1Dossier: $2$3\n${added}`);
  const id = crypto.randomUUID();
  const relative = `exports/${id}-dossier.html`;
  const file = store.resolve(run.projectId, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, html);
  const exported = store.addExport(
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
    ctx.actor,
  );
  return { ...exported, path: file };
}

/** Writes a synthetic set in the asked format and layout into the project's exports folder. */
export async function createExport(ctx: ServiceContext, args: MethodArgs<'exports.create'>) {
  const { store } = ctx;
  const synthetic = store.getSyntheticSet(args.syntheticId);
  const run = store.getRun(synthetic.runId);
  const { train } = runDatasets(runDir(store, run));
  const data = await readLike(store.resolve(run.projectId, synthetic.file), {}, train);
  const id = crypto.randomUUID();
  const relative = `exports/${id}.${args.format}`;
  const file = store.resolve(run.projectId, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  formatOf(file);
  const written = await writeDatasetParts([data], file, args.layout ? { layout: args.layout } : {});
  return store.addExport(
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
    ctx.actor,
  );
}

/**
 * The run's model as a shareable file (core/api/model-export.ts), recorded as an export of the run: into
 * the project's exports folder, or to `path` when given.
 */
export async function exportModel(ctx: ServiceContext, args: MethodArgs<'runs.exportModel'>) {
  const { store } = ctx;
  const run = store.getRun(args.runId);
  const id = crypto.randomUUID();
  const relative = `exports/${id}-model.dgm`;
  const file = args.path ?? store.resolve(run.projectId, relative);
  if (!args.path) fs.mkdirSync(path.dirname(file), { recursive: true });
  const written = writeModelFile({ runDir: runDir(store, run), out: file, version: ctx.version });
  const exported = store.addExport(
    run.id,
    {
      id,
      file: args.path ? written.file : relative,
      format: 'dgm',
      sha256: await sha256File(written.file),
      bytes: written.bytes,
      settings: { kind: 'model', iteration: written.iteration, ...(written.privacy ? { privacy: written.privacy } : {}) },
    },
    ctx.actor,
  );
  return { ...exported, path: written.file };
}

/** Copies an export to a place the user picked. */
export async function copyExport(store: Store, args: MethodArgs<'exports.copyTo'>) {
  const exported = store.getExport(args.exportId);
  const run = store.getRun(exported.runId);
  fs.copyFileSync(store.resolve(run.projectId, exported.file), args.path);
  return { path: args.path, sha256: exported.sha256 };
}
