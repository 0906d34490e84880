/** CSV writing (RFC 4180 quoting), streamed to disk in chunks so large exports never become one string. */
import type { FileHandle } from 'node:fs/promises';
import type { Cell, TableWriter } from './columns.ts';

const NEEDS_QUOTES = /[",\r\n]/;
/** Characters gathered before each write: few syscalls, flat memory. */
const CHUNK_CHARS = 1 << 20;

/** Empty labels are quoted so they read back as "" rather than as a missing value. */
export function csvField(cell: Cell): string {
  if (cell === null) return '';
  // String() is the shortest round-trip form, except that it drops the sign of -0.
  if (typeof cell === 'number') return Object.is(cell, -0) ? '-0' : String(cell);
  if (cell === '') return '""';
  return NEEDS_QUOTES.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/** A CSV file written table by table: the header with the first, rows only after it. */
export function csvWriter(handle: FileHandle): TableWriter {
  let headerWritten = false;
  return {
    async write(table) {
      let chunk = '';
      if (!headerWritten) {
        chunk = table.columns.map((c) => csvField(c.name)).join(',') + '\n';
        headerWritten = true;
      }
      for (const row of table.rows()) {
        let line = csvField(row[0]);
        for (let i = 1; i < row.length; i++) line += ',' + csvField(row[i]);
        chunk += line + '\n';
        if (chunk.length >= CHUNK_CHARS) {
          await handle.write(chunk);
          chunk = '';
        }
      }
      if (chunk.length > 0) await handle.write(chunk);
    },
    async finish() {},
  };
}
