/**
 * From stored columns to series: settle the layout, group rows into series (by id, by fixed chunks, or
 * one row per series for wide data), pick and apply the time column, and list the variables.
 */
import type { ColumnStore } from './columns.ts';
import type { HeaderPlan, WideGroup } from './plan.ts';
import type { ColumnTable } from './table.ts';
import { DataError, type ColumnSchema, type Layout } from './types.ts';
import { quote } from './values.ts';

/** A source of values for one schema column: a file column, or (wide) a group of numbered columns. */
export interface Variable {
  name: string;
  /** File column indexes: one, or the wide group's columns in step order. */
  columns: number[];
  /** True for a wide group: step t of series s is column `columns[t]` at row s. */
  group: boolean;
  /** Set when a schema declared this column. */
  declared?: ColumnSchema;
}

export interface Structure {
  layout: Layout;
  /** Series ids in output order (first appearance in the file). */
  ids: string[];
  /**
   * Rows of series s are order[start[s]] .. order[start[s+1]-1], in time order; `order` is null when that
   * is every row in file order (order[i] = i: each series' rows consecutive and in time order, as in most
   * files), which costs no array of one number per row. See rowAt.
   */
  start: Int32Array;
  order: Int32Array | null;
  /** Wide only: time steps per series (the group length). */
  wideSteps?: number;
  idColumn?: number;
  timeColumn?: number;
  /** The time column holds ISO dates (given back as text) rather than numbers. */
  timeIsDate: boolean;
  variables: Variable[];
  warnings: string[];
}

/** The file row of the i-th row in series order (see Structure.order). */
export const rowAt = (order: Int32Array | null, i: number): number => (order === null ? i : order[i]);

export function buildStructure(table: ColumnTable, plan: HeaderPlan): Structure {
  const warnings: string[] = [];
  const index = (name: string) => table.names.indexOf(name);
  const idColumn = plan.idColumn !== undefined ? index(plan.idColumn) : undefined;
  const layoutKind = decideLayout(table, plan, idColumn);

  let grouping: Grouping;
  if (layoutKind === 'long') grouping = groupById(table, idColumn!);
  else if (layoutKind === 'long-chunked') grouping = groupByChunks(table, plan.chunkSize!);
  else grouping = oneRowPerSeries(table, idColumn);

  let timeColumn: number | undefined;
  let timeIsDate = false;
  if (layoutKind !== 'wide') {
    const chosen = chooseTimeColumn(table, plan, grouping, warnings);
    timeColumn = chosen?.column;
    timeIsDate = chosen?.isDate ?? false;
  }

  const groups = layoutKind === 'wide' ? plan.groups : [];
  const variables = listVariables(table, plan, groups, new Set([idColumn, timeColumn]));
  let wideSteps: number | undefined;
  if (layoutKind === 'wide') {
    const features = variables.filter((v) => v.group);
    if (features.length === 0) {
      throw new DataError(`${table.file}: wide layout without numbered feature columns (like traffic_0, traffic_1, ...)`, table.file);
    }
    wideSteps = features[0].columns.length;
    const odd = features.find((v) => v.columns.length !== wideSteps);
    if (odd) {
      throw new DataError(
        `${table.file}: wide feature groups differ in length: '${features[0].name}' has ${wideSteps} steps, ` +
          `'${odd.name}' has ${odd.columns.length}; every feature needs the same numbered columns (pad with empty cells)`,
        table.file,
        undefined,
        odd.name,
      );
    }
  }

  const name = (c: number | undefined) => (c === undefined ? undefined : table.names[c]);
  const layout: Layout =
    layoutKind === 'long'
      ? { kind: 'long', idColumn: name(idColumn)!, ...(timeColumn !== undefined ? { timeColumn: name(timeColumn) } : {}) }
      : layoutKind === 'long-chunked'
        ? { kind: 'long-chunked', chunkSize: plan.chunkSize!, ...(timeColumn !== undefined ? { timeColumn: name(timeColumn) } : {}) }
        : { kind: 'wide', ...(idColumn !== undefined ? { idColumn: name(idColumn) } : {}) };
  return { layout, ...grouping, wideSteps, idColumn, timeColumn, timeIsDate, variables, warnings };
}

function decideLayout(table: ColumnTable, plan: HeaderPlan, idColumn: number | undefined): Layout['kind'] {
  if (plan.schema) return plan.schema.layout.kind;
  if (plan.chunkSize !== undefined) return 'long-chunked';
  if (plan.groups.length > 0) {
    // Numbered groups with an id column: wide when every row has its own id, else long (x_1, x_2 are then
    // just features that happen to be numbered).
    if (idColumn === undefined) return 'wide';
    const ids = table.stores[idColumn];
    return ids.labels.length === table.rows ? 'wide' : 'long';
  }
  if (idColumn !== undefined) return 'long';
  throw new DataError(
    `${table.file}: cannot tell how rows form series. Give the series id column for long data, ` +
      `or a chunk size when each series is a run of that many consecutive rows. ` +
      `The file's columns are: ${table.names.join(', ')}`,
    table.file,
    undefined,
    undefined,
    { text: 'name the column that identifies each series (or give a chunk size)', option: 'idColumn' },
  );
}

