/**
 * Evaluations and what the result screens read from them: evaluating a synthetic set (fidelity and the
 * privacy review), an evaluation with its views, the Evaluate screen's charts and runs side by side.
 */
import fs from 'node:fs';
import type { Metrics } from '../eval/metrics.ts';
import type { PrivacyReview } from '../privacy/review.ts';
import type { EvaluationRecord, RunRecord, Store } from '../store/index.ts';
import { runDatasets } from '../train/run-folder.ts';
import { ApiError } from '../util/errors.ts';
import type { MethodArgs } from './contract.ts';
import { readLike, runEvaluate } from './evaluate.ts';
import { runDir, type ServiceContext } from './service-context.ts';
import { chartsView, compareView, fidelityView, privacyView, runLabel, runSettingsView } from './views.ts';

/** Evaluates a synthetic set against its run's data: fidelity and the privacy review, kept in the evaluation's folder. */
export async function evaluate(ctx: ServiceContext, args: MethodArgs<'evaluations.create'>) {
  const { store } = ctx;
  const synthetic = store.getSyntheticSet(args.syntheticId);
  const run = store.getRun(synthetic.runId);
  const id = crypto.randomUUID();
  const dir = `evaluations/${id}`;
  ctx.emit({ type: 'job.progress', job: `evaluate:${id}`, kind: 'evaluate', done: 0, total: 1, unit: 'evaluation' });
  const result = await runEvaluate({
    real: { runDir: runDir(store, run) },
    synthetic: store.resolve(run.projectId, synthetic.file),
    options: {},
    outDir: store.resolve(run.projectId, dir),
    seed: args.seed,
    log: (message) => ctx.emit({ type: 'run.log', runId: run.id, message }),
  });
  const evaluation = store.addEvaluation(run.id, { id, syntheticId: synthetic.id, dir, summary: { text: result.summary } }, ctx.actor);
  const review = store.addPrivacyReview(
    run.id,
    {
      evaluationId: id,
      file: `${dir}/privacy.json`,
      summary: { statements: result.privacy.statements, strongestAttackAuc: Math.max(...result.privacy.attacks.map((a) => a.auc), 0.5), copiesOfTraining: result.privacy.copies.ofTraining },
    },
    ctx.actor,
  );
  ctx.emit({ type: 'job.progress', job: `evaluate:${id}`, kind: 'evaluate', done: 1, total: 1, unit: 'evaluation' });
  return { evaluation, privacyReview: review, summary: result.summary, statements: result.privacy.statements };
}

/** An evaluation's files: metrics.json and privacy.json. */
export function readEvaluation(store: Store, evaluation: EvaluationRecord, projectId: string) {
  const read = (name: string) => JSON.parse(fs.readFileSync(store.resolve(projectId, `${evaluation.dir}/${name}`), 'utf8')) as unknown;
  return { metrics: read('metrics.json') as Metrics, privacy: read('privacy.json') as PrivacyReview };
}

/** The run as the result screens name it: its number in the project, label and settings. */
export function runView(store: Store, run: RunRecord) {
  const number = store.listRuns(run.projectId).findIndex((r) => r.id === run.id) + 1;
  const settings = runSettingsView(run);
  return { id: run.id, projectId: run.projectId, datasetId: run.datasetId, status: run.status, number, label: runLabel(number, settings), settings };
}

/** The stored results with what the screens show: verdicts and paragraph (fidelity), the review in words and the sharing recommendation (review). */
export function getEvaluation(store: Store, args: MethodArgs<'evaluations.get'>) {
  const evaluation = store.getEvaluation(args.evaluationId);
  const run = store.getRun(evaluation.runId);
  const { metrics, privacy } = readEvaluation(store, evaluation, run.projectId);
  return {
    ...evaluation,
    metrics,
    privacy,
    reportFile: store.resolve(run.projectId, `${evaluation.dir}/report.html`),
    run: runView(store, run),
    project: { id: run.projectId, name: store.getProject(run.projectId).name },
    fidelity: fidelityView(metrics),
    review: privacyView(privacy),
  };
}

/** The Evaluate screen's chart series (reads the run's data and the synthetic file). */
export async function evaluationCharts(store: Store, args: MethodArgs<'evaluations.charts'>) {
  const evaluation = store.getEvaluation(args.evaluationId);
  const run = store.getRun(evaluation.runId);
  if (!evaluation.syntheticId) throw new ApiError('not_found', `evaluation ${evaluation.id} has no synthetic set in this store to draw`);
  const { train, holdout } = runDatasets(runDir(store, run));
  const synthetic = await readLike(store.resolve(run.projectId, store.getSyntheticSet(evaluation.syntheticId).file), {}, train);
  return chartsView(readEvaluation(store, evaluation, run.projectId).metrics, { real: train, synthetic, holdout });
}

/** A project's runs side by side (each with its latest evaluation), for picking the run to release. */
export function compareRuns(store: Store, args: MethodArgs<'runs.compare'>) {
  const all = store.listRuns(args.projectId);
  for (const runId of args.runIds ?? []) if (!all.some((r) => r.id === runId)) throw new ApiError('not_found', `run ${runId} is not in project ${args.projectId}`);
  const inputs = all.flatMap((run, index) => {
    if (args.runIds && !args.runIds.includes(run.id)) return [];
    const latest = store.listEvaluations(run.id).at(-1);
    const evaluation = latest ? { id: latest.id, syntheticId: latest.syntheticId, ...(({ metrics, privacy }) => ({ metrics, review: privacy }))(readEvaluation(store, latest, run.projectId)) } : null;
    return [{ runId: run.id, number: index + 1, createdAt: run.createdAt, status: run.status, settings: runSettingsView(run), evaluation }];
  });
  return compareView(inputs);
}
