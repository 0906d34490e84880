/**
 * Turns a Dataset into a flat table description (column names and types) plus a row walker, so every
 * file format is written from the same rows and the layouts stay identical across formats.
 */
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

function cellType(column: ColumnSchema): CellType {
  return column.kind === 'continuous' ? 'float64' : 'utf8';
}

/** Continuous columns must hold numbers; NaN is how a missing value shows up, so it becomes null. */
function toCell(value: Value | undefined, type: CellType, column: string): Cell {
  if (value === undefined || value === null) return null;
  if (type === 'utf8') return String(value);
  if (typeof value !== 'number') throw new Error(`column '${column}' is continuous but holds the label ${JSON.stringify(value)}`);
  return Number.isNaN(value) ? null : value;
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
      if (!Number.isInteger(t) || t < -2147483648 || t > 2147483647) allInt32 = false;
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
  const featureTypes = dataset.features.map(cellType);
  const attributeTypes = dataset.attributes.map(cellType);
  const columns: TableColumn[] = [
    { name: options.idColumn, type: 'utf8' },
    { name: options.timeColumn, type: timeType },
    ...dataset.features.map((c, i) => ({ name: c.name, type: featureTypes[i] })),
    ...dataset.attributes.map((c, i) => ({ name: c.name, type: attributeTypes[i] })),
  ];
  assertUniqueNames(columns);
  let rowCount = 0;
  for (let s = 0; s < dataset.series.length; s++) rowCount += seriesLength(dataset, s);

  const nf = dataset.features.length;
  return {
    columns,
    rowCount,
    *rows() {
      const row: Cell[] = new Array(columns.length);
      for (const series of dataset.series) {
        row[0] = series.id;
        // Attributes are constant within a series: convert them once.
        for (let a = 0; a < attributeTypes.length; a++) {
          row[2 + nf + a] = toCell(series.attributes[a], attributeTypes[a], dataset.attributes[a].name);
        }
        for (let t = 0; t < series.length; t++) {
          row[1] = series.times ? toCell(series.times[t], timeType, options.timeColumn) : t;
          for (let f = 0; f < nf; f++) row[2 + f] = toCell(series.features[f][t], featureTypes[f], dataset.features[f].name);
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
  const featureTypes = dataset.features.map(cellType);
  const attributeTypes = dataset.attributes.map(cellType);
  const columns: TableColumn[] = [{ name: options.idColumn, type: 'utf8' }, ...dataset.attributes.map((c, i) => ({ name: c.name, type: attributeTypes[i] }))];
  dataset.features.forEach((c, f) => {
    for (let t = 0; t < maxLength; t++) columns.push({ name: `${c.name}_${t}`, type: featureTypes[f] });
  });
  assertUniqueNames(columns);

  const na = dataset.attributes.length;
  return {
    columns,
    rowCount: dataset.series.length,
    *rows() {
      const row: Cell[] = new Array(columns.length);
      for (const series of dataset.series) {
        row[0] = series.id;
        for (let a = 0; a < na; a++) row[1 + a] = toCell(series.attributes[a], attributeTypes[a], dataset.attributes[a].name);
        for (let f = 0; f < featureTypes.length; f++) {
          const base = 1 + na + f * maxLength;
          const column = series.features[f];
          for (let t = 0; t < maxLength; t++) {
            row[base + t] = t < series.length ? toCell(column[t], featureTypes[f], dataset.features[f].name) : null;
          }
        }
        yield row;
      }
    },
  };
}
