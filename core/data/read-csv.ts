/**
 * CSV -> column stores, streaming: the file is read in 64 KB chunks, tokenized incrementally on its UTF-8
 * bytes (csv-bytes.ts; other encodings are re-encoded chunk by chunk) and each record's cells go straight
 * into the column stores as byte ranges, so numbers and known labels never become strings. No row is kept.
 */
import * as fs from 'node:fs';
import { CsvTokenizer, sniffDelimiter } from './csv.ts';
import { ByteCsvTokenizer, ByteFieldTooLongError, type ByteRecord, ByteUnclosedQuoteError } from './csv-bytes.ts';
import type { ColumnStore } from './columns.ts';
import { decoderFor, invalidUtf8Error, type ChunkDecoder, type TextEncoding } from './decode.ts';
import { checkHeader, LineMap, makeStores, type ColumnTable, type StorePlan } from './table.ts';
import { DataError } from './types.ts';
import type { ReadProgress } from './options.ts';
import { isMissingText, MAX_CELL_CHARS, quote } from './values.ts';

// 64 KB: small enough that each chunk string is allocated in the young generation and freed by the next
// scavenge (1 MB strings go to large-object space and pile up until a full GC).
const CHUNK_BYTES = 1 << 16;

// A decimal comma: 2,86 or -0,5 (a number in a ';'-delimited file from a locale that writes them so).
const DECIMAL_COMMA = /^\s*-?\d+,\d+\s*$/;
const INTEGER = /^\s*-?\d+\s*$/;

interface CommaColumn {
  /** Every value in the sample is a decimal-comma number or an integer, at least one the former. */
  numeric: boolean;
  /** Mostly decimal-comma numbers, with other text too: the first such cell, for a warning. */
  otherwise?: string;
}

/**
 * What the records of a ';'-delimited sample say about decimal commas, per column: all decimal-comma
 * numbers or integers (those cells are then read as numbers, 2,86 -> 2.86), or mostly so with other text.
 */
function decimalCommaColumns(sample: string, delimiter: string): CommaColumn[] {
  const lastBreak = Math.max(sample.lastIndexOf('\n'), sample.lastIndexOf('\r'));
  const text = lastBreak > 0 ? sample.slice(0, lastBreak) : sample;
  let width = -1;
  let comma: number[] = [];
  let cells: number[] = [];
  let other: (string | undefined)[] = [];
  const tokenizer = new CsvTokenizer(delimiter, (fields) => {
    if (width < 0) {
      width = fields.length;
      comma = new Array(width).fill(0);
      cells = new Array(width).fill(0);
      other = new Array(width).fill(undefined);
      return;
    }
    if (fields.length !== width) return;
    for (let j = 0; j < width; j++) {
      const cell = fields[j];
      if (isMissingText(cell)) continue;
      cells[j]++;
      if (INTEGER.test(cell)) continue;
      if (DECIMAL_COMMA.test(cell)) comma[j]++;
      else other[j] ??= cell;
    }
  });
  try {
    tokenizer.push(text);
    tokenizer.end();
  } catch {
    // a sample cut inside a quoted field: the records before it are enough
  }
  return comma.map((c, j) => ({ numeric: c > 0 && other[j] === undefined, otherwise: c > 0 && c >= cells[j] / 2 ? other[j] : undefined }));
}

