/**
 * Decisions made from the header alone, before any row is read: which column is the series id, which
 * may be time, which numbered column groups could be wide features, and what to store of each column.
 */
import type { StoreMode } from './columns.ts';
import type { ReadOptions } from './options.ts';
import { DataError, type Schema } from './types.ts';

/** A run of numbered columns (`traffic_0, traffic_1, ...` or `traffic[0], traffic[1], ...`): one wide feature. */
export interface WideGroup {
  name: string;
  /** File column indexes, in time step order. */
  columns: number[];
}

export interface HeaderPlan {
  file: string;
  names: string[];
  schema?: Schema;
  chunkSize?: number;
  /** The series id column: given, from the schema, or found by name (id, series, series_id). */
  idColumn?: string;
  /** The time column when given (option or schema). */
  timeColumn?: string;
  /** Columns named like time (time, timestamp, date, step...) that inference may pick as the time column. */
  timeCandidates: string[];
  groups: WideGroup[];
  /** Roles forced by options.attributes / options.features. */
  forced?: { attributes: string[]; features: string[] };
  /** Kinds forced by options.categorical / options.continuous. */
  kinds: Map<string, 'categorical' | 'continuous'>;
  modes: StoreMode[];
  warnings: string[];
}

/** Names (lowercased, non-alphanumerics removed) taken as a series id column when none is given. */
const ID_NAMES = new Set(['id', 'series', 'seriesid']);
/** Names (same normalization) that may be the time column. */
const TIME_NAMES = new Set(['time', 'timestamp', 'date', 'datetime', 'step', 'timestep', 't', 'ts']);

const normalizeName = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');

export const isTimeLikeName = (name: string): boolean => TIME_NAMES.has(normalizeName(name));

const NUMBERED = /^(.+?)(?:_(\d+)|\[(\d+)\])$/;

/**
 * Numbered column groups: at least two columns sharing a prefix and style whose numbers run 0..n-1 or
 * 1..n without gaps. Anything else stays an ordinary column.
 */
export function detectWideGroups(names: string[], exclude: Set<string>): WideGroup[] {
  const plain = new Set(names);
  const byKey = new Map<string, { name: string; entries: { index: number; column: number }[] }>();
  names.forEach((name, column) => {
    if (exclude.has(name)) return;
    const m = NUMBERED.exec(name);
    if (!m) return;
    const bracket = m[3] !== undefined;
    const key = `${m[1]}${bracket ? '[]' : '_'}`;
    const group = byKey.get(key) ?? { name: m[1], entries: [] };
    group.entries.push({ index: Number(bracket ? m[3] : m[2]), column });
    byKey.set(key, group);
  });
  const groups: WideGroup[] = [];
  for (const { name, entries } of byKey.values()) {
    // A group named like an existing column would give two columns of one name.
    if (entries.length < 2 || plain.has(name)) continue;
    entries.sort((a, b) => a.index - b.index);
    const first = entries[0].index;
    if (first !== 0 && first !== 1) continue;
    if (!entries.every((e, i) => e.index === first + i)) continue;
    groups.push({ name, columns: entries.map((e) => e.column) });
  }
  // Two styles of the same prefix would give two features of one name: keep the first only.
  const seen = new Set<string>();
  return groups.filter((g) => {
    if (seen.has(g.name)) return false;
    seen.add(g.name);
    return true;
  });
}

function missingColumnsError(file: string, what: string, missing: string[], names: string[], groups: WideGroup[]): DataError {
  const list = missing.map((m) => `'${m}'`).join(', ');
  const groupNote = groups.length ? `; numbered column groups: ${groups.map((g) => g.name).join(', ')}` : '';
  return new DataError(
    `${file}: ${what} ${list} ${missing.length === 1 ? 'is' : 'are'} not in the file. ` + `The file's columns are: ${names.join(', ')}${groupNote}. Fix the name or pick the right file`,
    file,
    undefined,
    missing[0],
  );
}

