/**
 * A file read into column stores, with the way back from a data row to where it sits in the file.
 */
import { ColumnStore, type StoreMode } from './columns.ts';
import { DataError } from './types.ts';

export type FileFormat = 'csv' | 'parquet' | 'arrow';

export interface ColumnTable {
  file: string;
  format: FileFormat;
  /** Every column of the file, in file order. */
  names: string[];
  /** One store per column, same order. */
  stores: ColumnStore[];
  /** Data rows read (the header is not a row). */
  rows: number;
  /** What DataError.row holds for data row `r`: the 1-based line for CSV, the 0-based record index otherwise. */
  rowNumber(r: number): number;
  /** Data row `r` in words: "line 18" for CSV, "record 17 (0-based)" for Parquet/Arrow. */
  where(r: number): string;
  /** Things noticed while reading (renamed blank headers...). */
  warnings: string[];
  /** CSV only: the delimiter used. */
  delimiter?: string;
}

/** Decides, from the header alone, what to keep of each column. */
export type StorePlan = (names: string[]) => StoreMode[];

/** The file's format, from its extension. */
export function formatOf(file: string): FileFormat {
  const lower = file.toLowerCase();
  if (/\.(csv|tsv|txt)$/.test(lower)) return 'csv';
  if (/\.parquet$/.test(lower)) return 'parquet';
  if (/\.(arrow|feather|ipc|arrows)$/.test(lower)) return 'arrow';
  throw new DataError(`${file}: unknown file type; use .csv/.tsv/.txt (CSV), .parquet (Parquet) or .arrow/.feather/.ipc (Arrow IPC)`, file);
}

/** Check header names: blank ones get a made-up name (with a warning), duplicates are an error. */
export function checkHeader(file: string, raw: string[], warnings: string[], where: string): string[] {
  const names = raw.map((name, i) => {
    const trimmed = name.trim();
    if (trimmed !== '') return trimmed;
    warnings.push(`column ${i + 1} has no name in the header; it is called 'column_${i + 1}'`);
    return `column_${i + 1}`;
  });
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    const before = seen.get(name);
    if (before !== undefined) {
      throw new DataError(`${file}, ${where}: column name '${name}' appears twice (columns ${before + 1} and ${i + 1}); rename one of them`, file, undefined, name);
    }
    seen.set(name, i);
  });
  return names;
}

export function makeStores(modes: StoreMode[]): ColumnStore[] {
  return modes.map((mode) => new ColumnStore(mode));
}

/** A LineMap's breakpoints: data row rows[k] starts on line lines[k]. */
export interface LineParts {
  rows: number[];
  lines: number[];
}

/** Row -> line for CSV: consecutive rows sit on consecutive lines except after multi-line records or blank lines. */
export class LineMap {
  private rowsAt: number[] = [];
  private linesAt: number[] = [];

  /** Record that data row `row` starts on `line` (rows come in order); keeps a breakpoint only where the simple rule fails. */
  note(row: number, line: number): void {
    const k = this.rowsAt.length - 1;
    if (k < 0 ? line !== row + 2 : this.linesAt[k] + (row - this.rowsAt[k]) !== line) {
      this.rowsAt.push(row);
      this.linesAt.push(line);
    }
  }

  /** The breakpoints, to rebuild the map in another thread (see append). */
  parts(): LineParts {
    return { rows: this.rowsAt, lines: this.linesAt };
  }

  /**
   * The `rows` rows of a map of the next stretch of the file (its `parts`, rows and lines counted from
   * that stretch's start), as rows from `row` on and lines `line` further on.
   */
  append(parts: LineParts, rows: number, row: number, line: number): void {
    if (rows === 0) return;
    const first = parts.rows.length > 0 && parts.rows[0] === 0 ? parts.lines[0] : 2;
    this.note(row, line + first);
    for (let k = 0; k < parts.rows.length; k++) this.note(row + parts.rows[k], line + parts.lines[k]);
  }

  lineOf(row: number): number {
    const rows = this.rowsAt;
    if (rows.length === 0 || row < rows[0]) return row + 2;
    let lo = 0;
    let hi = rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (rows[mid] <= row) lo = mid;
      else hi = mid - 1;
    }
    return this.linesAt[lo] + (row - rows[lo]);
  }
}
