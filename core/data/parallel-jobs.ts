/**
 * The jobs board threads share when reading one file together (read-csv-parallel.ts, csv-worker.ts): per
 * phase the next job to take, who took each job (to tell whether a thread that died held one), and a
 * stop flag. Jobs are taken in order, so pieces are read roughly front to back.
 */
import type { PieceBounds } from './csv-pieces.ts';

export type Phase = 'count' | 'read';

/** Int32 cells: [next count job, next read job, stop], then each job's owner per phase (thread number + 1; 0: not taken). */
export interface JobBoard {
  cells: SharedArrayBuffer;
  jobs: number;
}

/** What a worker starts with. */
export interface WorkerStart {
  /** The thread's number: 0 is the main thread, workers are 1, 2, ... */
  id: number;
  file: string;
  bounds: PieceBounds[];
  shared: JobBoard;
}

const NEXT = { count: 0, read: 1 } as const;
const STOP = 2;
const OWNERS = 3;

export function newJobBoard(jobs: number): JobBoard {
  return { cells: new SharedArrayBuffer(4 * (OWNERS + 2 * jobs)), jobs };
}

/** Take the phase's next job for thread `id`: its index, or -1 when none is left or the board says stop. */
export function takeNext(board: JobBoard, phase: Phase, id: number): number {
  const cells = new Int32Array(board.cells);
  if (Atomics.load(cells, STOP) !== 0) return -1;
  const k = Atomics.add(cells, NEXT[phase], 1);
  if (k >= board.jobs) return -1;
  Atomics.store(cells, ownerCell(board, phase, k), id + 1);
  return k;
}

/** Jobs of the phase taken by thread `id`. */
export function jobsTakenBy(board: JobBoard, phase: Phase, id: number): number[] {
  const cells = new Int32Array(board.cells);
  const taken: number[] = [];
  for (let k = 0; k < board.jobs; k++) if (Atomics.load(cells, ownerCell(board, phase, k)) === id + 1) taken.push(k);
  return taken;
}

/** No thread takes another job. */
export function stopJobs(board: JobBoard): void {
  Atomics.store(new Int32Array(board.cells), STOP, 1);
}

const ownerCell = (board: JobBoard, phase: Phase, k: number) => OWNERS + (phase === 'count' ? 0 : board.jobs) + k;
