/**
 * Training: planning a run from settings, starting one in a worker and resuming one from its last
 * checkpoint (run-supervisor.ts follows the worker from there).
 */
import fs from 'node:fs';
import path from 'node:path';
import { hidingOptions, replaceSpecOf } from '../privacy/hiding.ts';
import type { Store } from '../store/index.ts';
import { RUN_FILES } from '../train/run-folder.ts';
import { ApiError } from '../util/errors.ts';
import type { MethodArgs, TrainSettings } from './contract.ts';
import { loadDataset } from './datasets-service.ts';
import { launchRun, type Supervision } from './run-supervisor.ts';
import { runDir } from './service-context.ts';
import { estimateTraining, prepareTraining } from './training.ts';

/** What training with these settings would do (plan, model, DP budget, hiding, time estimate), without starting it. */
export async function planTraining(store: Store, args: MethodArgs<'training.plan'>) {
  const { dataset } = await loadDataset(store, args.datasetId);
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

/** Records a new run and starts its worker. */
export async function startRun(sup: Supervision, args: MethodArgs<'runs.start'>) {
  const { store } = sup;
  const { dataset, file, schema, schemaVersion } = await loadDataset(store, args.datasetId);
  const record = store.getDataset(args.datasetId);
  const settings = args.settings as TrainSettings;
  // Plans (and refuses bad settings) before anything is written or launched.
  const prepared = await prepareTraining({ ...settings, data: { dataset, label: record.name } });
  const id = crypto.randomUUID();
  const run = store.createRun(
    record.projectId,
    { id, datasetId: record.id, schemaVersion, settings, plan: prepared.plan, status: 'running', totalIterations: prepared.plan.totalIterations, runDir: `runs/${id}` },
    sup.actor,
  );
  launchRun(sup, run, { type: 'start', runDir: runDir(store, run), data: { file, options: { schema } }, settings });
  return store.getRun(id);
}

/** Starts a stopped run's worker again from its last checkpoint (further, when given more iterations). */
export function resumeRun(sup: Supervision, args: MethodArgs<'runs.resume'>) {
  const { store } = sup;
  const run = store.getRun(args.runId);
  if (sup.live.has(run.id)) throw new ApiError('conflict', `run ${run.id} is already training`);
  if (run.status === 'complete' && !args.iterations)
    throw new ApiError('conflict', `run ${run.id} is complete`, { hint: { text: 'give a larger number of iterations to train further', option: 'iterations' } });
  if (!fs.existsSync(path.join(runDir(store, run), RUN_FILES.checkpoint))) {
    throw new ApiError('conflict', `run ${run.id} has no checkpoint to resume from (it stopped before its first one)`, { hint: { text: 'start a new run', action: 'runs.start' } });
  }
  store.updateRun(run.id, { status: 'running', ...(args.iterations ? { totalIterations: args.iterations } : {}) }, sup.actor);
  launchRun(sup, store.getRun(run.id), { type: 'resume', runDir: runDir(store, run), ...(args.iterations ? { iterations: args.iterations } : {}) });
  return store.getRun(run.id);
}