function groupById(table: ColumnTable, idColumn: number) {
  const store = table.stores[idColumn];
  const codes = store.codes!;
  const counts = new Int32Array(store.labels.length);
  let inFileOrder = true;
  let previous = 0;
  for (let r = 0; r < table.rows; r++) {
    const code = codes[r];
    if (code < 0) {
      throw new DataError(
        `${table.file}, ${table.where(r)}: the series id column '${table.names[idColumn]}' is empty; every row needs a series id`,
        table.file,
        table.rowNumber(r),
        table.names[idColumn],
      );
    }
    counts[code]++;
    // Codes are numbered in order of first appearance: they never go down when each series' rows are consecutive.
    if (code < previous) inFileOrder = false;
    previous = code;
  }
  const start = new Int32Array(counts.length + 1);
  for (let s = 0; s < counts.length; s++) start[s + 1] = start[s] + counts[s];
  if (inFileOrder) return { ids: store.labels.slice(), start, order: null };
  const fill = start.slice(0, counts.length);
  const order = new Int32Array(table.rows);
  for (let r = 0; r < table.rows; r++) order[fill[codes[r]]++] = r;
  return { ids: store.labels.slice(), start, order };
}

function groupByChunks(table: ColumnTable, chunkSize: number) {
  if (table.rows % chunkSize !== 0) {
    const full = Math.floor(table.rows / chunkSize);
    throw new DataError(
      `${table.file}: ${table.rows} data rows is not a multiple of the chunk size ${chunkSize} ` +
        `(${full} full chunks and ${table.rows - full * chunkSize} rows left over); check the chunk size, ` +
        'or complete or remove the last rows',
      table.file,
    );
  }
  const n = table.rows / chunkSize;
  const start = new Int32Array(n + 1);
  for (let s = 0; s <= n; s++) start[s] = s * chunkSize;
  return { ids: Array.from({ length: n }, (_, s) => String(s)), start, order: null };
}

function oneRowPerSeries(table: ColumnTable, idColumn: number | undefined) {
  const start = new Int32Array(table.rows + 1);
  for (let r = 0; r <= table.rows; r++) start[r] = r;
  const order = null;
  if (idColumn === undefined) return { ids: Array.from({ length: table.rows }, (_, r) => String(r)), start, order };
  const store = table.stores[idColumn];
  const firstRow = new Map<number, number>();
  const ids: string[] = [];
  for (let r = 0; r < table.rows; r++) {
    const code = store.codes![r];
    const column = table.names[idColumn];
    if (code < 0) {
      throw new DataError(`${table.file}, ${table.where(r)}: the id column '${column}' is empty; every row needs an id`, table.file, table.rowNumber(r), column);
    }
    const before = firstRow.get(code);
    if (before !== undefined) {
      throw new DataError(
        `${table.file}: id ${quote(store.labels[code])} appears on ${table.where(before)} and ${table.where(r)}; ` + `in wide data each row is one series and needs its own id`,
        table.file,
        table.rowNumber(r),
        column,
      );
    }
    firstRow.set(code, r);
    ids.push(store.labels[code]);
  }
  return { ids, start, order };
}

/** Does every non-missing cell hold a number (or every one an ISO date)? Names the first cell that breaks it. */
function timeKind(table: ColumnTable, column: number): { isDate: boolean } | { problem: string; row: number } {
  const store = table.stores[column];
  if (store.text > 0) {
    return { problem: `${quote(store.firstText!.value)} is neither a number nor an ISO date (YYYY-MM-DD[Thh:mm[:ss]])`, row: store.firstText!.row };
  }
  if (store.numeric > 0 && store.dates > 0) {
    const later = store.firstNumber!.row > store.firstDate!.row ? store.firstNumber! : store.firstDate!;
    return { problem: `${quote(later.value)} mixes numbers and dates in one time column`, row: later.row };
  }
  if (store.missing > 0) {
    let r = 0;
    while (!store.isMissing(r)) r++;
    return { problem: 'the time stamp is missing', row: r };
  }
  return { isDate: store.dates > 0 };
}

interface Grouping {
  ids: string[];
  start: Int32Array;
  order: Int32Array | null;
}

/**
 * Rows of each series sorted by time (ties keep file order); returns the first duplicate stamp found, or
 * null. Writes the sorted order into `g.order` (made, from file order, for the first series out of time
 * order), logging in `undo` each series' rows before sorting them.
 */
