/**
 * CSV -> column stores on every core. The file is cut into pieces at line feeds (csv-pieces.ts); this
 * thread and os.availableParallelism() - 1 worker threads (csv-worker.ts) take pieces in turn, first to
 * count their line feeds, which gives each piece a slot of rows in shared column arrays, then to read
 * them into stores that write straight into their slots. The pieces' stores are then merged into one
 * store per column (store-merge.ts): the numbers stay where they were written (only the gaps left by
 * blank lines are closed), labels are merged and codes renumbered in place.
 *
 * Only for UTF-8 files of at least `minBytes`. Null whenever the result might differ from reading in one
 * thread (a piece failed: a field count, a quoted field over a piece's end, invalid UTF-8, a store past
 * its slot; or stores that cannot be merged): the caller then reads the file in one thread, which gives
 * the errors and messages it always gave.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { ByteCsvTokenizer } from './csv-bytes.ts';
import type { StoreMode } from './columns.ts';
import { countLineFeeds, readPiece, splitAtLineFeeds, type PieceBounds, type PieceFailure, type PieceJob, type PieceResult, type PieceSetup, type SharedSlots } from './csv-pieces.ts';
import { cellText, headerNames, sniffDialect, SAMPLE_BYTES, type CsvDialect } from './csv-records.ts';
import { decoderFor, type TextEncoding } from './decode.ts';
import { jobsTakenBy, newJobBoard, stopJobs, takeNext, type JobBoard, type Phase, type WorkerStart } from './parallel-jobs.ts';
import type { ReadProgress } from './options.ts';
import { mergeStorePieces, type PiecePlace } from './store-merge.ts';
import { LineMap, type ColumnTable, type StorePlan } from './table.ts';
import { MAX_CELL_CHARS } from './values.ts';

export interface ParallelCsvTuning {
  /** Threads reading, this one included (1: never in parallel). */
  threads: number;
  /** About how many bytes a piece holds. */
  pieceBytes: number;
  /** Smaller files are read in one thread (starting workers costs more than it saves). */
  minBytes: number;
  /** This thread reads pieces too; else only the workers do (tests: every piece goes through one). */
  mainReads: boolean;
}

const DEFAULTS: ParallelCsvTuning = { threads: os.availableParallelism(), pieceBytes: 16 << 20, minBytes: 32 << 20, mainReads: true };
let tuning = { ...DEFAULTS };

/** Change how files are cut and among how many threads (tests take small pieces); returns the undo. */
export function tuneParallelCsv(change: Partial<ParallelCsvTuning>): () => void {
  tuning = { ...tuning, ...change };
  return () => {
    tuning = { ...DEFAULTS };
  };
}

/** A sampled column with at most this many distinct cells starts with 1-byte codes. */
const FEW_LABELS = 16;
/** Records of the first chunk looked at for that. */
const SAMPLED_RECORDS = 1000;

/** What the first chunk says: the dialect, header, what each column keeps, and where the text starts. */
interface Head {
  dialect: CsvDialect;
  names: string[];
  warnings: string[];
  modes: StoreMode[];
  textStart: number;
  codeBytes: (1 | 2)[];
}

