/** CSV writing (RFC 4180 quoting), streamed to disk through two 1 MB buffers, so large exports never become one string. */
import type { FileHandle } from 'node:fs/promises';
import type { Cell, TableWriter } from './columns.ts';

const NEEDS_QUOTES = /[",\r\n]/;
/** Bytes gathered before each write: few syscalls, flat memory. */
const CHUNK_BYTES = 1 << 20;
/** Free bytes below which a buffer is sent before the next row (a row's fields rarely need more). */
const ROOM_PER_ROW = 4096;
const COMMA = 44;
const NEWLINE = 10;

/** Empty labels are quoted so they read back as "" rather than as a missing value. */
export function csvField(cell: Cell): string {
  if (cell === null) return '';
  // String() is the shortest round-trip form, except that it drops the sign of -0.
  if (typeof cell === 'number') return Object.is(cell, -0) ? '-0' : String(cell);
  if (cell === '') return '""';
  return NEEDS_QUOTES.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/**
 * A CSV file written table by table: the header with the first, rows only after it. Fields are copied
 * byte by byte into one of two buffers (one is on its way to disk while the other fills), not
 * concatenated into strings or encoded one call per field: at millions of rows the intermediate strings'
 * garbage collection and the encoder's per-call cost each took longer than the number formatting.
 */
export function csvWriter(handle: FileHandle): TableWriter {
  const encoder = new TextEncoder();
  const buffers = [new Uint8Array(CHUNK_BYTES), new Uint8Array(CHUNK_BYTES)];
  let current = 0;
  let used = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  let headerWritten = false;
  /** The next write, once the last one is done; its error surfaces at the next await of inFlight. */
  const send = (bytes: Uint8Array, length = bytes.length) => {
    inFlight = handle.write(bytes, 0, length);
    inFlight.catch(() => {}); // awaited later: not an unhandled rejection meanwhile
  };
  const flush = async () => {
    await inFlight;
    send(buffers[current], used);
    current = 1 - current;
    used = 0;
  };
  const copy = (bytes: Uint8Array, separator: number) => {
    const buffer = buffers[current];
    for (let k = 0; k < bytes.length; k++) buffer[used++] = bytes[k];
    buffer[used++] = separator;
  };
  /** copy() after sending the buffer when the bytes do not fit; a field longer than a buffer goes alone. */
  const putLarge = async (bytes: Uint8Array, separator: number) => {
    await flush();
    if (bytes.length + 1 > CHUNK_BYTES) {
      await inFlight;
      send(bytes);
      bytes = new Uint8Array(0);
    }
    copy(bytes, separator);
  };
  /** A promise only when the buffer had to be sent: an await per field (millions) would cost more than the copy. */
  const put = (bytes: Uint8Array, separator: number) => (bytes.length + 1 <= CHUNK_BYTES - used ? copy(bytes, separator) : putLarge(bytes, separator));
  return {
    async write(table) {
      const width = table.columns.length;
      if (!headerWritten) {
        for (let i = 0; i < width; i++) await put(encoder.encode(csvField(table.columns[i].name)), i === width - 1 ? NEWLINE : COMMA);
        headerWritten = true;
      }
      // A long table repeats its id and attributes on every step of a series: their bytes are reused.
      const lastCell: Cell[] = new Array(width).fill(null);
      const lastBytes: Uint8Array[] = new Array(width).fill(new Uint8Array(0));
      for (const row of table.rows()) {
        if (CHUNK_BYTES - used < ROOM_PER_ROW) await flush();
        for (let i = 0; i < width; i++) {
          const cell = row[i];
          const separator = i === width - 1 ? NEWLINE : COMMA;
          if (typeof cell === 'number' && used + 32 < CHUNK_BYTES) {
            // A number's text is ASCII (at most 24 characters): copied without an encoder call.
            const text = csvField(cell);
            const buffer = buffers[current];
            for (let k = 0; k < text.length; k++) buffer[used++] = text.charCodeAt(k);
            buffer[used++] = separator;
            continue;
          }
          // (lastCell starts as null, whose field is empty: lastBytes' start)
          if (cell !== lastCell[i] || typeof cell === 'number') {
            lastCell[i] = cell;
            lastBytes[i] = encoder.encode(csvField(cell));
          }
          const sent = put(lastBytes[i], separator);
          if (sent) await sent;
        }
      }
    },
    async finish() {
      if (used > 0) await flush();
      await inFlight;
    },
    async abort() {
      await inFlight.catch(() => {});
    },
  };
}
