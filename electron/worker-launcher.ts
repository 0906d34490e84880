/**
 * The app's way to start a training worker: Electron's utilityProcess (a Node process Electron manages,
 * off the main thread and the renderer). Browser mode and the tests use core/api/worker-launcher.ts
 * (Node's child_process.fork) instead; both match core/api/worker-protocol.ts's LaunchWorker.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { utilityProcess } from 'electron';
import type { LaunchWorker, WorkerCommand, WorkerReport } from '../core/api/worker-protocol.ts';

/** The bundled worker entry (electron/training-worker.ts, built beside main.mjs by electron/build.ts). */
export const BUNDLED_WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'training-worker.mjs');

/**
 * Starts `modulePath` in a utility process. Electron cannot run TypeScript, so a `.ts` module (the
 * service's WORKER_MODULE, core/api/worker.ts) is replaced by its bundle, electron/dist/training-worker.mjs.
 */
export const launchUtilityWorker: LaunchWorker = (modulePath) => {
  const entry = modulePath.endsWith('.ts') ? BUNDLED_WORKER : modulePath;
  const child = utilityProcess.fork(entry, ['--dg-training-worker'], { serviceName: 'DoppelGANger Studio training', stdio: 'inherit' });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  return {
    get pid() {
      return child.pid;
    },
    send(message: WorkerCommand) {
      if (!exited) child.postMessage(message);
    },
    onMessage(listener: (message: WorkerReport) => void) {
      child.on('message', (m: unknown) => listener(m as WorkerReport));
    },
    onExit(listener: (code: number | null) => void) {
      if (exited) listener(null);
      else child.once('exit', (code: number) => listener(code));
    },
    kill() {
      if (!exited) child.kill();
    },
  };
};
