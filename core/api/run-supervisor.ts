/**
 * The training workers: launching one for a run, following its reports into the store and the event
 * stream, stopping it (pause or cancel) and waiting for it to exit.
 */
import type { RunRecord } from '../store/index.ts';
import { ApiError } from '../util/errors.ts';
import { numericLosses, syncIteration } from './run-folder-sync.ts';
import type { ServiceContext } from './service-context.ts';
import type { RunProgress } from './training.ts';
import type { SampleSeries, WorkerHandle, WorkerReport } from './worker-protocol.ts';

/** Progress events per run and second at most (training can step hundreds of times a second). */
const EVENTS_PER_SECOND = 5;

export interface LiveRun {
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

/** The service's running workers by run id, and how to launch another. */
export interface Supervision extends ServiceContext {
  readonly live: Map<string, LiveRun>;
  readonly launchWorker: () => WorkerHandle;
}

export function launchRun(sup: Supervision, run: RunRecord, command: Parameters<WorkerHandle['send']>[0]): void {
  const worker = sup.launchWorker();
  const plan = run.plan as { iterationsPerEpoch?: number } | null;
  const live: LiveRun = { worker, projectId: run.projectId, finished: false, lastEvent: 0, logEvery: Math.max(1, Math.floor(plan?.iterationsPerEpoch ?? 1)), pending: [] };
  sup.live.set(run.id, live);
  sup.store.updateRun(run.id, { workerPid: worker.pid ?? null, error: null }, sup.actor);
  worker.onMessage((message) => onWorkerReport(sup, run.id, live, message));
  worker.onExit((code) => onWorkerExit(sup, run.id, live, code));
  worker.send(command);
  emitRunStatus(sup, run.id);
}

export function emitRunStatus(ctx: ServiceContext, runId: string, message?: string): void {
  const run = ctx.store.getRun(runId);
  ctx.emit({ type: 'run.status', runId, projectId: run.projectId, status: run.status, iteration: run.iteration, totalIterations: run.totalIterations ?? 0, ...(message ? { message } : {}) });
}

function flushSamples(ctx: ServiceContext, runId: string, live: LiveRun): void {
  if (live.pending.length === 0) return;
  ctx.store.addProgressSamples(
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

function onWorkerReport(ctx: ServiceContext, runId: string, live: LiveRun, message: WorkerReport): void {
  switch (message.type) {
    case 'log':
      ctx.emit({ type: 'run.log', runId, message: message.message });
      return;
    case 'progress': {
      const p = message.progress;
      if (p.iteration % live.logEvery === 0 || p.iteration === p.totalIterations) live.pending.push(p);
      const now = Date.now();
      if (now - live.lastEvent < 1000 / EVENTS_PER_SECOND && p.iteration !== p.totalIterations) return;
      live.lastEvent = now;
      ctx.emit({
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
      flushSamples(ctx, runId, live);
      ctx.store.updateRun(runId, { iteration: message.iteration }, ctx.actor);
      return;
    case 'samples':
      live.samples = { iteration: message.iteration, samples: message.samples };
      ctx.emit({ type: 'run.samples', runId, iteration: message.iteration, samples: message.samples });
      return;
    case 'done': {
      live.finished = true;
      flushSamples(ctx, runId, live);
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
      ctx.store.updateRun(runId, { status, iteration: s.iteration, totalIterations: s.totalIterations, engine: s.engine, summary, workerPid: null }, ctx.actor);
      emitRunStatus(ctx, runId);
      return;
    }
    case 'failed':
      live.finished = true;
      flushSamples(ctx, runId, live);
      ctx.store.updateRun(runId, { status: 'failed', error: message.error, workerPid: null }, ctx.actor);
      emitRunStatus(ctx, runId, message.error.message);
      return;
  }
}

function onWorkerExit(sup: Supervision, runId: string, live: LiveRun, code: number | null): void {
  sup.live.delete(runId);
  if (live.finished) return;
  // Gone without a word (a crash, killed): the run folder is at its last checkpoint.
  flushSamples(sup, runId, live);
  sup.store.updateRun(runId, { status: 'interrupted', workerPid: null, error: { code: 'internal', message: `the training process ended unexpectedly (exit ${code ?? 'by signal'})` } }, sup.actor);
  syncIteration(sup.store, runId);
  emitRunStatus(sup, runId, 'the training process ended unexpectedly; resume continues from the last checkpoint');
}

/** Asks the run's worker to stop (pause or cancel); a run with no worker can still be cancelled. */
export function stopRun(sup: Supervision, runId: string, as: 'paused' | 'cancelled') {
  const run = sup.store.getRun(runId);
  const live = sup.live.get(runId);
  if (live) {
    live.stopAs = as;
    live.worker.send({ type: 'stop' });
    return { ...run, stopping: true };
  }
  if (as === 'paused') throw new ApiError('conflict', `run ${runId} is not training (it is ${run.status})`, { hint: { text: 'resume it to train further', action: 'runs.resume' } });
  if (run.status === 'complete' || run.status === 'cancelled') throw new ApiError('conflict', `run ${runId} is already ${run.status}`);
  const cancelled = sup.store.updateRun(runId, { status: 'cancelled' }, sup.actor);
  emitRunStatus(sup, runId);
  return { ...cancelled, stopping: false };
}

/** Resolves when the run's worker has exited (at once when none is running). */
export function waitForRun(sup: Supervision, runId: string): Promise<RunRecord> {
  const live = sup.live.get(runId);
  if (!live) return Promise.resolve(sup.store.getRun(runId));
  return new Promise((resolve) => live.worker.onExit(() => setImmediate(() => resolve(sup.store.getRun(runId)))));
}

/** Stops every worker (each checkpoints first) and waits for them. */
export async function stopAllRuns(sup: Supervision): Promise<void> {
  const waiting = [...sup.live.entries()].map(([runId, live]) => {
    live.stopAs = 'paused';
    live.worker.send({ type: 'stop' });
    return waitForRun(sup, runId);
  });
  await Promise.all(waiting);
}
