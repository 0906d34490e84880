/**
 * Series out of stored columns: attributes checked constant, missing feature values repaired per policy
 * (interpolate: linear between the neighbouring known steps, the nearest known value copied at the edges,
 * categorical features carry the previous label forward; drop: the step goes), long series split or
 * truncated, and the schema the Dataset carries.
 */
import type { ColumnStore } from './columns.ts';
import { sortedCategories, type ResolvedVariable } from './infer.ts';
import { rowAt, type Structure, type Variable } from './structure.ts';
import type { ColumnTable } from './table.ts';
import { emptyColumn, pickSteps, sliceColumn } from './feature-column.ts';
import { DataError, type ColumnSchema, type Dataset, type FeatureColumn, type ImportReport, type Schema, type Series, type TimePattern, type TimeStamps, type Value } from './types.ts';
import { quote } from './values.ts';
import { inferTimePattern, type SeriesStamps } from './time-pattern.ts';

export interface Policies {
  /** Undefined: the longest series. */
  maxLength?: number;
  longSeries: 'split' | 'truncate';
  missing: 'interpolate' | 'drop';
}

/** A variable ready to read values from: its categories settled, its range being tracked. */
export interface Column {
  v: ResolvedVariable;
  categorical: boolean;
  categories?: string[];
  min: number;
  max: number;
}

const seriesName = (structure: Structure, s: number) => quote(structure.ids[s]);

export function buildDataset(table: ColumnTable, structure: Structure, variables: ResolvedVariable[], policies: Policies, warnings: string[]): { dataset: Dataset; report: ImportReport } {
  const file = table.file;
  const attributes = variables.filter((v) => v.role === 'attribute').map((v) => settle(table, v));
  const features = variables.filter((v) => v.role === 'feature').map((v) => settle(table, v));
  if (features.length === 0) {
    throw new DataError(
      `${file}: no feature columns (values that vary over time within a series). ` +
        `Columns found: ${variables.map((v) => `${v.name} (${v.role})`).join(', ')}. ` +
        'Name the features or check the layout (the series id column or the chunk size)',
      file,
      undefined,
      undefined,
      { text: 'name the columns that vary over time', option: 'features' },
    );
  }
  const report: ImportReport = {
    file,
    rows: table.rows,
    series: 0,
    missingInterpolated: 0,
    missingRowsDropped: 0,
    seriesSplit: 0,
    seriesTruncated: 0,
    warnings,
  };

  const whole: Series[] = [];
  for (let s = 0; s < structure.ids.length; s++) {
    const attributeValues = attributes.map((c) => attributeValue(table, structure, s, c));
    const series = featureSteps(table, structure, s, features, policies, report);
    if (!series) continue;
    whole.push({ id: structure.ids[s], attributes: attributeValues, ...series });
  }
  if (whole.length === 0) throw new DataError(`${file}: no series left after dropping rows with missing values`, file);

  const longest = whole.reduce((m, x) => Math.max(m, x.length), 0);
  const maxLength = policies.maxLength ?? longest;
  const out = limitLengths(whole, maxLength, policies.longSeries, report);
  report.series = out.length;

  for (const series of out) {
    series.attributes.forEach((x, i) => track(attributes[i], x));
    series.features.forEach((column, f) => trackColumn(features[f], column));
  }
  const schema: Schema = {
    version: 1,
    layout: structure.layout,
    columns: schemaColumns(table, structure, variables, [...attributes, ...features], warnings),
    maxLength,
    longSeries: policies.longSeries,
    missing: policies.missing,
  };
  const byName = new Map(schema.columns.map((c) => [c.name, c]));
  return {
    dataset: {
      schema,
      attributes: attributes.map((c) => byName.get(c.v.name)!),
      features: features.map((c) => byName.get(c.v.name)!),
      series: out,
    },
    report,
  };
}

/** Categories fixed up front (declared ones checked against the data); the range starts empty. */
export function settle(table: ColumnTable, v: ResolvedVariable): Column {
  if (v.kind === 'continuous') return { v, categorical: false, min: Infinity, max: -Infinity };
  const declared = v.declared?.categories;
  if (declared) {
    const known = new Set(declared);
    for (const c of v.columns) {
      const store = table.stores[c];
      const unknown = store.labels.findIndex((label) => !known.has(label));
      if (unknown < 0) continue;
      const row = store.codes!.indexOf(unknown);
      throw new DataError(
        `${table.file}, ${table.where(row)}, column '${table.names[c]}': ${quote(store.labels[unknown])} is not one of the ` +
          `schema's categories (${declared.slice(0, 20).map(quote).join(', ')}${declared.length > 20 ? ', ...' : ''}); ` +
          'add it to the categories in the schema or fix the value',
        table.file,
        table.rowNumber(row),
        table.names[c],
      );
    }
  }
  return { v, categorical: true, categories: declared ?? sortedCategories(table, v), min: Infinity, max: -Infinity };
}