export async function readCsvParallel(file: string, plan: StorePlan, delimiter?: string, onProgress?: ReadProgress, encoding?: TextEncoding): Promise<ColumnTable | null> {
  const { threads, pieceBytes, minBytes, mainReads } = tuning;
  let size: number;
  let head: Head | null;
  let bounds: PieceBounds[];
  try {
    size = fs.statSync(file).size;
    if (threads < 2 || size < minBytes) return null;
    const fd = fs.openSync(file, 'r');
    try {
      head = readHead(file, fd, size, plan, delimiter, encoding);
      if (!head) return null;
      bounds = splitAtLineFeeds(fd, head.textStart, size, pieceBytes);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null; // the one-thread reader says what is wrong
  }
  if (bounds.length < 2) return null;

  const team = new Team(file, bounds, Math.min(threads, bounds.length) - 1, mainReads);
  try {
    return await readInPieces(file, head, bounds, team, onProgress, size);
  } catch {
    return null; // as for a piece that fails: the one-thread reader, which says what is wrong if anything is
  } finally {
    await team.stop();
  }
}

/** The pieces counted, given their slots, read and merged by the team; null when a piece failed or would not merge. */
async function readInPieces(file: string, head: Head, bounds: PieceBounds[], team: Team, onProgress: ReadProgress | undefined, size: number): Promise<ColumnTable | null> {
  const lineFeeds = await team.count();
  if (!lineFeeds) return null;
  const last = bounds.length - 1;
  // Data records: at most one per line feed (the header takes one; the last piece may end without one).
  const capacities = lineFeeds.map((n, k) => Math.max(0, n - (k === 0 ? 1 : 0) + (k === last ? 1 : 0)));
  const totalCapacity = capacities.reduce((a, n) => a + n, 0);
  if (totalCapacity >= 2 ** 31 - 1) return null;
  let slotRow = 0;
  const jobs: PieceJob[] = bounds.map((b, k) => {
    const job = { ...b, index: k, header: k === 0, slotRow, capacity: capacities[k] };
    slotRow += capacities[k];
    return job;
  });
  const slots = head.modes.map((mode, j) => sharedSlots(mode, head.codeBytes[j], totalCapacity));
  const letGo = new SharedArrayBuffer(4 * head.modes.length);
  const setup: PieceSetup = { file, delimiter: head.dialect.delimiter, decimalComma: head.dialect.decimalComma, modes: head.modes, slots, letGo };
  const results = await team.read(setup, jobs, (done) => onProgress?.(done, size, 'bytes'));
  if (!results) return null;
  const table = mergePieces(file, head, slots, jobs, results);
  if (table) onProgress?.(size, size, 'bytes');
  return table;
}

/** Dialect, header and store modes from the file's first chunk; null when not plain UTF-8 or the header is not in it. */
function readHead(file: string, fd: number, size: number, plan: StorePlan, delimiter?: string, encoding?: TextEncoding): Head | null {
  const first = Buffer.alloc(Math.min(size, SAMPLE_BYTES));
  fs.readSync(fd, first, 0, first.length, 0);
  const decoder = decoderFor(file, first, encoding);
  if (decoder.name !== 'UTF-8') return null;
  const decoded = decoder.decodeBytes(first);
  if (decoded.bad) return null;
  let chunk = decoded.bytes;
  // The decoder skipped a byte order mark: the text starts where its bytes do.
  let textStart = chunk.byteOffset - first.byteOffset;
  // A second byte order mark, as read-csv.ts strips it.
  if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
    chunk = chunk.subarray(3);
    textStart += 3;
  }
  const dialect = sniffDialect(file, chunk, delimiter);
  const warnings: string[] = [];
  let names: string[] | null = null;
  let seen: Set<string>[] = [];
  let sampled = 0;
  new ByteCsvTokenizer(
    dialect.delimiter,
    (record) => {
      if (!names) {
        names = headerNames(file, record, dialect, warnings);
        seen = names.map(() => new Set());
      } else if (record.count === names.length && sampled++ < SAMPLED_RECORDS) {
        for (let j = 0; j < record.count; j++) if (seen[j].size <= FEW_LABELS) seen[j].add(cellText(record, j));
      }
    },
    MAX_CELL_CHARS,
  ).push(chunk);
  if (!names) return null;
  const modes = plan(names);
  // Codes in 1 byte for an automatic column of few values so far (attributes); series ids and the rest in 2.
  const codeBytes = modes.map((mode, j): 1 | 2 => (mode === 'auto' && sampled > 0 && seen[j].size <= FEW_LABELS ? 1 : 2));
  return { dialect, names, warnings, modes, textStart, codeBytes };
}

function sharedSlots(mode: StoreMode, codeBytes: 1 | 2, rows: number): SharedSlots {
  return {
    numbers: mode === 'auto' || mode === 'number' || mode === 'time' ? new SharedArrayBuffer(rows * 8) : undefined,
    codes: mode === 'auto' || mode === 'label' || mode === 'time' ? new SharedArrayBuffer(rows * codeBytes) : undefined,
    codeBytes,
  };
}

/** The pieces' stores merged into one table; null when a column's pieces cannot be merged or there are no rows. */
function mergePieces(file: string, head: Head, slots: SharedSlots[], jobs: PieceJob[], results: PieceResult[]): ColumnTable | null {
  const places: PiecePlace[] = [];
  let rows = 0;
  for (let k = 0; k < jobs.length; k++) {
    places.push({ slotRow: jobs[k].slotRow, row: rows });
    rows += results[k].rows;
  }
  if (rows === 0) return null;
  const stores = [];
  for (let j = 0; j < head.modes.length; j++) {
    const { numbers, codes, codeBytes } = slots[j];
    const whole = { numbers: numbers && new Float64Array(numbers), codes: codes && (codeBytes === 1 ? new Int8Array(codes) : new Int16Array(codes)) };
    const store = mergeStorePieces(
      head.modes[j],
      results.map((r) => r.stores[j]),
      places,
      rows,
      whole,
    );
    if (!store) return null;
    stores.push(store);
  }
  const lines = new LineMap();
  let line = 0;
  for (let k = 0; k < results.length; k++) {
    lines.append(results[k].lines, results[k].rows, places[k].row, line);
    line += results[k].lineBreaks;
  }
  return {
    file,
    format: 'csv',
    names: head.names,
    stores,
    rows,
    rowNumber: (r) => lines.lineOf(r),
    where: (r) => `line ${lines.lineOf(r)}`,
    warnings: head.warnings,
    delimiter: head.dialect.delimiter,
  };
}

