/**
 * Schema JSON files (written by `dg inspect --write-schema`, edited by people): load and check every
 * field, so a typo is reported by name instead of surfacing later as odd training.
 */
import * as fs from 'node:fs';
import { DataError, type ColumnSchema, type Schema } from './types.ts';
import { parseIsoDate } from './values.ts';

const KINDS = ['continuous', 'categorical', 'time', 'id'];
const ROLES = ['attribute', 'feature', 'id', 'time', 'ignore'];
const TOP_FIELDS = ['version', 'layout', 'columns', 'maxLength', 'longSeries', 'missing'];
const COLUMN_FIELDS = ['name', 'kind', 'role', 'categories', 'min', 'max', 'wideColumns', 'decimals', 'time'];
const TIME_TYPES = ['integer', 'number', 'date', 'datetime'];
const LAYOUT_FIELDS: Record<string, string[]> = {
  long: ['kind', 'idColumn', 'timeColumn'],
  'long-chunked': ['kind', 'chunkSize', 'timeColumn'],
  wide: ['kind', 'idColumn'],
};

export function loadSchemaFile(path: string): Schema {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw new DataError(`${path}: cannot read the schema file (${(error as Error).message})`, path);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DataError(`${path}: the schema file is not valid JSON (${(error as Error).message})`, path);
  }
  return validateSchema(json, path);
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isPositiveInteger = (x: unknown) => Number.isInteger(x) && (x as number) >= 1;

/** Check a parsed schema; `source` names it in messages. Returns it typed. */
export function validateSchema(json: unknown, source: string): Schema {
  const fail = (where: string, problem: string): never => {
    throw new DataError(`${source}: schema ${where}: ${problem}`, source, undefined, undefined);
  };
  const noUnknownFields = (obj: Record<string, unknown>, allowed: string[], where: string) => {
    const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
    if (extra.length) fail(where, `unknown field${extra.length > 1 ? 's' : ''} ${extra.map((e) => `'${e}'`).join(', ')} (allowed: ${allowed.join(', ')})`);
  };

  if (!isObject(json)) return fail('', 'must be a JSON object');
  noUnknownFields(json, TOP_FIELDS, 'top level');
  if (json.version !== 1) fail('version', `must be 1, got ${JSON.stringify(json.version)}`);
  if (!isPositiveInteger(json.maxLength)) fail('maxLength', `must be a positive whole number, got ${JSON.stringify(json.maxLength)}`);
  if (json.longSeries !== 'split' && json.longSeries !== 'truncate') fail('longSeries', `must be 'split' or 'truncate', got ${JSON.stringify(json.longSeries)}`);
  if (json.missing !== 'interpolate' && json.missing !== 'drop') fail('missing', `must be 'interpolate' or 'drop', got ${JSON.stringify(json.missing)}`);

  const layout = json.layout;
  if (!isObject(layout)) return fail('layout', 'must be an object with a kind');
  const layoutFields = LAYOUT_FIELDS[String(layout.kind)];
  if (!layoutFields) return fail('layout.kind', `must be one of ${Object.keys(LAYOUT_FIELDS).join(', ')}, got ${JSON.stringify(layout.kind)}`);
  noUnknownFields(layout, layoutFields, 'layout');
  if (layout.kind === 'long' && (typeof layout.idColumn !== 'string' || layout.idColumn === '')) fail('layout.idColumn', 'long layout needs the series id column name');
  if (layout.kind === 'long-chunked' && !isPositiveInteger(layout.chunkSize)) fail('layout.chunkSize', `must be a positive whole number, got ${JSON.stringify(layout.chunkSize)}`);
  for (const key of ['idColumn', 'timeColumn']) {
    if (layout[key] !== undefined && typeof layout[key] !== 'string') fail(`layout.${key}`, 'must be a column name');
  }

  if (!Array.isArray(json.columns) || json.columns.length === 0) return fail('columns', 'must be a non-empty array');
  const names = new Set<string>();
  json.columns.forEach((c: unknown, i: number) => {
    const where = `columns[${i}]`;
    if (!isObject(c)) return fail(where, 'must be an object');
    noUnknownFields(c, COLUMN_FIELDS, `${where} ('${String(c.name)}')`);
    if (typeof c.name !== 'string' || c.name === '') fail(`${where}.name`, 'must be a non-empty string');
    const name = c.name as string;
    const at = `${where} ('${name}')`;
    if (names.has(name)) fail(at, 'the column is listed twice');
    names.add(name);
    if (!KINDS.includes(c.kind as string)) fail(`${at}.kind`, `must be one of ${KINDS.join(', ')}, got ${JSON.stringify(c.kind)}`);
    if (!ROLES.includes(c.role as string)) fail(`${at}.role`, `must be one of ${ROLES.join(', ')}, got ${JSON.stringify(c.role)}`);
    if ((c.kind === 'id') !== (c.role === 'id')) fail(at, `kind 'id' and role 'id' go together (got kind '${c.kind}', role '${c.role}')`);
    if ((c.kind === 'time') !== (c.role === 'time')) fail(at, `kind 'time' and role 'time' go together (got kind '${c.kind}', role '${c.role}')`);
    if (c.categories !== undefined) {
      if (c.kind !== 'categorical') fail(`${at}.categories`, 'only categorical columns have categories');
      if (!Array.isArray(c.categories) || !c.categories.every((x) => typeof x === 'string')) fail(`${at}.categories`, 'must be an array of strings');
      const cats = c.categories as string[];
      const dup = cats.find((x, k) => cats.indexOf(x) !== k);
      if (dup !== undefined) fail(`${at}.categories`, `'${dup}' is listed twice`);
    }
    for (const key of ['min', 'max']) {
      if (c[key] === undefined) continue;
      if (c.kind !== 'continuous') fail(`${at}.${key}`, 'only continuous columns have a range');
      if (typeof c[key] !== 'number' || !Number.isFinite(c[key])) fail(`${at}.${key}`, 'must be a finite number');
    }
    if ((c.min === undefined) !== (c.max === undefined)) fail(at, 'give both min and max, or neither');
    if (typeof c.min === 'number' && typeof c.max === 'number' && c.min > c.max) fail(at, `min ${c.min} is above max ${c.max}`);
    // decimals and time are recorded by import; one left behind when a person changes the kind is ignored.
    if (c.decimals !== undefined) {
      if (!Number.isInteger(c.decimals) || (c.decimals as number) < 0 || (c.decimals as number) > 100)
        fail(`${at}.decimals`, `must be a whole number from 0 to 100, got ${JSON.stringify(c.decimals)}`);
    }
    if (c.time !== undefined) checkTimePattern(c.time, `${at}.time`, fail);
    if (c.wideColumns !== undefined) {
      if (layout.kind !== 'wide') fail(`${at}.wideColumns`, 'only wide layouts have wideColumns');
      if (c.role !== 'feature' && c.role !== 'ignore') fail(`${at}.wideColumns`, 'only features (or ignored groups) have wideColumns');
      if (!Array.isArray(c.wideColumns) || c.wideColumns.length === 0 || !c.wideColumns.every((x) => typeof x === 'string')) {
        fail(`${at}.wideColumns`, 'must be a non-empty array of column names');
      }
    } else if (layout.kind === 'wide' && c.role === 'feature') {
      fail(at, 'a feature in a wide layout needs wideColumns (its columns for steps 0, 1, ...)');
    }
  });

  const columns = json.columns as ColumnSchema[];
  const withRole = (role: string) => columns.filter((c) => c.role === role).map((c) => c.name);
  const idColumn = layout.idColumn as string | undefined;
  const timeColumn = layout.timeColumn as string | undefined;
  const ids = withRole('id');
  const times = withRole('time');
  if (idColumn !== undefined && !ids.includes(idColumn)) fail('layout.idColumn', `'${idColumn}' must be listed in columns with kind and role 'id'`);
  if (ids.some((n) => n !== idColumn)) fail('columns', `'${ids.find((n) => n !== idColumn)}' has role 'id' but the layout's id column is ${idColumn === undefined ? 'not set' : `'${idColumn}'`}`);
  if (timeColumn !== undefined && !times.includes(timeColumn)) fail('layout.timeColumn', `'${timeColumn}' must be listed in columns with kind and role 'time'`);
  if (times.some((n) => n !== timeColumn))
    fail('columns', `'${times.find((n) => n !== timeColumn)}' has role 'time' but the layout's time column is ${timeColumn === undefined ? 'not set' : `'${timeColumn}'`}`);
  if (withRole('feature').length === 0) fail('columns', "no column has role 'feature'; the model needs at least one");
  return json as unknown as Schema;
}