function track(c: Column, x: Value): void {
  if (c.categorical) return;
  const n = x as number;
  if (n < c.min) c.min = n;
  if (n > c.max) c.max = n;
}

function trackColumn(c: Column, column: FeatureColumn): void {
  if (c.categorical) return;
  const numbers = column as Float64Array;
  let { min, max } = c;
  for (let t = 0; t < numbers.length; t++) {
    const n = numbers[t];
    if (n < min) min = n;
    if (n > max) max = n;
  }
  c.min = min;
  c.max = max;
}

const valueAt = (c: Column, store: ColumnStore, row: number): Value => (c.categorical ? store.labelAt(row) : store.numbers![row]);

/** The one value an attribute has in series s; missing or varying values are errors. */
function attributeValue(table: ColumnTable, structure: Structure, s: number, c: Column): Value {
  const column = c.v.columns[0];
  const name = table.names[column];
  const store = table.stores[column];
  const { start, order } = structure;
  // Inference found one value per series and the column has no missing cell: nothing below can fail.
  if (c.v.constantChecked && store.missing === 0) return valueAt(c, store, rowAt(order, start[s]));
  let first = -1;
  let value: Value = '';
  for (let i = start[s]; i < start[s + 1]; i++) {
    const r = rowAt(order, i);
    if (store.isMissing(r)) {
      throw new DataError(
        `${table.file}, ${table.where(r)}, column '${name}' (series ${seriesName(structure, s)}): the attribute value is missing; ` +
          'every row of a series must carry its attributes: fill it in, or make the column a feature',
        table.file,
        table.rowNumber(r),
        name,
      );
    }
    const x = valueAt(c, store, r);
    if (first < 0) {
      first = r;
      value = x;
    } else if (x !== value) {
      throw new DataError(
        `${table.file}: column '${name}' is an attribute and must be constant within a series, but series ` +
          `${seriesName(structure, s)} has ${quote(value)} on ${table.where(first)} and ${quote(x)} on ${table.where(r)}; ` +
          'fix the value, or make the column a feature',
        table.file,
        table.rowNumber(r),
        name,
      );
    }
  }
  return value;
}

/** The first row of series s when its `length` steps are rows r, r+1, ... of the file in order; else -1. */
function contiguousRows(structure: Structure, s: number, length: number): number {
  if (structure.wideSteps !== undefined || length === 0) return -1;
  const { order, start } = structure;
  if (order === null) return start[s];
  const first = order[start[s]];
  for (let t = 1; t < length; t++) if (order[start[s] + t] !== first + t) return -1;
  return first;
}

/** Where step t of series s of variable v is: (store, row). */
function cellOf(table: ColumnTable, structure: Structure, v: Variable, s: number, t: number): [ColumnStore, number] {
  if (v.group) return [table.stores[v.columns[t]], s];
  return [table.stores[v.columns[0]], rowAt(structure.order, structure.start[s] + t)];
}

