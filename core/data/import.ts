/**
 * The import stage end to end: read the file into column stores, settle layout and series, infer or
 * apply the schema, then either summarize (inspectFile) or build the Dataset (readDataset).
 */
import * as fs from 'node:fs';
import { buildDataset, schemaColumns, settle, type Column } from './build.ts';
import { columnStats, numericSummary, resolveVariables, reviewWarnings, type ResolvedVariable } from './infer.ts';
import type { ColumnStats, ReadOptions, ReadProgress } from './options.ts';
import { CATEGORY_HINT, categoryLimitProblems, outlierWarnings, outOfRangeError } from './guards.ts';
import { planFromHeader, type HeaderPlan } from './plan.ts';
import { readArrowTable, readParquetTable } from './read-columnar.ts';
import { readCsvTable } from './read-csv.ts';
import { buildStructure, type Structure } from './structure.ts';
import { formatOf, type ColumnTable, type StorePlan } from './table.ts';
import { DataError, type Dataset, type ImportReport, type Schema } from './types.ts';

export interface Inspection {
  schema: Schema;
  stats: ColumnStats[];
  /** Number of series found (before any split by maxLength). */
  series: number;
  /** Series lengths in steps, as in the file (wide rows: up to the last non-empty step). */
  lengths: { min: number; max: number; mean: number };
  warnings: string[];
}