export async function readCsvTable(file: string, plan: StorePlan, delimiter?: string, onProgress?: ReadProgress, encoding?: TextEncoding): Promise<ColumnTable> {
  const warnings: string[] = [];
  const lines = new LineMap();
  let names: string[] | null = null;
  let stores: ColumnStore[] = [];
  let rows = 0;
  let tokenizer: ByteCsvTokenizer | null = null;
  let chosen = delimiter;
  let decoder: ChunkDecoder | null = null;
  /** Per column: decimal commas are read as points (';'-delimited files only). */
  let commaColumns: CommaColumn[] = [];
  let decimalComma: boolean[] = [];
  let anyDecimalComma = false;

  const cellText = (record: ByteRecord, k: number) => (record.inScratch[k] ? record.scratch : record.bytes).toString('utf8', record.start[k], record.end[k]);

  const onRecord = (record: ByteRecord, line: number): void => {
    if (!names) {
      const fields = Array.from({ length: record.count }, (_, k) => cellText(record, k));
      names = checkHeader(file, fields, warnings, 'line 1');
      for (let j = 0; j < names.length; j++) {
        const comma = commaColumns[j];
        if (comma?.numeric) warnings.push(`column '${names[j]}' writes numbers with a decimal comma (like 2,86): they are read as numbers (2.86)`);
        else if (comma?.otherwise !== undefined) {
          warnings.push(
            `column '${names[j]}' mostly holds numbers with a decimal comma (like 2,86) but also ${quote(comma.otherwise)}, so it is read as text categories; write every value as 2,86 (no thousands separator) to read it as numbers`,
          );
        }
      }
      stores = makeStores(plan(names));
      return;
    }
    if (record.count !== names.length) {
      throw new DataError(
        `${file}, line ${line}: ${record.count} fields but the header has ${names.length} ` + `(delimiter ${JSON.stringify(chosen)}); check quoting on that line, or pass the delimiter explicitly`,
        file,
        line,
      );
    }
    const { start, end, inScratch } = record;
    for (let j = 0; j < stores.length; j++) {
      if (anyDecimalComma && decimalComma[j]) {
        const cell = cellText(record, j);
        if (cell.indexOf(',') >= 0 && DECIMAL_COMMA.test(cell)) {
          stores[j].pushText(cell.replace(',', '.'));
          continue;
        }
      }
      stores[j].pushBytes(inScratch[j] ? record.scratch : record.bytes, start[j], end[j]);
    }
    lines.note(rows, line);
    rows++;
  };

  const stream = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
  const size = fs.statSync(file).size;
  let reserved = false;
  /**
   * Once some rows are read, reserve the stores' room for the rows the whole file should hold (bytes per
   * row so far, plus a quarter): each column is then allocated once, and never merged or copied.
   */
  const reserve = (bytesRead: number) => {
    if (reserved || rows < 100 || bytesRead <= 0) return;
    reserved = true;
    // A row takes at least 2 bytes (a cell and a line break): never reserve past size / 2 rows.
    const expected = Math.min(Math.ceil(((rows * size) / bytesRead) * 1.25) + 65536, Math.ceil(size / 2) + 2, 2 ** 31 - 1);
    for (const store of stores) store.reserve(expected);
  };
  const feed = (piece: { bytes: Buffer; bad?: number[] }) => {
    let chunk = piece.bytes;
    if (!tokenizer && chunk.length > 0) {
      // A byte order mark the decoder kept (a UTF-8 BOM read as Latin-1, a UTF-16 one re-encoded).
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
      const sample = chunk.toString('utf8', 0, Math.min(chunk.length, 65536));
      chosen ??= /\.tsv$/i.test(file) ? '\t' : sniffDelimiter(sample);
      if (chosen === ';') {
        commaColumns = decimalCommaColumns(sample, chosen);
        decimalComma = commaColumns.map((c) => c.numeric);
        anyDecimalComma = decimalComma.some((x) => x);
      }
      tokenizer = new ByteCsvTokenizer(chosen, onRecord, MAX_CELL_CHARS);
    }
    if (chunk.length > 0) tokenizer!.push(chunk);
    if (piece.bad) throw invalidUtf8Error(file, tokenizer?.currentLine ?? 1, piece.bad);
  };
  try {
    for await (const bytes of stream as AsyncIterable<Buffer>) {
      decoder ??= decoderFor(file, bytes, encoding);
      feed(decoder.decodeBytes(bytes));
      reserve(stream.bytesRead);
      onProgress?.(stream.bytesRead, size, 'bytes');
    }
    if (decoder) feed(decoder.endBytes());
    (tokenizer as ByteCsvTokenizer | null)?.end();
  } catch (error) {
    if (error instanceof ByteUnclosedQuoteError) {
      throw new DataError(`${file}, line ${error.line}: a quoted field starting there is never closed; close the quote or escape quotes inside it as ""`, file, error.line);
    }
    if (error instanceof ByteFieldTooLongError) {
      const column = names?.[error.field];
      throw new DataError(
        `${file}, line ${error.line}${column ? `, column '${column}'` : `, field ${error.field + 1}`}: a cell longer than ${error.limit / 1024} KB; it is not a value but a broken file (an unclosed quote, pasted binary data)`,
        file,
        error.line,
        column,
        { text: 'check the quoting on that line, or leave the column out' },
      );
    }
    throw error;
  } finally {
    stream.destroy();
  }
  if (!names) throw new DataError(`${file}: the file is empty; it needs a header line and at least one data row`, file);
  if (rows === 0) {
    throw new DataError(`${file}: the file has a header but no data rows`, file, 1);
  }
  for (const store of stores) store.finish();
  const header: string[] = names;
  return {
    file,
    format: 'csv',
    names: header,
    stores,
    rows,
    rowNumber: (r) => lines.lineOf(r),
    where: (r) => `line ${lines.lineOf(r)}`,
    warnings,
    delimiter: chosen,
  };
}