/** Feature columns (and times) of series s with missing values repaired; null when no step is left. */
function featureSteps(
  table: ColumnTable,
  structure: Structure,
  s: number,
  features: Column[],
  policies: Policies,
  report: ImportReport,
): { length: number; features: FeatureColumn[]; times?: FeatureColumn } | null {
  const F = features.length;
  let length = structure.wideSteps ?? structure.start[s + 1] - structure.start[s];
  if (structure.wideSteps !== undefined) {
    // Wide rows end where every feature's remaining cells are empty: that series is shorter.
    while (length > 0 && features.every((c) => cellOf(table, structure, c.v, s, length - 1)[0].isMissing(s))) length--;
  }
  const columns = new Array<FeatureColumn>(F);
  const missing = new Uint8Array(length * F);
  let anyMissing = false;
  const firstRow = contiguousRows(structure, s, length);
  for (let f = 0; f < F; f++) {
    const c = features[f];
    if (firstRow >= 0 && !c.categorical && !c.v.group) {
      // The series' rows are consecutive rows of the file: its column can be a view of the store's numbers
      // (no copy; the Dataset then keeps 8 bytes per row of this column, the least it can).
      const store = table.stores[c.v.columns[0]];
      if (!store.anyMissing(firstRow, firstRow + length)) {
        columns[f] = store.numbers!.subarray(firstRow, firstRow + length);
        continue;
      }
    }
    const column = emptyColumn(c, length);
    columns[f] = column;
    for (let t = 0; t < length; t++) {
      const [store, row] = cellOf(table, structure, c.v, s, t);
      if (store.isMissing(row)) {
        missing[t * F + f] = 1;
        anyMissing = true;
      } else if (c.categorical) {
        (column as string[])[t] = store.labelAt(row);
      } else {
        (column as Float64Array)[t] = store.numbers![row];
      }
    }
  }
  const times = structure.timeColumn !== undefined ? timeStamps(table, structure, s, length, firstRow) : undefined;
  if (length === 0) {
    report.warnings.push(`series ${seriesName(structure, s)} has no feature values; left out`);
    return null;
  }
  if (!anyMissing) return { length, features: columns, ...(times ? { times } : {}) };

  if (policies.missing === 'drop') {
    const keep: number[] = [];
    for (let t = 0; t < length; t++) if (!missing.subarray(t * F, (t + 1) * F).includes(1)) keep.push(t);
    report.missingRowsDropped += length - keep.length;
    if (keep.length === 0) {
      report.warnings.push(`series ${seriesName(structure, s)}: every step had a missing feature value; the series was left out`);
      return null;
    }
    return {
      length: keep.length,
      features: columns.map((column) => pickSteps(column, keep)),
      ...(times ? { times: pickSteps(times, keep) } : {}),
    };
  }

  for (let f = 0; f < F; f++) {
    const known: number[] = [];
    for (let t = 0; t < length; t++) if (!missing[t * F + f]) known.push(t);
    if (known.length === length) continue;
    if (known.length === 0) {
      throw new DataError(
        `${table.file}: series ${seriesName(structure, s)} has no value at all for feature '${features[f].v.name}', ` +
          'so there is nothing to interpolate from; fill some values, or use the drop policy for missing values',
        table.file,
        undefined,
        features[f].v.name,
      );
    }
    report.missingInterpolated += length - known.length;
    fillGaps(columns[f], known);
  }
  return { length, features: columns, ...(times ? { times } : {}) };
}

/**
 * Series s's time stamps: labels for dates; numbers as a view of the column read where the series' rows
 * are consecutive in the file (`firstRow`, else -1), else a copy.
 */
function timeStamps(table: ColumnTable, structure: Structure, s: number, length: number, firstRow: number): FeatureColumn {
  const store = table.stores[structure.timeColumn!];
  const { order, start } = structure;
  if (structure.timeIsDate) return Array.from({ length }, (_, t) => store.labelAt(rowAt(order, start[s] + t)));
  if (firstRow >= 0) return store.numbers!.subarray(firstRow, firstRow + length);
  const stamps = new Float64Array(length);
  for (let t = 0; t < length; t++) stamps[t] = store.numbers![rowAt(order, start[s] + t)];
  return stamps;
}

/**
 * Fill the unknown steps of one feature column from its known steps `known` (ascending): labels carry
 * forward, numbers are interpolated linearly.
 */
function fillGaps(column: FeatureColumn, known: number[]): void {
  const first = known[0];
  const last = known[known.length - 1];
  for (let t = 0; t < first; t++) column[t] = column[first];
  for (let t = last + 1; t < column.length; t++) column[t] = column[last];
  for (let k = 0; k + 1 < known.length; k++) {
    const a = known[k];
    const b = known[k + 1];
    for (let t = a + 1; t < b; t++) {
      if (column instanceof Float64Array) {
        const x = column[a];
        const y = column[b];
        column[t] = x + ((y - x) * (t - a)) / (b - a);
      } else column[t] = column[a];
    }
  }
}

/** Steps a..b of a column or the times for a split piece: a view for numbers (the pieces share the series' memory). */
function pieceOf<T extends FeatureColumn | TimeStamps>(column: T, a: number, b: number): T {
  return (column instanceof Float64Array ? column.subarray(a, b) : column.slice(a, b)) as T;
}

