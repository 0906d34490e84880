/**
 * CSV -> column stores, streaming: the file is read in 64 KB chunks, tokenized incrementally and each
 * record's cells go straight into the column stores. No row is kept.
 */
import * as fs from 'node:fs';
import { CsvTokenizer, FieldTooLongError, sniffDelimiter, UnclosedQuoteError } from './csv.ts';
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
  let tokenizer: CsvTokenizer | null = null;
  let chosen = delimiter;
  let decoder: ChunkDecoder | null = null;
  /** Per column: decimal commas are read as points (';'-delimited files only). */
  let commaColumns: CommaColumn[] = [];
  let decimalComma: boolean[] = [];

  const onRecord = (fields: string[], line: number): void => {
    if (!names) {
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
    if (fields.length !== names.length) {
      throw new DataError(
        `${file}, line ${line}: ${fields.length} fields but the header has ${names.length} ` + `(delimiter ${JSON.stringify(chosen)}); check quoting on that line, or pass the delimiter explicitly`,
        file,
        line,
      );
    }
    for (let j = 0; j < stores.length; j++) {
      const cell = fields[j];
      if (decimalComma[j] && cell.indexOf(',') >= 0 && DECIMAL_COMMA.test(cell)) stores[j].pushText(cell.replace(',', '.'));
      else stores[j].pushText(cell);
    }
    lines.note(rows, line);
    rows++;
  };

  const stream = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
  const size = onProgress ? fs.statSync(file).size : 0;
  const feed = (piece: { text: string; bad?: number[] }) => {
    let chunk = piece.text;
    if (!tokenizer && chunk.length > 0) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1); // a byte order mark the decoder kept
      const sample = chunk.slice(0, 65536);
      chosen ??= /\.tsv$/i.test(file) ? '\t' : sniffDelimiter(sample);
      if (chosen === ';') {
        commaColumns = decimalCommaColumns(sample, chosen);
        decimalComma = commaColumns.map((c) => c.numeric);
      }
      tokenizer = new CsvTokenizer(chosen, onRecord, MAX_CELL_CHARS);
    }
    if (chunk.length > 0) tokenizer!.push(chunk);
    if (piece.bad) throw invalidUtf8Error(file, tokenizer?.currentLine ?? 1, piece.bad);
  };
  try {
    for await (const bytes of stream as AsyncIterable<Buffer>) {
      decoder ??= decoderFor(file, bytes, encoding);
      feed(decoder.decode(bytes));
      onProgress?.(stream.bytesRead, size, 'bytes');
    }
    if (decoder) feed(decoder.end());
    (tokenizer as CsvTokenizer | null)?.end();
  } catch (error) {
    if (error instanceof UnclosedQuoteError) {
      throw new DataError(`${file}, line ${error.line}: a quoted field starting there is never closed; close the quote or escape quotes inside it as ""`, file, error.line);
    }
    if (error instanceof FieldTooLongError) {
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
