/**
 * A CSV file read in stretches ("pieces") by several threads at once (read-csv-parallel.ts runs them, in
 * its own thread and in csv-worker.ts's): where the pieces start (after a line feed), how many line feeds
 * each holds (at most one record per line feed, so before any piece is read each has a slot of that many
 * rows in the shared column arrays), and one piece read into stores that write into their slots.
 *
 * A piece is read as if a record starts where it starts. That holds unless a quoted field spans the line
 * feed before it; then the piece before it ends inside quotes, which its tokenizer reports as an unclosed
 * quote: the piece fails, and the caller reads the whole file in one thread instead (as it does for every
 * other failure, so that errors are the one-thread reader's, word for word).
 */
import { isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import { ByteCsvTokenizer } from './csv-bytes.ts';
import { ColumnStore, type StoreMode, type StorePiece, type StoreSlots } from './columns.ts';
import { storeRecord } from './csv-records.ts';
import { wholeSequencesEnd } from './decode.ts';
import { LineMap, type LineParts } from './table.ts';
import { MAX_CELL_CHARS } from './values.ts';

const LF = 10;
const LET_GO_BITS = { labels: 1, numbers: 2 } as const;
/** Bytes read at a time. */
const READ_BYTES = 1 << 18;

/** Bytes [start, end) of the file. */
export interface PieceBounds {
  start: number;
  end: number;
}

/**
 * Pieces of about `pieceBytes` covering [from, size): each after the first starts just after a line feed
 * (so no UTF-8 sequence or CRLF is cut either).
 */
export function splitAtLineFeeds(fd: number, from: number, size: number, pieceBytes: number): PieceBounds[] {
  const starts = [from];
  const window = Buffer.allocUnsafe(1 << 16);
  for (let at = from + pieceBytes; at < size; ) {
    const n = fs.readSync(fd, window, 0, window.length, at);
    if (n <= 0) break;
    const lf = window.subarray(0, n).indexOf(LF);
    if (lf < 0) {
      at += n;
      continue;
    }
    const start = at + lf + 1;
    if (start >= size) break;
    starts.push(start);
    at = start + pieceBytes;
  }
  return starts.map((start, k) => ({ start, end: k + 1 < starts.length ? starts[k + 1] : size }));
}

/** Line feeds in bytes [start, end) of the file. `buffer` is scratch space. */
export function countLineFeeds(fd: number, { start, end }: PieceBounds, buffer: Buffer): number {
  let count = 0;
  for (let at = start; at < end; ) {
    const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, end - at), at);
    if (n <= 0) break;
    at += n;
    const bytes = n === buffer.length ? buffer : buffer.subarray(0, n);
    for (let i = bytes.indexOf(LF); i >= 0; i = bytes.indexOf(LF, i + 1)) count++;
  }
  return count;
}

/** Room for a column's pieces: shared arrays of one row per slot row; codes in 1 or 2 bytes to start with. */
export interface SharedSlots {
  numbers?: SharedArrayBuffer;
  codes?: SharedArrayBuffer;
  codeBytes: 1 | 2;
}

/** What every piece of a file shares. */
export interface PieceSetup {
  file: string;
  delimiter: string;
  decimalComma: boolean[] | null;
  modes: StoreMode[];
  slots: SharedSlots[];
  /**
   * Int32 per column: bit 1 set when the first piece's store of the column lets its labels go, bit 2 its
   * numbers. That is the whole file's decision (nothing comes before the first piece), so pieces started
   * later keep none either.
   */
  letGo: SharedArrayBuffer;
}

/** One piece to read: its bytes, whether it starts with the header, and its slot rows [slotRow, slotRow + capacity). */
export interface PieceJob extends PieceBounds {
  index: number;
  header: boolean;
  slotRow: number;
  capacity: number;
}

/** A piece read: rows and line breaks it holds, its rows' lines (from its own line 1) and its stores. */
export interface PieceResult {
  index: number;
  rows: number;
  lineBreaks: number;
  lines: LineParts;
  stores: StorePiece[];
}