/** Series over maxLength: split into pieces `<id>#0`, `<id>#1`, ... or truncated. */
function limitLengths(series: Series[], maxLength: number, mode: 'split' | 'truncate', report: ImportReport): Series[] {
  const out: Series[] = [];
  let pieces = 0;
  for (const x of series) {
    if (x.length <= maxLength) {
      out.push(x);
      continue;
    }
    if (mode === 'truncate') {
      report.seriesTruncated++;
      out.push({
        ...x,
        length: maxLength,
        features: x.features.map((column) => sliceColumn(column, 0, maxLength)),
        ...(x.times ? { times: x.times.slice(0, maxLength) } : {}),
      });
      continue;
    }
    report.seriesSplit++;
    for (let k = 0; k * maxLength < x.length; k++) {
      const a = k * maxLength;
      const b = Math.min(a + maxLength, x.length);
      out.push({
        id: `${x.id}#${k}`,
        source: x.id,
        attributes: x.attributes.slice(),
        length: b - a,
        features: x.features.map((column) => pieceOf(column, a, b)),
        ...(x.times ? { times: pieceOf(x.times, a, b) } : {}),
      });
      pieces++;
    }
  }
  if (report.seriesSplit) {
    report.warnings.push(`${report.seriesSplit} series longer than ${maxLength} steps were split into ${pieces} pieces (ids <id>#0, <id>#1, ...)`);
  }
  if (report.seriesTruncated) {
    report.warnings.push(`${report.seriesTruncated} series longer than ${maxLength} steps were truncated to their first ${maxLength} steps`);
  }
  return out;
}

/**
 * The schema's column list, in the input's column order (a wide group where its first column is).
 * Continuous ranges are the declared ones, widened (with a warning) if the data goes beyond them; continuous
 * columns record the most decimals their values had; the time column records its stamps' pattern.
 */
export function schemaColumns(table: ColumnTable, structure: Structure, variables: ResolvedVariable[], used: Column[], warnings: string[]): ColumnSchema[] {
  const placed: { at: number; column: ColumnSchema }[] = [];
  const firstColumn = (v: Variable) => Math.min(...v.columns.map((j) => (j < 0 ? Infinity : j)));
  if (structure.idColumn !== undefined) placed.push({ at: structure.idColumn, column: { name: table.names[structure.idColumn], kind: 'id', role: 'id' } });
  if (structure.timeColumn !== undefined) {
    const time = timePatternOf(table, structure);
    placed.push({ at: structure.timeColumn, column: { name: table.names[structure.timeColumn], kind: 'time', role: 'time', ...(time ? { time } : {}) } });
  }
  for (const c of used) {
    const column: ColumnSchema = { name: c.v.name, kind: c.v.kind, role: c.v.role };
    if (c.categorical) column.categories = c.categories;
    else {
      let min = c.min;
      let max = c.max;
      const declared = c.v.declared;
      if (declared?.min !== undefined && declared.max !== undefined) {
        if (min < declared.min || max > declared.max) {
          warnings.push(`column '${c.v.name}': values span [${min}, ${max}], beyond the schema's range [${declared.min}, ${declared.max}]; the range was widened`);
        }
        min = Math.min(min, declared.min);
        max = Math.max(max, declared.max);
      }
      column.min = min;
      column.max = max;
      column.decimals = Math.max(0, ...c.v.columns.map((j) => table.stores[j]?.maxDecimals ?? 0));
    }
    if (c.v.group) column.wideColumns = c.v.columns.map((j) => table.names[j]);
    placed.push({ at: firstColumn(c.v), column });
  }
  for (const v of variables) {
    if (v.role !== 'ignore') continue;
    placed.push({ at: firstColumn(v), column: { name: v.name, kind: v.kind, role: 'ignore', ...(v.group ? { wideColumns: v.columns.map((j) => table.names[j]) } : {}) } });
  }
  // A stable sort: columns at the same place (none in practice) keep the order above.
  return placed.sort((a, b) => a.at - b.at).map((p) => p.column);
}

/** The time column's pattern (type, most common start, most common step) from the stored stamps. */
function timePatternOf(table: ColumnTable, structure: Structure): TimePattern | null {
  const store = table.stores[structure.timeColumn!];
  const numbers = store.numbers;
  if (!numbers) return null;
  const { start, order } = structure;
  const series: SeriesStamps[] = structure.ids.map((_, s) => ({ length: start[s + 1] - start[s], at: (t: number) => numbers[rowAt(order, start[s] + t)] }));
  const dateOnly = structure.timeIsDate && store.labels.every((label) => label.trim().length === 10);
  return inferTimePattern(series, structure.timeIsDate ? 'date' : 'number', (s) => store.labelAt(rowAt(order, start[s])), store.maxDecimals, dateOnly);
}
