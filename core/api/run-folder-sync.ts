/**
 * Brings the store up to what a run's folder says, for runs whose worker went on after this process
 * stopped hearing from it (a crash, an app that quit while training).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RunRecord, Store } from '../store/index.ts';
import { readRun, RUN_FILES } from '../train/run-folder.ts';
import { runDir } from './service-context.ts';

/** The losses as numbers by name (DP clipping statistics stay in the run folder). */
export const numericLosses = (losses: object): Record<string, number> => Object.fromEntries(Object.entries(losses).filter(([, v]) => typeof v === 'number'));

/** The run's iteration as its run folder's checkpoint says. */
export function syncIteration(store: Store, runId: string): void {
  const run = store.getRun(runId);
  const file = path.join(runDir(store, run), RUN_FILES.checkpoint);
  if (!fs.existsSync(file)) return;
  const { iteration } = readRun(runDir(store, run)).checkpoint;
  store.updateRun(runId, { iteration }, { actor: 'service' });
  syncProgress(store, run, iteration);
}

/**
 * The curve's points the store missed (its worker went on to a last checkpoint after this process
 * stopped hearing from it), from the run folder's progress.jsonl, up to the checkpoint's iteration.
 */
function syncProgress(store: Store, run: RunRecord, iteration: number): void {
  const file = path.join(runDir(store, run), RUN_FILES.progress);
  if (!fs.existsSync(file)) return;
  const stored = store.listProgressSamples(run.id).at(-1)?.iteration ?? 0;
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
  if (missed.length) store.addProgressSamples(run.id, missed);
}