/** `purpose` 'inspect' keeps everything (stats for all columns); 'read' stores ignored columns as counts only. */
export function planFromHeader(file: string, names: string[], options: ReadOptions, purpose: 'inspect' | 'read'): HeaderPlan {
  if (options.schema) {
    const listed = [...(options.categorical ?? []), ...(options.continuous ?? [])];
    if (listed.length)
      throw new DataError(`${file}: a schema declares every column's kind; change '${listed[0]}' there instead of listing it as categorical or continuous`, file, undefined, listed[0]);
    return planFromSchema(file, names, options.schema);
  }
  const has = new Set(names);
  const warnings: string[] = [];

  if (options.chunkSize !== undefined && (!Number.isInteger(options.chunkSize) || options.chunkSize < 1)) {
    throw new DataError(`${file}: chunk size must be a positive whole number, got ${options.chunkSize}`, file);
  }
  if (options.chunkSize !== undefined && options.idColumn !== undefined) {
    throw new DataError(
      `${file}: both a series id column ('${options.idColumn}') and a chunk size (${options.chunkSize}) were given; ` +
        'use the id column when the file has one, or the chunk size when series are runs of consecutive rows',
      file,
    );
  }
  for (const [what, column] of [
    ['the id column', options.idColumn],
    ['the time column', options.timeColumn],
  ] as const) {
    if (column !== undefined && !has.has(column)) throw missingColumnsError(file, what, [column], names, []);
  }

  let idColumn = options.idColumn;
  if (idColumn === undefined && options.chunkSize === undefined) {
    idColumn = names.find((n) => ID_NAMES.has(normalizeName(n)));
    if (idColumn !== undefined) warnings.push(`using column '${idColumn}' as the series id (found by its name)`);
  }
  const reserved = new Set([idColumn, options.timeColumn].filter((c): c is string => c !== undefined));
  const groups = options.chunkSize !== undefined || options.timeColumn !== undefined ? [] : detectWideGroups(names, reserved);
  const userListed = new Set([...(options.attributes ?? []), ...(options.features ?? [])]);
  // A column the user listed as an attribute or feature is not taken for time.
  const timeCandidates = options.timeColumn === undefined ? names.filter((n) => !reserved.has(n) && !userListed.has(n) && isTimeLikeName(n)) : [];

  let forced: HeaderPlan['forced'];
  if (options.attributes || options.features) {
    forced = { attributes: options.attributes ?? [], features: options.features ?? [] };
    const known = new Set([...names, ...groups.map((g) => g.name)]);
    const missing = [...forced.attributes, ...forced.features].filter((c) => !known.has(c));
    if (missing.length) throw missingColumnsError(file, 'the attribute/feature column', missing, names, groups);
    const both = forced.attributes.filter((c) => forced!.features.includes(c));
    if (both.length) {
      throw new DataError(`${file}: column '${both[0]}' is listed both as an attribute and as a feature; pick one`, file, undefined, both[0]);
    }
    for (const c of [...forced.attributes, ...forced.features]) {
      if (reserved.has(c)) {
        throw new DataError(`${file}: column '${c}' is the series id or time column and cannot also be an attribute or feature`, file, undefined, c);
      }
    }
  }

  const kinds = forcedKinds(file, options, names, groups, reserved);
  const listed = new Set([...(forced?.attributes ?? []), ...(forced?.features ?? [])]);
  const inListedGroup = new Set(groups.filter((g) => listed.has(g.name)).flatMap((g) => g.columns));
  const modes = names.map((name, j): StoreMode => {
    if (name === idColumn) return 'label';
    if (name === options.timeColumn) return 'time';
    // categories need every label kept, however many distinct numbers the column has
    if (kinds.get(name) === 'categorical' || kinds.get(groups.find((g) => g.columns.includes(j))?.name ?? '') === 'categorical') return 'label';
    if (forced && !listed.has(name) && !inListedGroup.has(j) && !timeCandidates.includes(name)) {
      return purpose === 'read' ? 'count' : 'auto';
    }
    return 'auto';
  });
  return {
    file,
    names,
    chunkSize: options.chunkSize,
    idColumn,
    timeColumn: options.timeColumn,
    timeCandidates,
    groups,
    forced,
    kinds,
    modes,
    warnings,
  };
}

/** options.categorical / options.continuous, checked: known columns, not both, not the id or time column. */
function forcedKinds(file: string, options: ReadOptions, names: string[], groups: WideGroup[], reserved: Set<string>): Map<string, 'categorical' | 'continuous'> {
  const kinds = new Map<string, 'categorical' | 'continuous'>();
  const known = new Set([...names, ...groups.map((g) => g.name)]);
  for (const kind of ['categorical', 'continuous'] as const) {
    const listed = options[kind] ?? [];
    const missing = listed.filter((c) => !known.has(c));
    if (missing.length) throw missingColumnsError(file, `the ${kind} column`, missing, names, groups);
    for (const c of listed) {
      if (kinds.has(c)) throw new DataError(`${file}: column '${c}' is listed both as categorical and as continuous; pick one`, file, undefined, c);
      if (reserved.has(c)) throw new DataError(`${file}: column '${c}' is the series id or time column; it has no kind to choose`, file, undefined, c);
      kinds.set(c, kind);
    }
  }
  return kinds;
}

function planFromSchema(file: string, names: string[], schema: Schema): HeaderPlan {
  const has = new Set(names);
  const wanted: string[] = [];
  const layout = schema.layout;
  if (layout.kind === 'long') wanted.push(layout.idColumn);
  if (layout.kind !== 'wide' && layout.timeColumn) wanted.push(layout.timeColumn);
  if (layout.kind === 'wide' && layout.idColumn) wanted.push(layout.idColumn);
  for (const c of schema.columns) wanted.push(...(c.wideColumns ?? [c.name]));
  const missing = [...new Set(wanted)].filter((c) => !has.has(c));
  if (missing.length) throw missingColumnsError(file, 'the schema names column', missing, names, []);

  const byName = new Map(schema.columns.map((c) => [c.name, c]));
  const wideOwner = new Map<string, string>();
  for (const c of schema.columns) for (const w of c.wideColumns ?? []) wideOwner.set(w, c.name);
  const warnings: string[] = [];
  const unknown = names.filter((n) => !byName.has(n) && !wideOwner.has(n));
  if (unknown.length) {
    warnings.push(`column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')} not in the schema: ignored`);
  }
  const modes = names.map((name): StoreMode => {
    const column = byName.get(name) ?? byName.get(wideOwner.get(name) ?? '');
    if (!column || column.role === 'ignore') return 'count';
    if (column.kind === 'id') return 'label';
    if (column.kind === 'time') return 'time';
    return column.kind === 'continuous' ? 'number' : 'label';
  });
  const groups: WideGroup[] = schema.columns.filter((c) => c.wideColumns).map((c) => ({ name: c.name, columns: c.wideColumns!.map((w) => names.indexOf(w)) }));
  return {
    file,
    names,
    schema,
    chunkSize: layout.kind === 'long-chunked' ? layout.chunkSize : undefined,
    idColumn: layout.kind === 'wide' || layout.kind === 'long' ? layout.idColumn : undefined,
    timeColumn: layout.kind !== 'wide' ? layout.timeColumn : undefined,
    timeCandidates: [],
    groups,
    kinds: new Map(),
    modes,
    warnings,
  };
}
