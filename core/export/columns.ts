/**
 * Turns a Dataset into a flat table description (column names and types) plus a row walker, so every
 * file format is written from the same rows and the layouts stay identical across formats.
 */
import { roundForExport } from '../data/precision.ts';
import type { ColumnSchema, Dataset, Value } from '../data/types.ts';

export type ExportLayout = 'long' | 'wide';

export type CellType = 'float64' | 'int32' | 'utf8';

/** A cell as written: null means missing (empty in CSV, null in Arrow/Parquet). */
export type Cell = number | string | null;

export interface TableColumn {
  name: string;
  type: CellType;
}

export interface RowTable {
  columns: TableColumn[];
  rowCount: number;
  /** Yields each row in order. The row array is reused between rows, so copy it to keep it. */
  rows(): Generator<Cell[]>;
}

/**
 * Writes the tables of one file in turn (all with the same columns); finish() completes the file. After
 * a failure, abort() waits for writes in flight and releases what the writer holds (the caller discards
 * the file), so nothing touches the file or stays pending afterwards.
 */
export interface TableWriter {
  write(table: RowTable): Promise<void>;
  finish(): Promise<void>;
  abort(reason: unknown): Promise<void>;
}

export interface ResolvedOptions {
  layout: ExportLayout;
  idColumn: string;
  timeColumn: string;
  /** Wide layout: steps per feature; undefined = the longest series. */
  seriesLength?: number;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const isInt32 = (x: number) => Number.isInteger(x) && x >= INT32_MIN && x <= INT32_MAX;
/** A label that is a whole number written plainly (no '+', no leading zeros: '007' stays a label). */
const isIntegerLabel = (label: string) => /^-?(?:0|[1-9]\d{0,9})$/.test(label) && isInt32(Number(label));

/**
 * How a column is written: whole-number continuous columns (the input had no decimals) and categorical
 * columns whose labels are all whole numbers (codes) as int32; other continuous columns as float64; labels as text.
 */
function cellType(column: ColumnSchema): CellType {
  if (column.kind === 'continuous') {
    const whole = column.decimals === 0 && column.min !== undefined && column.max !== undefined && isInt32(Math.floor(column.min)) && isInt32(Math.ceil(column.max));
    return whole ? 'int32' : 'float64';
  }
  const categories = column.categories;
  return categories && categories.length > 0 && categories.every(isIntegerLabel) ? 'int32' : 'utf8';
}

/** How one column's values become cells: its type, and for numbers the rounding to the input's precision. */
interface CellFormat {
  type: CellType;
  name: string;
  decimals?: number;
  float32: boolean;
}

function formatOf(column: ColumnSchema, dataset: Dataset): CellFormat {
  const type = cellType(column);
  return { type, name: column.name, decimals: column.kind === 'continuous' ? column.decimals : undefined, float32: dataset.precision === 'float32' };
}

/** Continuous columns must hold numbers; NaN is how a missing value shows up, so it becomes null. */
function toCell(value: Value | undefined, format: CellFormat): Cell {
  if (value === undefined || value === null) return null;
  if (format.type === 'utf8') return String(value);
  if (typeof value === 'string' && format.type === 'int32' && isIntegerLabel(value)) return Number(value); // a categorical code
  if (typeof value !== 'number') throw new Error(`column '${format.name}' is continuous but holds the label ${JSON.stringify(value)}`);
  if (Number.isNaN(value)) return null;
  const x = format.type === 'int32' ? Math.round(value) : roundForExport(value, format.decimals, format.float32);
  return Object.is(x, -0) && format.type === 'int32' ? 0 : x;
}

/** A time stamp: as given (the column's type says how it is written). */
function timeCell(value: Value, type: CellType, column: string): Cell {
  return toCell(value, { type, name: column, float32: false });
}

/**
 * The dataset's attribute and feature columns in the input's order (the schema's column order), each with
 * where its values are; columns the schema does not list (hand-built datasets) come after (long: features
 * first, wide: attributes first).
 */
function orderedColumns(dataset: Dataset, first: 'features' | 'attributes' = 'features'): { source: 'attribute' | 'feature'; index: number; column: ColumnSchema }[] {
  const features = dataset.features.map((column, index) => ({ source: 'feature' as const, index, column }));
  const attributes = dataset.attributes.map((column, index) => ({ source: 'attribute' as const, index, column }));
  const all = first === 'features' ? [...features, ...attributes] : [...attributes, ...features];
  const rank = new Map(dataset.schema.columns.map((c, i) => [c.name, i]));
  const place = (name: string) => rank.get(name) ?? Infinity;
  return all
    .map((c, i) => ({ c, i }))
    .sort((a, b) => place(a.c.column.name) - place(b.c.column.name) || a.i - b.i)
    .map(({ c }) => c);
}

/**
 * The time column keeps the original stamps when every series has them: integers that fit int32 stay
 * integers (step numbers, hours), other numbers are float64, and any label makes the whole column text.
 */
function timeColumnType(dataset: Dataset): CellType {
  let allInt32 = true;
  for (const series of dataset.series) {
    if (!series.times) continue;
    for (const t of series.times) {
      if (typeof t !== 'number') return 'utf8';
      if (!isInt32(t)) allInt32 = false;
    }
  }
  return allInt32 ? 'int32' : 'float64';
}

function assertUniqueNames(columns: TableColumn[]): void {
  const seen = new Set<string>();
  for (const { name } of columns) {
    if (seen.has(name)) {
      throw new Error(`export would write two columns named '${name}'; pick another idColumn/timeColumn or rename the column`);
    }
    seen.add(name);
  }
}

function seriesLength(dataset: Dataset, index: number): number {
  return dataset.series[index].length;
}

export function longTable(dataset: Dataset, options: ResolvedOptions): RowTable {
  const timeType = timeColumnType(dataset);
  const ordered = orderedColumns(dataset);
  const formats = ordered.map((c) => formatOf(c.column, dataset));
  const columns: TableColumn[] = [{ name: options.idColumn, type: 'utf8' }, { name: options.timeColumn, type: timeType }, ...formats.map((f) => ({ name: f.name, type: f.type }))];
  assertUniqueNames(columns);
  let rowCount = 0;
  for (let s = 0; s < dataset.series.length; s++) rowCount += seriesLength(dataset, s);

  return {
    columns,
    rowCount,
    *rows() {
      const row: Cell[] = new Array(columns.length);
      for (const series of dataset.series) {
        row[0] = series.id;
        // Attributes are constant within a series: convert them once.
        ordered.forEach((c, k) => {
          if (c.source === 'attribute') row[2 + k] = toCell(series.attributes[c.index], formats[k]);
        });
        for (let t = 0; t < series.length; t++) {
          row[1] = series.times ? timeCell(series.times[t], timeType, options.timeColumn) : t;
          for (let k = 0; k < ordered.length; k++) {
            const c = ordered[k];
            if (c.source === 'feature') row[2 + k] = toCell(series.features[c.index][t], formats[k]);
          }
          yield row;
        }
      }
    },
  };
}

export function wideTable(dataset: Dataset, options: ResolvedOptions): RowTable {
  let maxLength = options.seriesLength ?? 0;
  for (let s = 0; s < dataset.series.length; s++) {
    const length = seriesLength(dataset, s);
    if (options.seriesLength !== undefined && length > options.seriesLength) {
      throw new Error(`series '${dataset.series[s].id}' has ${length} steps, more than the wide layout's ${options.seriesLength}`);
    }
    maxLength = Math.max(maxLength, length);
  }
  const ordered = orderedColumns(dataset, 'attributes');
  const formats = ordered.map((c) => formatOf(c.column, dataset));
  const columns: TableColumn[] = [{ name: options.idColumn, type: 'utf8' }];
  /** Where each ordered column's first cell is in a row. */
  const base: number[] = [];
  ordered.forEach((c, k) => {
    base.push(columns.length);
    if (c.source === 'attribute') columns.push({ name: c.column.name, type: formats[k].type });
    else {
      // The input's own column names (traffic[0], ...) when it had as many steps; else <name>_<t>.
      const names = c.column.wideColumns?.length === maxLength ? c.column.wideColumns : undefined;
      for (let t = 0; t < maxLength; t++) columns.push({ name: names?.[t] ?? `${c.column.name}_${t}`, type: formats[k].type });
    }
  });
  assertUniqueNames(columns);

  return {
    columns,
    rowCount: dataset.series.length,
    *rows() {
      const row: Cell[] = new Array(columns.length);
      for (const series of dataset.series) {
        row[0] = series.id;
        for (let k = 0; k < ordered.length; k++) {
          const c = ordered[k];
          if (c.source === 'attribute') {
            row[base[k]] = toCell(series.attributes[c.index], formats[k]);
            continue;
          }
          const column = series.features[c.index];
          for (let t = 0; t < maxLength; t++) row[base[k] + t] = t < series.length ? toCell(column[t], formats[k]) : null;
        }
        yield row;
      }
    },
  };
}