/** A piece that could not be read as a piece (any problem: the caller reads the file in one thread). */
export interface PieceFailure {
  index: number;
  failed: string;
}

/**
 * Buffers pieces were read into, kept for this thread's next pieces (fresh memory is slow to touch); a
 * pool, as reads of two files may take turns on one thread.
 */
const readBuffers: Buffer[] = [];

/** Views of a column's shared slots for one piece. */
function slotViews(slots: SharedSlots, job: PieceJob): StoreSlots {
  const { slotRow, capacity } = job;
  return {
    numbers: slots.numbers ? new Float64Array(slots.numbers, slotRow * 8, capacity) : undefined,
    codes: slots.codes ? (slots.codeBytes === 1 ? new Int8Array(slots.codes, slotRow, capacity) : new Int16Array(slots.codes, slotRow * 2, capacity)) : undefined,
  };
}

/**
 * Read one piece into stores writing into its slots. `onRead` is told the bytes of each read and awaited
 * (the main thread reports progress and lets its event loop run).
 */
export async function readPiece(setup: PieceSetup, job: PieceJob, onRead?: (bytes: number) => Promise<void>): Promise<PieceResult | PieceFailure> {
  const fd = fs.openSync(setup.file, 'r');
  try {
    const stores = setup.modes.map((mode, j) => new ColumnStore(mode, slotViews(setup.slots[j], job)));
    const gone = new Int32Array(setup.letGo);
    stores.forEach((store, j) => {
      if (job.index === 0) store.onLetGo = (what) => Atomics.or(gone, j, LET_GO_BITS[what]);
      else {
        const bits = Atomics.load(gone, j);
        if (bits & LET_GO_BITS.labels) store.letGo('labels');
        if (bits & LET_GO_BITS.numbers) store.letGo('numbers');
      }
    });
    const width = stores.length;
    const lines = new LineMap();
    let rows = 0;
    let header = job.header;
    const tokenizer = new ByteCsvTokenizer(
      setup.delimiter,
      (record, line) => {
        if (header) {
          header = false;
          return;
        }
        if (record.count !== width) throw new Error(`line ${line} of the piece has ${record.count} fields, not ${width}`);
        storeRecord(record, stores, setup.decimalComma);
        lines.note(rows, line);
        rows++;
      },
      MAX_CELL_CHARS,
    );
    // Read into one buffer, the cut record's bytes kept at its start: no chunk is allocated or joined. The
    // piece starts after a line feed (or where the text does), so no UTF-8 sequence is cut there.
    let buffer = readBuffers.pop() ?? Buffer.allocUnsafe(2 * READ_BYTES);
    let kept = 0;
    let checked = 0;
    for (let at = job.start; at < job.end; ) {
      if (buffer.length - kept < READ_BYTES) {
        // A cut record as long as the buffer's half: double it, so a long record is scanned a few times only.
        const bigger = Buffer.allocUnsafe(2 * buffer.length);
        buffer.copy(bigger, 0, 0, kept);
        buffer = bigger;
      }
      const n = fs.readSync(fd, buffer, kept, Math.min(READ_BYTES, job.end - at), at);
      if (n <= 0) throw new Error('the file ended early (did it change while being read?)');
      at += n;
      const filled = kept + n;
      const final = at >= job.end;
      const whole = final ? filled : wholeSequencesEnd(buffer, checked, filled);
      if (!isUtf8(buffer.subarray(checked, whole))) throw new Error('invalid UTF-8');
      const cut = tokenizer.scanBlock(buffer.subarray(0, filled), final);
      buffer.copyWithin(0, cut, filled);
      kept = filled - cut;
      checked = Math.max(0, whole - cut);
      await onRead?.(n);
    }
    readBuffers.push(buffer);
    for (const store of stores) store.finish();
    return { index: job.index, rows, lineBreaks: tokenizer.currentLine - 1, lines: lines.parts(), stores: stores.map((s) => s.piece()) };
  } catch (error) {
    return { index: job.index, failed: (error as Error).message ?? String(error) };
  } finally {
    fs.closeSync(fd);
  }
}
