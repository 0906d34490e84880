/**
 * The training worker's entry inside Electron's utilityProcess: the same worker as core/api/worker.ts,
 * talking over `process.parentPort` instead of Node's IPC channel. Bundled to
 * electron/dist/training-worker.mjs by electron/build.ts.
 */
import { serveWorker } from '../core/api/worker.ts';
import type { WorkerCommand } from '../core/api/worker-protocol.ts';

const port = process.parentPort;
serveWorker({
  send: (m) => port.postMessage(m),
  receive: (listener) => port.on('message', (e) => listener(e.data as WorkerCommand)),
  // Electron ends utility processes with the app; the worker checkpoints on `stop` before that.
  onParentGone: () => {},
  exit: (code) => setImmediate(() => process.exit(code)),
});