// The worker runs csv-worker.ts: compiled beside this file, or the TypeScript through tsx (which a worker
// does not inherit from its parent), registered in the worker when the plain import does not know .ts; the
// second import asks for another URL, as a failed import stays failed for its URL.
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './csv-worker.ts' : './csv-worker.js', import.meta.url).href;
const TSX_API = (() => {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return undefined;
  }
})();
const BOOT = `const { workerData } = require('node:worker_threads');
import(workerData.entry).catch(async (error) => {
  if (error?.code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !workerData.tsx) throw error;
  (await import(workerData.tsx)).register();
  await import(workerData.entry + '?tsx');
});`;

/** This thread and the workers, taking jobs from one board; results come back by message. */
class Team {
  private readonly board: JobBoard;
  private readonly workers: Worker[] = [];
  private readonly lineFeeds: (number | undefined)[];
  private readonly results: (PieceResult | PieceFailure | undefined)[];
  private failed = false;
  private wake: (() => void) | null = null;
  /** Bytes of pieces read, for progress: this thread's as it reads, the workers' as they finish. */
  private bytesRead = 0;

  /** Workers started and not lost. */
  private working = 0;

  constructor(
    private readonly file: string,
    private readonly bounds: PieceBounds[],
    helpers: number,
    /** This thread takes jobs too. */
    private readonly mainReads: boolean,
  ) {
    this.board = newJobBoard(bounds.length);
    // Filled, not holes: every() skips holes.
    this.lineFeeds = new Array(bounds.length).fill(undefined);
    this.results = new Array(bounds.length).fill(undefined);
    for (let id = 1; id <= helpers; id++) {
      const start: WorkerStart = { id, file, bounds, shared: this.board };
      const worker = new Worker(BOOT, { eval: true, workerData: { ...start, entry: WORKER_ENTRY, tsx: TSX_API } });
      worker.on('message', (message: { kind: 'count'; index: number; lineFeeds: number } | { kind: 'read'; result: PieceResult | PieceFailure }) => {
        if (message.kind === 'count') this.lineFeeds[message.index] = message.lineFeeds;
        else this.finished(message.result, bounds[message.result.index]);
        this.notify();
      });
      // A worker that dies (or never starts) only matters if it held a job, or was the last to take them.
      let gone = false;
      const lost = () => {
        if (gone) return;
        gone = true;
        this.working--;
        if (this.holds(id, 'count', this.lineFeeds) || this.holds(id, 'read', this.results) || (this.working === 0 && !this.mainReads)) this.fail();
      };
      worker.on('error', lost);
      worker.on('exit', lost);
      this.workers.push(worker);
      this.working++;
    }
  }

  /** Line feeds per piece, or null when a thread failed. */
  async count(): Promise<number[] | null> {
    const fd = fs.openSync(this.file, 'r');
    try {
      const scratch = Buffer.allocUnsafe(1 << 20);
      for (let k = this.take('count'); k >= 0; k = this.take('count')) {
        this.lineFeeds[k] = countLineFeeds(fd, this.bounds[k], scratch);
        await nextTurn();
      }
    } finally {
      fs.closeSync(fd);
    }
    await this.until(() => this.lineFeeds.every((n) => n !== undefined));
    return this.failed ? null : (this.lineFeeds as number[]);
  }

  /** Every piece read, or null when one failed. `progress` gets the bytes read so far. */
  async read(setup: PieceSetup, jobs: PieceJob[], progress: (bytes: number) => void): Promise<PieceResult[] | null> {
    for (const worker of this.workers) worker.postMessage({ kind: 'read', setup, jobs });
    const onRead = async (bytes: number) => {
      this.bytesRead += bytes;
      progress(this.bytesRead);
      await nextTurn(); // the workers' messages, and whatever else this thread serves
    };
    for (let k = this.take('read'); k >= 0 && !this.failed; k = this.take('read')) {
      const result = await readPiece(setup, jobs[k], onRead);
      this.results[k] = result;
      if ('failed' in result) this.fail();
    }
    await this.until(() => this.results.every((r) => r !== undefined));
    return this.failed ? null : (this.results as PieceResult[]);
  }

  /** This thread's next job of the phase, or -1 (none left, or it leaves them to the workers). */
  private take(phase: Phase): number {
    return this.mainReads || this.workers.length === 0 ? takeNext(this.board, phase, 0) : -1;
  }

  async stop(): Promise<void> {
    stopJobs(this.board);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private finished(result: PieceResult | PieceFailure, bounds: PieceBounds): void {
    this.results[result.index] = result;
    if ('failed' in result) this.fail();
    this.bytesRead += bounds.end - bounds.start;
  }

  private holds(id: number, phase: Phase, done: unknown[]): boolean {
    return jobsTakenBy(this.board, phase, id).some((k) => done[k] === undefined);
  }

  private fail(): void {
    this.failed = true;
    stopJobs(this.board);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Until `done()` or a failure. */
  private async until(done: () => boolean): Promise<void> {
    while (!this.failed && !done()) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}
