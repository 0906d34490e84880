/**
 * The training worker's entry point: runs one training (start or resume) in its own process, so the
 * service's process (and the UI) stays responsive and a crash leaves the run folder at its last
 * checkpoint. Reports go to the parent; a `stop` command or a lost parent checkpoints and stops.
 */
import path from 'node:path';
import { generateFromRun, writeJson } from '../train/run-folder.ts';
import { errorData } from '../util/errors.ts';
import { SAMPLES_FILE, type SampleSeries, type WorkerCommand, type WorkerReport } from './worker-protocol.ts';
import { resumeTraining, startTraining, type RunHooks } from './training.ts';

/** Series generated after each checkpoint for the live view (from their own seed: training is unaffected). */
const SAMPLE_SERIES = 3;

export function workerHooks(runDir: string, report: (message: WorkerReport) => void, signal: AbortSignal, seed: number): RunHooks {
  return {
    signal,
    onLog: (message) => report({ type: 'log', message }),
    onProgress: (progress) => report({ type: 'progress', progress }),
    afterCheckpoint: async (iteration, status) => {
      report({ type: 'checkpoint', iteration, status });
      const generated = await generateFromRun({ runDir, n: SAMPLE_SERIES, seed: seed + 0x5eed });
      const samples: SampleSeries[] = generated.series.map((s) => ({ attributes: s.attributes, features: s.features.map((f) => Array.from(f as ArrayLike<number | string>)) }));
      writeJson(path.join(runDir, SAMPLES_FILE), { iteration, samples });
      report({ type: 'samples', iteration, samples });
    },
  };
}

async function run(command: WorkerCommand, report: (message: WorkerReport) => void, signal: AbortSignal): Promise<void> {
  if (command.type === 'start') {
    const hooks = workerHooks(command.runDir, report, signal, command.settings.seed ?? 0);
    report({ type: 'done', summary: await startTraining({ ...command.settings, data: command.data, runDir: command.runDir }, hooks) });
  } else if (command.type === 'resume') {
    const hooks = workerHooks(command.runDir, report, signal, 0);
    report({ type: 'done', summary: await resumeTraining(command.runDir, hooks, command.iterations ? { iterations: command.iterations } : {}) });
  }
}

/** Wires a worker to its parent: `send` reports, `receive` subscribes to commands, `onParentGone` when the channel closes. */
export function serveWorker(io: {
  send: (m: WorkerReport) => void;
  receive: (listener: (m: WorkerCommand) => void) => void;
  onParentGone: (listener: () => void) => void;
  exit: (code: number) => void;
}): void {
  const controller = new AbortController();
  let started = false;
  io.onParentGone(() => controller.abort());
  io.receive((command) => {
    if (command.type === 'stop') return controller.abort();
    if (started) return;
    started = true;
    run(command, io.send, controller.signal).then(
      () => io.exit(0),
      (error) => {
        io.send({ type: 'failed', error: errorData(error) });
        io.exit(1);
      },
    );
  });
}

// Started by Node's fork (browser mode, tests): talk over the IPC channel.
if (process.send && process.argv.includes('--dg-training-worker')) {
  // sends not yet handed to the channel: exiting before they are loses the last report (under load a
  // 'done' sent just before exit did not arrive, and the service saw the worker end unexpectedly)
  let pending = 0;
  let whenFlushed: (() => void) | undefined;
  serveWorker({
    // after the parent is gone, reports have nowhere to go: the run folder keeps what matters
    send: (m) => {
      if (!process.connected) return;
      pending++;
      process.send?.(m, undefined, {}, (error) => {
        pending--;
        // a failed send (EPIPE: the parent died before the channel closed) is the parent gone too
        if (error && process.connected) process.disconnect?.();
        if (pending === 0) whenFlushed?.();
      });
    },
    receive: (listener) => process.on('message', (m) => listener(m as WorkerCommand)),
    onParentGone: (listener) => process.on('disconnect', listener),
    // the last messages first (or 10 s at most, should the channel hang)
    exit: (code) => {
      const leave = () => process.exit(code);
      if (pending === 0 || !process.connected) return setImmediate(leave);
      whenFlushed = leave;
      setTimeout(leave, 10_000).unref();
    },
  });
}
