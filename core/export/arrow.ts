/** Builds apache-arrow Tables from the export rows and writes them as an Arrow IPC file. */
import { Field, Float64, Int32, RecordBatch, RecordBatchFileWriter, Schema, Struct, Table, Utf8, makeData, type Data } from 'apache-arrow';
import type { FileHandle } from 'node:fs/promises';
import type { Cell, CellType, RowTable, TableWriter } from './columns.ts';

/**
 * Column buffers filled directly: apache-arrow's generic builders cost about 10x more per cell, and ids
 * and attributes repeat on every row of a long table, so their UTF-8 bytes are encoded once and reused.
 */
interface ColumnBuffer {
  append(cell: Cell): void;
  finish(): Data;
}

function validityBuffer(rows: number) {
  const bitmap = new Uint8Array(Math.ceil(rows / 8));
  let nullCount = 0;
  return {
    set(row: number, valid: boolean) {
      if (valid) bitmap[row >> 3] |= 1 << (row & 7);
      else nullCount++;
    },
    get nullCount() {
      return nullCount;
    },
    bitmap,
  };
}

function numberColumn(type: Float64 | Int32, rows: number): ColumnBuffer {
  const values = type instanceof Float64 ? new Float64Array(rows) : new Int32Array(rows);
  const validity = validityBuffer(rows);
  let row = 0;
  return {
    append(cell) {
      const valid = typeof cell === 'number';
      if (valid) values[row] = cell;
      validity.set(row++, valid);
    },
    finish() {
      const props = { length: rows, nullCount: validity.nullCount, nullBitmap: validity.bitmap };
      return type instanceof Float64 ? makeData({ type, ...props, data: values as Float64Array }) : makeData({ type, ...props, data: values as Int32Array });
    },
  };
}

function utf8Column(rows: number): ColumnBuffer {
  const encoder = new TextEncoder();
  const encoded = new Map<string, Uint8Array>();
  const offsets = new Int32Array(rows + 1);
  let bytes = new Uint8Array(1024);
  let used = 0;
  const validity = validityBuffer(rows);
  let row = 0;
  // A long table repeats its id and attributes on every step of a series: the last cell's bytes again.
  let lastCell: Cell = null;
  let lastUtf8: Uint8Array = new Uint8Array(0);
  return {
    append(cell) {
      const valid = cell !== null;
      if (valid) {
        let utf8 = cell === lastCell ? lastUtf8 : undefined;
        if (!utf8) {
          const text = String(cell);
          utf8 = encoded.get(text);
          if (!utf8) {
            utf8 = encoder.encode(text);
            // Only short, repeated labels are worth remembering; a cache of every distinct string would not be.
            if (encoded.size < 65536) encoded.set(text, utf8);
          }
          lastCell = cell;
          lastUtf8 = utf8;
        }
        if (used + utf8.length > bytes.length) {
          const grown = new Uint8Array(Math.max(bytes.length * 2, used + utf8.length));
          grown.set(bytes.subarray(0, used));
          bytes = grown;
        }
        bytes.set(utf8, used);
        used += utf8.length;
      }
      validity.set(row, valid);
      offsets[++row] = used;
    },
    finish: () => makeData({ type: new Utf8(), length: rows, nullCount: validity.nullCount, nullBitmap: validity.bitmap, valueOffsets: offsets, data: bytes.subarray(0, used) }),
  };
}

function columnBuffer(type: CellType, rows: number): ColumnBuffer {
  if (type === 'float64') return numberColumn(new Float64(), rows);
  if (type === 'int32') return numberColumn(new Int32(), rows);
  return utf8Column(rows);
}

/**
 * Columns are assembled from explicit Fields rather than a name-keyed object, because JavaScript
 * reorders integer-like keys and export column names are the user's.
 */
export function arrowTable(table: RowTable): Table {
  const buffers = table.columns.map((c) => columnBuffer(c.type, table.rowCount));
  for (const row of table.rows()) {
    for (let i = 0; i < buffers.length; i++) buffers[i].append(row[i]);
  }
  const children = buffers.map((b) => b.finish());
  const fields = table.columns.map((c, i) => new Field(c.name, children[i].type, true));
  const data = makeData({ type: new Struct(fields), length: table.rowCount, nullCount: 0, children });
  return new Table([new RecordBatch(new Schema(fields), data)]);
}

/**
 * An Arrow IPC file with one record batch per table, written as each table arrives. The writer queues
 * its bytes without limit, so each write waits until the file has taken them: memory holds one part.
 */
export function arrowWriter(handle: FileHandle): TableWriter {
  const writer = new RecordBatchFileWriter();
  let failure: unknown;
  let writing = false;
  let waiters: Array<() => void> = [];
  // Runs once microtasks settle: a drain not writing by then is waiting on an empty queue.
  const wakeWhenIdle = () =>
    setImmediate(() => {
      if (writing && !failure) return;
      for (const wake of waiters) wake();
      waiters = [];
    });
  const drained = (async () => {
    const chunks = writer[Symbol.asyncIterator]();
    for (;;) {
      writing = false;
      wakeWhenIdle();
      const next = await chunks.next();
      if (next.done) break;
      writing = true;
      await handle.write(next.value);
    }
  })().catch((error) => {
    failure = error;
    wakeWhenIdle();
  });
  return {
    async write(table) {
      if (failure) throw failure;
      for (const batch of arrowTable(table).batches) writer.write(batch);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        wakeWhenIdle();
      });
      if (failure) throw failure;
    },
    async finish() {
      writer.finish();
      await drained;
      if (failure) throw failure;
    },
    async abort(reason) {
      writer.abort(reason);
      await drained;
    },
  };
}