function sortByTime(store: ColumnStore, g: Grouping, undo?: { at: number; rows: Int32Array }[]): { series: number; a: number; b: number } | null {
  const t = store.numbers!;
  for (let s = 0; s < g.ids.length; s++) {
    const from = g.start[s];
    const to = g.start[s + 1];
    let sorted = true;
    for (let i = from + 1; i < to && sorted; i++) sorted = t[rowAt(g.order, i)] > t[rowAt(g.order, i - 1)];
    if (sorted) continue;
    g.order ??= identityOrder(g.start[g.ids.length]);
    const seg = g.order.subarray(from, to);
    undo?.push({ at: from, rows: seg.slice() });
    const rows = Array.from(seg).sort((x, y) => t[x] - t[y] || x - y);
    seg.set(rows);
    for (let i = 1; i < seg.length; i++) if (t[seg[i]] === t[seg[i - 1]]) return { series: s, a: seg[i - 1], b: seg[i] };
  }
  return null;
}

/** order for rows in file order. */
function identityOrder(rows: number): Int32Array {
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  return order;
}

function chooseTimeColumn(table: ColumnTable, plan: HeaderPlan, g: Grouping, warnings: string[]) {
  const file = table.file;
  if (plan.timeColumn !== undefined) {
    const column = table.names.indexOf(plan.timeColumn);
    const kind = timeKind(table, column);
    if ('problem' in kind) {
      throw new DataError(
        `${file}, ${table.where(kind.row)}, column '${plan.timeColumn}': ${kind.problem}; the time column needs a number or ISO date on every row`,
        file,
        table.rowNumber(kind.row),
        plan.timeColumn,
      );
    }
    const dup = sortByTime(table.stores[column], g);
    if (dup) {
      const store = table.stores[column];
      throw new DataError(
        `${file}: series ${quote(g.ids[dup.series])} has time ${quote(store.labelAt(dup.a))} twice, on ${table.where(dup.a)} ` +
          `and ${table.where(dup.b)} (column '${plan.timeColumn}'); each time stamp may appear once per series: remove or fix one of the rows`,
        file,
        table.rowNumber(dup.b),
        plan.timeColumn,
      );
    }
    return { column, isDate: kind.isDate };
  }
  if (plan.schema) return undefined;
  // Inference: a column named like time, else one holding only ISO dates, with no repeats inside a series.
  const dateColumns = table.names.filter((n, j) => {
    const s = table.stores[j];
    return !plan.timeCandidates.includes(n) && n !== plan.idColumn && s.dates > 0 && s.text === 0 && s.numeric === 0;
  });
  for (const name of [...plan.timeCandidates, ...dateColumns]) {
    const column = table.names.indexOf(name);
    const kind = timeKind(table, column);
    if ('problem' in kind) continue;
    // Sorted in place: a file's rows are mostly in time order already, so only the series that were not
    // are copied (to put back if the column turns out not to be the time), not the whole row order.
    const undo: { at: number; rows: Int32Array }[] = [];
    const before = g.order;
    const dup = sortByTime(table.stores[column], g, undo);
    if (dup) {
      if (before === null) g.order = null;
      else for (const { at, rows } of undo) before.set(rows, at);
      warnings.push(`column '${name}' looks like time but repeats within series ${quote(g.ids[dup.series])} ` + `(${table.where(dup.a)} and ${table.where(dup.b)}); not used as the time column`);
      continue;
    }
    warnings.push(`using column '${name}' as the time column (rows are ordered by it within each series)`);
    return { column, isDate: kind.isDate };
  }
  return undefined;
}

function listVariables(table: ColumnTable, plan: HeaderPlan, groups: WideGroup[], reserved: Set<number | undefined>): Variable[] {
  if (plan.schema) {
    return plan.schema.columns
      .filter((c) => c.role !== 'id' && c.role !== 'time')
      .map((c) => ({
        name: c.name,
        columns: (c.wideColumns ?? [c.name]).map((n) => table.names.indexOf(n)),
        group: c.wideColumns !== undefined,
        declared: c,
      }));
  }
  const groupAt = new Map<number, WideGroup>();
  const inGroup = new Set<number>();
  for (const g of groups) {
    groupAt.set(Math.min(...g.columns), g);
    for (const c of g.columns) inGroup.add(c);
  }
  const variables: Variable[] = [];
  table.names.forEach((name, j) => {
    if (reserved.has(j)) return;
    const g = groupAt.get(j);
    if (g) variables.push({ name: g.name, columns: g.columns, group: true });
    else if (!inGroup.has(j)) variables.push({ name, columns: [j], group: false });
  });
  return variables;
}
