/**
 * A worker thread of read-csv-parallel.ts: counts line feeds of pieces, then reads pieces into their
 * slots, taking the next piece of each phase from a shared counter until none is left.
 */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { countLineFeeds, readPiece, type PieceJob, type PieceSetup } from './csv-pieces.ts';
import { takeNext, type WorkerStart } from './parallel-jobs.ts';

const start = workerData as WorkerStart;
const port = parentPort!;

const fd = fs.openSync(start.file, 'r');
const scratch = Buffer.allocUnsafe(1 << 20);
for (let k = takeNext(start.shared, 'count', start.id); k >= 0; k = takeNext(start.shared, 'count', start.id)) {
  port.postMessage({ kind: 'count', index: k, lineFeeds: countLineFeeds(fd, start.bounds[k], scratch) });
}
fs.closeSync(fd);

port.on('message', async (message: { kind: 'read'; setup: PieceSetup; jobs: PieceJob[] }) => {
  for (let k = takeNext(start.shared, 'read', start.id); k >= 0; k = takeNext(start.shared, 'read', start.id)) {
    const result = await readPiece(message.setup, message.jobs[k]);
    // Codes that widened out of their slot are handed over, not copied.
    const own = 'stores' in result ? result.stores.flatMap((s) => (s.codes && s.codes !== 'slot' ? [s.codes.buffer as ArrayBuffer] : [])) : [];
    port.postMessage({ kind: 'read', result }, own);
  }
});
