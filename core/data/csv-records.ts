/**
 * What the CSV readers share (read-csv.ts reads a file in one thread, csv-pieces.ts stretches of it in
 * several): the delimiter and decimal-comma columns sniffed from the first 64 KB, the header's names and
 * warnings, and a data record's cells into the column stores.
 */
import { CsvTokenizer, sniffDelimiter } from './csv.ts';
import type { ByteRecord } from './csv-bytes.ts';
import type { ColumnStore } from './columns.ts';
import { checkHeader } from './table.ts';
import { DataError } from './types.ts';
import { isMissingText, quote } from './values.ts';

/** The first chunk looked at for the delimiter and decimal commas. */
export const SAMPLE_BYTES = 1 << 16;

// A decimal comma: 2,86 or -0,5 (a number in a ';'-delimited file from a locale that writes them so).
const DECIMAL_COMMA = /^\s*-?\d+,\d+\s*$/;
const INTEGER = /^\s*-?\d+\s*$/;

interface CommaColumn {
  /** Every value in the sample is a decimal-comma number or an integer, at least one the former. */
  numeric: boolean;
  /** Mostly decimal-comma numbers, with other text too: the first such cell, for a warning. */
  otherwise?: string;
}

/** What the first chunk says: the delimiter, and per column whether decimal commas are read as points. */
export interface CsvDialect {
  delimiter: string;
  commaColumns: CommaColumn[];
  /** Per column: cells like 2,86 are numbers (';'-delimited files only); null when no column has them. */
  decimalComma: boolean[] | null;
}

/**
 * The dialect from the file's first chunk of UTF-8 bytes (byte order mark stripped): the given delimiter,
 * or tab for .tsv, or the sniffed one.
 */
export function sniffDialect(file: string, chunk: Buffer, delimiter?: string): CsvDialect {
  const sample = chunk.toString('utf8', 0, Math.min(chunk.length, SAMPLE_BYTES));
  const chosen = delimiter ?? (/\.tsv$/i.test(file) ? '\t' : sniffDelimiter(sample));
  const commaColumns = chosen === ';' ? decimalCommaColumns(sample, chosen) : [];
  const decimalComma = commaColumns.map((c) => c.numeric);
  return { delimiter: chosen, commaColumns, decimalComma: decimalComma.some((x) => x) ? decimalComma : null };
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

/** A record's cell k as a string. */
export const cellText = (record: ByteRecord, k: number): string => (record.inScratch[k] ? record.scratch : record.bytes).toString('utf8', record.start[k], record.end[k]);

/** The header record's column names (checked, see checkHeader), with the decimal-comma warnings per column. */
export function headerNames(file: string, record: ByteRecord, dialect: CsvDialect, warnings: string[]): string[] {
  const fields = Array.from({ length: record.count }, (_, k) => cellText(record, k));
  const names = checkHeader(file, fields, warnings, 'line 1');
  for (let j = 0; j < names.length; j++) {
    const comma = dialect.commaColumns[j];
    if (comma?.numeric) warnings.push(`column '${names[j]}' writes numbers with a decimal comma (like 2,86): they are read as numbers (2.86)`);
    else if (comma?.otherwise !== undefined) {
      warnings.push(
        `column '${names[j]}' mostly holds numbers with a decimal comma (like 2,86) but also ${quote(comma.otherwise)}, so it is read as text categories; write every value as 2,86 (no thousands separator) to read it as numbers`,
      );
    }
  }
  return names;
}

/** A data record whose field count differs from the header's. */
export function fieldCountError(file: string, line: number, count: number, width: number, delimiter: string): DataError {
  return new DataError(
    `${file}, line ${line}: ${count} fields but the header has ${width} ` + `(delimiter ${JSON.stringify(delimiter)}); check quoting on that line, or pass the delimiter explicitly`,
    file,
    line,
  );
}

/** A data record's cells into the stores (one per field; the caller checked the count). */
export function storeRecord(record: ByteRecord, stores: ColumnStore[], decimalComma: boolean[] | null): void {
  const { start, end, inScratch } = record;
  for (let j = 0; j < stores.length; j++) {
    if (decimalComma?.[j]) {
      const cell = cellText(record, j);
      if (cell.indexOf(',') >= 0 && DECIMAL_COMMA.test(cell)) {
        stores[j].pushText(cell.replace(',', '.'));
        continue;
      }
    }
    stores[j].pushBytes(inScratch[j] ? record.scratch : record.bytes, start[j], end[j]);
  }
}