/** A time column's pattern (types.ts TimePattern): the type, a start of that type, a positive step. */
function checkTimePattern(time: unknown, at: string, fail: (where: string, problem: string) => never): void {
  if (!isObject(time)) return fail(at, 'must be an object with type, start and step');
  const extra = Object.keys(time).filter((k) => !['type', 'start', 'step', 'unit', 'decimals'].includes(k));
  if (extra.length) fail(at, `unknown field${extra.length > 1 ? 's' : ''} ${extra.map((e) => `'${e}'`).join(', ')} (allowed: type, start, step, unit, decimals)`);
  if (!TIME_TYPES.includes(time.type as string)) fail(`${at}.type`, `must be one of ${TIME_TYPES.join(', ')}, got ${JSON.stringify(time.type)}`);
  const dates = time.type === 'date' || time.type === 'datetime';
  if (dates ? typeof time.start !== 'string' || Number.isNaN(parseIsoDate(time.start)) : typeof time.start !== 'number' || !Number.isFinite(time.start)) {
    fail(`${at}.start`, `must be ${dates ? 'an ISO date' : 'a finite number'}, got ${JSON.stringify(time.start)}`);
  }
  if (typeof time.step !== 'number' || !Number.isFinite(time.step) || time.step <= 0) fail(`${at}.step`, `must be a positive number, got ${JSON.stringify(time.step)}`);
  if (time.type === 'integer' && (!Number.isInteger(time.start) || !Number.isInteger(time.step))) fail(at, 'an integer time column needs a whole start and step');
  if (time.unit !== undefined && time.unit !== 'ms' && time.unit !== 'month') fail(`${at}.unit`, `must be 'ms' or 'month', got ${JSON.stringify(time.unit)}`);
  if (time.unit !== undefined && !dates) fail(`${at}.unit`, 'only dates have a unit');
  if (time.unit === 'month' && !Number.isInteger(time.step)) fail(`${at}.step`, 'a step in months must be a whole number');
  if (time.decimals !== undefined && (!Number.isInteger(time.decimals) || (time.decimals as number) < 0 || (time.decimals as number) > 100)) {
    fail(`${at}.decimals`, `must be a whole number from 0 to 100, got ${JSON.stringify(time.decimals)}`);
  }
}