function checkOptions(file: string, options: ReadOptions): void {
  const bad = (what: string) => new DataError(`${file}: ${what}`, file);
  if (options.maxLength !== undefined && (!Number.isInteger(options.maxLength) || options.maxLength < 1)) {
    throw bad(`maxLength must be a positive whole number, got ${options.maxLength}`);
  }
  if (options.longSeries !== undefined && options.longSeries !== 'split' && options.longSeries !== 'truncate') {
    throw bad(`longSeries must be 'split' or 'truncate', got ${JSON.stringify(options.longSeries)}`);
  }
  if (options.missing !== undefined && options.missing !== 'interpolate' && options.missing !== 'drop') {
    throw bad(`missing must be 'interpolate' or 'drop', got ${JSON.stringify(options.missing)}`);
  }
  if (options.delimiter !== undefined && (options.delimiter.length !== 1 || /["\r\n]/.test(options.delimiter))) {
    throw bad(`the delimiter must be one character other than a quote or newline, got ${JSON.stringify(options.delimiter)}`);
  }
  if (options.encoding !== undefined && options.encoding !== 'utf-8' && options.encoding !== 'latin-1') {
    throw bad(`encoding must be 'utf-8' or 'latin-1', got ${JSON.stringify(options.encoding)}`);
  }
}

async function load(file: string, options: ReadOptions, purpose: 'inspect' | 'read', onProgress?: ReadProgress) {
  checkOptions(file, options);
  if (!fs.existsSync(file)) throw new DataError(`${file}: no such file`, file, undefined, undefined, { text: 'check the path, or choose the file again' });
  const stat = fs.statSync(file);
  if (stat.isDirectory()) throw new DataError(`${file} is a folder, not a data file`, file, undefined, undefined, { text: 'choose a CSV, Parquet or Arrow file inside it' });
  if (!stat.isFile())
    throw new DataError(`${file} is not a regular file (a device, a pipe or a socket): it cannot be read as data`, file, undefined, undefined, { text: 'save the data to a file first' });
  const format = formatOf(file);
  let plan: HeaderPlan | undefined;
  const planner: StorePlan = (names) => {
    plan = planFromHeader(file, names, options, purpose);
    return plan.modes;
  };
  const table: ColumnTable =
    format === 'csv'
      ? await readCsvTable(file, planner, options.delimiter, onProgress, options.encoding)
      : format === 'parquet'
        ? await readParquetTable(file, planner, onProgress)
        : await readArrowTable(file, planner, onProgress);
  const warnings = [...table.warnings, ...plan!.warnings];
  const overflow = outOfRangeError(table);
  if (overflow) throw overflow;
  const structure = buildStructure(table, plan!);
  warnings.push(...structure.warnings);
  return { table, plan: plan!, structure, warnings };
}

const policiesOf = (options: ReadOptions) => ({
  maxLength: options.maxLength ?? options.schema?.maxLength,
  longSeries: options.longSeries ?? options.schema?.longSeries ?? 'split',
  missing: options.missing ?? options.schema?.missing ?? 'interpolate',
});

/** Read, check and repair a file into a Dataset. Every input problem is a DataError naming file, row and column. */
export async function readDataset(file: string, options: ReadOptions = {}, onProgress?: ReadProgress): Promise<{ dataset: Dataset; report: ImportReport }> {
  const { table, plan, structure, warnings } = await load(file, options, 'read', onProgress);
  const variables = resolveVariables(table, structure, plan, true, warnings);
  const tooMany = categoryLimitProblems(table, variables)[0];
  if (tooMany) throw new DataError(`${file}: ${tooMany.message}`, file, undefined, tooMany.column, { text: CATEGORY_HINT });
  return buildDataset(table, structure, variables, policiesOf(options), warnings);
}

/** Look at a file without building the Dataset: the inferred (or given) schema, column statistics, warnings. */
export async function inspectFile(file: string, options: ReadOptions = {}, onProgress?: ReadProgress): Promise<Inspection> {
  const { table, plan, structure, warnings } = await load(file, options, 'inspect', onProgress);
  const variables = resolveVariables(table, structure, plan, false, warnings);
  warnings.push(...reviewWarnings(table, variables));
  warnings.push(...outlierWarnings(table, variables));
  for (const problem of categoryLimitProblems(table, variables)) warnings.push(`${problem.message}: training would refuse it; ${CATEGORY_HINT}`);

  const features = variables.filter((v) => v.role === 'feature');
  const lengths = structure.ids.map((_, s) => rawLength(table, structure, features, s));
  const used = [...variables.filter((v) => v.role === 'attribute'), ...features].map((v) => withObservedRange(table, v));
  const policies = policiesOf(options);
  const longest = lengths.reduce((m, x) => Math.max(m, x), 0);
  const schema: Schema = {
    version: 1,
    layout: structure.layout,
    columns: schemaColumns(table, structure, variables, used, warnings),
    maxLength: policies.maxLength ?? longest,
    longSeries: policies.longSeries,
    missing: policies.missing,
  };
  if (features.length === 0) warnings.push('no column varies within a series, so there are no features; check the layout (the series id column or the chunk size)');
  return {
    schema,
    stats: statsInSchemaOrder(table, structure, variables, schema),
    series: structure.ids.length,
    lengths: {
      min: lengths.reduce((m, x) => Math.min(m, x), Infinity),
      max: longest,
      mean: lengths.reduce((a, x) => a + x, 0) / Math.max(1, lengths.length),
    },
    warnings,
  };
}

function withObservedRange(table: ColumnTable, v: ResolvedVariable): Column {
  const column = settle(table, v);
  if (!column.categorical) {
    const summary = numericSummary(table, v);
    column.min = summary?.min ?? 0;
    column.max = summary?.max ?? 0;
  }
  return column;
}

/** Steps of series s as stored; wide rows end at their last step with any feature value. */
function rawLength(table: ColumnTable, structure: Structure, features: ResolvedVariable[], s: number): number {
  if (structure.wideSteps === undefined) return structure.start[s + 1] - structure.start[s];
  let length = structure.wideSteps;
  while (length > 0 && features.every((v) => table.stores[v.columns[length - 1]].isMissing(s))) length--;
  return length;
}

function statsInSchemaOrder(table: ColumnTable, structure: Structure, variables: ResolvedVariable[], schema: Schema): ColumnStats[] {
  const byName = new Map(variables.map((v) => [v.name, v]));
  return schema.columns.map((c) => {
    if (c.role === 'id' || c.role === 'time') {
      const column = c.role === 'id' ? structure.idColumn! : structure.timeColumn!;
      const stats = columnStats(table, { name: c.name, columns: [column], group: false }, c.kind, c.role);
      delete stats.topCategories;
      return stats;
    }
    const v = byName.get(c.name)!;
    return columnStats(table, v, v.kind, v.role);
  });
}
