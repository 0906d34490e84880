/**
 * Kinds and roles of the variables (inferred, forced by options, or declared by a schema), and the
 * per-column statistics `dg inspect` shows.
 *
 * Inference rules:
 * - kind: continuous when every non-missing cell is a plain decimal number; categorical when cells are
 *   text. An attribute holding at most MAX_INTEGER_CODES distinct whole numbers is taken for codes:
 *   categorical, with a warning saying so (a feature of few whole numbers stays continuous, with a warning).
 *   options.categorical / options.continuous force a kind.
 *   A mostly numeric column with a few text cells (under 5% of its cells, or any text once it has more
 *   than LABEL_CAP distinct numbers) is taken as a numeric column with bad cells: an error naming the first.
 * - role: attribute when the value is constant within every series (missing cells aside), feature when it
 *   varies in at least one. In wide data numbered groups are features and the other columns attributes.
 *   A column with no values at all is ignored (with a warning).
 */
import { TEXT_LABEL_CAP, type ColumnStore } from './columns.ts';
import type { ColumnStats } from './options.ts';
import type { HeaderPlan } from './plan.ts';
import { rowAt, type Structure, type Variable } from './structure.ts';
import type { ColumnTable } from './table.ts';
import { DataError, type ColumnRole } from './types.ts';
import { compareLabels, quote } from './values.ts';

export interface ResolvedVariable extends Variable {
  kind: 'continuous' | 'categorical';
  role: ColumnRole;
  /** The kind was given (options.categorical / options.continuous): no advice on it. */
  kindGiven?: boolean;
  /** An attribute because every series holds one value in it (checked here, missing cells aside). */
  constantChecked?: boolean;
}

/** Share of text cells under which a numeric column's text is taken for typos rather than labels. */
const TYPO_SHARE = 0.05;
/** Categorical columns with more labels than this get a warning (one-hot width). */
const MANY_CATEGORIES = 150;

const storesOf = (table: ColumnTable, v: Variable): ColumnStore[] => v.columns.map((c) => table.stores[c]);

/** The number arrays of a variable's columns (those that have one; NaN marks a cell that is not a number). */
const numbersOf = (table: ColumnTable, v: Variable): Float64Array[] => v.columns.map((c) => table.stores[c].numbers).filter((numbers) => numbers !== null);

function notANumberError(table: ColumnTable, v: Variable, declared: boolean): DataError | null {
  for (const c of v.columns) {
    const store = table.stores[c];
    const bad = store.firstText ?? store.firstDate;
    if (!bad) continue;
    const column = table.names[c];
    const fix = declared
      ? 'fix the value, or declare the column categorical in the schema'
      : 'fix the value, or declare the column categorical in a schema (write the inferred schema, then edit its kind)';
    return new DataError(`${table.file}, ${table.where(bad.row)}, column '${column}': ${quote(bad.value)} is not a number; ${fix}`, table.file, table.rowNumber(bad.row), column);
  }
  return null;
}

/** Kind of a variable from its cells; `strict` throws on a numeric column with text typos, else warns. */
function inferKind(table: ColumnTable, v: Variable, strict: boolean, warnings: string[]): 'continuous' | 'categorical' {
  const stores = storesOf(table, v);
  const sum = (f: (s: ColumnStore) => number) => stores.reduce((acc, s) => acc + f(s), 0);
  const numeric = sum((s) => s.numeric);
  const dates = sum((s) => s.dates);
  const text = sum((s) => s.text);
  if (text === 0 && dates === 0) return 'continuous';
  if (numeric === 0) {
    if (text === 0) warnings.push(`column '${v.name}' holds dates; it is treated as categorical (to use it as the time column, name it as such)`);
    return 'categorical';
  }
  const dropped = stores.some((s) => s.labelsDropped);
  if (dropped || text + dates <= TYPO_SHARE * (numeric + text + dates)) {
    const error = notANumberError(table, v, false)!;
    if (strict) throw error;
    warnings.push(`${error.message} (the column is taken as continuous)`);
    return 'continuous';
  }
  return 'categorical';
}

function isConstantWithinSeries(table: ColumnTable, structure: Structure, v: Variable): boolean {
  if (v.group) return false;
  const store = table.stores[v.columns[0]];
  const codes = store.codes;
  const numbers = store.numbers;
  const { start, order } = structure;
  if (codes && store.mode !== 'time' && store.missing === 0) {
    // No missing cell (no MISSING_CODE): each row's code against its series' first, in one tight loop.
    for (let s = 0; s + 1 < start.length; s++) {
      const first = codes[rowAt(order, start[s])];
      for (let i = start[s] + 1; i < start[s + 1]; i++) if (codes[rowAt(order, i)] !== first) return false;
    }
    return true;
  }
  for (let s = 0; s + 1 < start.length; s++) {
    let first = -1;
    for (let i = start[s]; i < start[s + 1]; i++) {
      const r = rowAt(order, i);
      if (store.isMissing(r)) continue;
      if (first < 0) first = r;
      else if (codes && store.mode !== 'time' ? codes[r] !== codes[first] : numbers![r] !== numbers![first]) return false;
    }
  }
  return true;
}

export function resolveVariables(table: ColumnTable, structure: Structure, plan: HeaderPlan, strict: boolean, warnings: string[]): ResolvedVariable[] {
  const resolved = structure.variables.map((v): ResolvedVariable => {
    if (v.declared) {
      const kind = v.declared.kind === 'continuous' ? 'continuous' : 'categorical';
      if (kind === 'continuous' && v.declared.role !== 'ignore') {
        const error = notANumberError(table, v, true);
        if (error) throw error;
      }
      return { ...v, kind, role: v.declared.role };
    }
    const stores = storesOf(table, v);
    const empty = stores.every((s) => s.rows === s.missing);
    const forced = plan.forced;
    if (stores.some((s) => s.tooManyLabels) && inferKind(table, v, false, []) === 'categorical') {
      const wanted = forced && (forced.attributes.includes(v.name) || forced.features.includes(v.name));
      const problem = `column '${v.name}' has more than ${TEXT_LABEL_CAP.toLocaleString('en-US')} distinct text values`;
      if (wanted) {
        throw new DataError(`${table.file}: ${problem}; that is too many to be categories: leave it out, or group its values`, table.file, undefined, v.name);
      }
      warnings.push(`${problem}: too many to be categories, so it is ignored`);
      return { ...v, kind: 'categorical', role: 'ignore' };
    }
    let role: ColumnRole;
    let constantChecked = false;
    if (forced) {
      role = forced.attributes.includes(v.name) ? 'attribute' : forced.features.includes(v.name) ? 'feature' : 'ignore';
    } else if (empty) {
      role = 'ignore';
      warnings.push(`column '${v.name}' has no values; ignored`);
    } else if (structure.layout.kind === 'wide') {
      role = v.group ? 'feature' : 'attribute';
    } else {
      constantChecked = isConstantWithinSeries(table, structure, v);
      role = constantChecked ? 'attribute' : 'feature';
    }
    if (role !== 'ignore' && empty) {
      throw new DataError(`${table.file}: column '${v.name}' has no values at all; fill it or leave it out`, table.file, undefined, v.name);
    }
    const forcedKind = plan.kinds.get(v.name);
    if (forcedKind === 'continuous' && role !== 'ignore') {
      const error = notANumberError(table, v, true);
      if (error) throw error;
    }
    const kind = forcedKind ?? (stores[0].mode === 'count' && role === 'ignore' ? countKind(stores) : inferKind(table, v, strict && role !== 'ignore', warnings));
    if (!forcedKind && kind === 'continuous' && role === 'attribute') {
      const codes = integerCodes(table, v);
      if (codes) {
        warnings.push(
          `column '${v.name}' holds only ${codes} distinct whole numbers and is constant within each series: taken as a categorical attribute (codes, generated as one of these values); list it as continuous if they are amounts`,
        );
        return { ...v, kind: 'categorical', role, constantChecked };
      }
    }
    return { ...v, kind, role, constantChecked, ...(forcedKind ? { kindGiven: true } : {}) };
  });
  if (structure.layout.kind === 'wide') {
    for (const v of resolved) {
      if (v.group && v.role === 'attribute') {
        throw new DataError(`${table.file}: '${v.name}' is a numbered column group (one value per time step), so it can be a feature but not an attribute`, table.file, undefined, v.name);
      }
      if (!v.group && v.role === 'feature') {
        throw new DataError(
          `${table.file}: in wide data a feature needs one column per time step (${v.name}_0, ${v.name}_1, ... or ${v.name}[0], ...); '${v.name}' is a single column`,
          table.file,
          undefined,
          v.name,
        );
      }
    }
  }
  if (plan.forced) {
    // Forced roles keep the order the user listed them in.
    const rank = new Map([...plan.forced.attributes, ...plan.forced.features].map((n, i) => [n, i]));
    const listed = resolved.filter((v) => rank.has(v.name)).sort((a, b) => rank.get(a.name)! - rank.get(b.name)!);
    return [...listed, ...resolved.filter((v) => !rank.has(v.name))];
  }
  return resolved;
}

/** Most distinct values an attribute of whole numbers can have and be taken for codes (a mote id, a technology code). */
export const MAX_INTEGER_CODES = 10;

/**
 * The number of distinct values of a single numeric column holding 2..MAX_INTEGER_CODES distinct whole
 * numbers (and the labels they were written with, so they can become categories); 0 otherwise. A small set
 * of integers that never changes within a series reads as codes: generated as amounts, a 4-value code came
 * back as 1.91-1.98 (issue 17).
 */
function integerCodes(table: ColumnTable, v: Variable): number {
  if (v.group || v.columns.length !== 1) return 0;
  const store = table.stores[v.columns[0]];
  if (store.labelsDropped || store.mode !== 'auto') return 0;
  const distinct = fewWholeNumbers(store);
  // one label per number: "1" and "1.0" in one column would be two categories for one code
  return distinct > 0 && store.labels.length === distinct ? distinct : 0;
}

/** The number of distinct values of a column of whole numbers when it is 2..MAX_INTEGER_CODES; 0 otherwise. */
function fewWholeNumbers(store: ColumnStore): number {
  const numbers = store.numbers;
  if (!numbers) return 0;
  const distinct = store.distinct();
  if (distinct < 2 || distinct > MAX_INTEGER_CODES) return 0;
  for (let r = 0; r < numbers.length; r++) if (!Number.isNaN(numbers[r]) && !Number.isInteger(numbers[r])) return 0;
  return distinct;
}

/** An ignored column stored as counts only: name its kind from the counts. */
function countKind(stores: ColumnStore[]): 'continuous' | 'categorical' {
  return stores.every((s) => s.text === 0 && s.dates === 0) ? 'continuous' : 'categorical';
}

/** Labels of a categorical variable with their cell counts, across its columns. */
export function labelCounts(table: ColumnTable, v: Variable): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of v.columns) {
    const store = table.stores[c];
    if (store.mode === 'time') continue;
    store.labels.forEach((label, i) => counts.set(label, (counts.get(label) ?? 0) + store.labelCounts[i]));
  }
  return counts;
}

export function sortedCategories(table: ColumnTable, v: Variable): string[] {
  return [...labelCounts(table, v).keys()].sort(compareLabels);
}

type NumericSummary = { min: number; max: number; mean: number; std: number } | null;

/** Summaries already computed, per table and column list: inspect asks twice per continuous column. */
const summaries = new WeakMap<ColumnTable, Map<string, NumericSummary>>();

/**
 * min/max/mean/std of the numbers of a variable's columns. Two passes (the sum, then squared deviations
 * from the mean): no division per cell, which made Welford's one pass the slowest part of inspecting a
 * 1 GB file, and no less stable.
 */
export function numericSummary(table: ColumnTable, v: Variable): NumericSummary {
  let cache = summaries.get(table);
  if (!cache) {
    cache = new Map();
    summaries.set(table, cache);
  }
  const key = v.columns.join(',');
  if (cache.has(key)) return cache.get(key)!;
  let n = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const numbers of numbersOf(table, v)) {
    for (let r = 0; r < numbers.length; r++) {
      const x = numbers[r];
      if (Number.isNaN(x)) continue;
      n++;
      sum += x;
      if (x < min) min = x;
      if (x > max) max = x;
    }
  }
  let summary: NumericSummary = null;
  if (n > 0) {
    // The sum can overflow for huge values (guards.ts warns of them): the mean of scaled values then.
    const mean = Number.isFinite(sum) ? sum / n : meanOf(table, v, n);
    let m2 = 0;
    for (const numbers of numbersOf(table, v)) {
      for (let r = 0; r < numbers.length; r++) {
        const x = numbers[r];
        if (Number.isNaN(x)) continue;
        const d = x - mean;
        m2 += d * d;
      }
    }
    summary = { min, max, mean, std: Math.sqrt(m2 / n) };
  }
  cache.set(key, summary);
  return summary;
}

function meanOf(table: ColumnTable, v: Variable, n: number): number {
  let mean = 0;
  for (const numbers of numbersOf(table, v)) for (let r = 0; r < numbers.length; r++) if (!Number.isNaN(numbers[r])) mean += numbers[r] / n;
  return mean;
}

export function columnStats(table: ColumnTable, v: Variable, kind: ColumnStats['kind'], role: ColumnRole): ColumnStats {
  const stores = storesOf(table, v);
  const missing = stores.reduce((a, s) => a + s.missing, 0);
  const count = stores.reduce((a, s) => a + s.rows - s.missing, 0);
  const stats: ColumnStats = { name: v.name, kind, role, count, missing, distinct: 0 };
  if (stores.some((s) => s.tooManyLabels)) {
    // Labels were let go while reading: only their number is known.
    stats.distinct = stores.reduce((a, s) => a + s.distinct(), 0);
  } else if (kind === 'categorical' || kind === 'id') {
    const counts = labelCounts(table, v);
    stats.distinct = counts.size;
    stats.topCategories = [...counts]
      .sort((a, b) => b[1] - a[1] || compareLabels(a[0], b[0]))
      .slice(0, 10)
      .map(([label, n]) => ({ label, count: n }));
  } else {
    stats.distinct = stores.length === 1 ? stores[0].distinct() : distinctNumbers(stores);
    const summary = numericSummary(table, v);
    if (summary) Object.assign(stats, summary);
  }
  return stats;
}

function distinctNumbers(stores: ColumnStore[]): number {
  const seen = new Set<number>();
  for (const s of stores) for (const x of s.numbers ?? []) if (!Number.isNaN(x)) seen.add(x);
  return seen.size;
}

/** Warnings a person should look at before training: near-duplicate labels, very many labels, integer codes. */
export function reviewWarnings(table: ColumnTable, variables: ResolvedVariable[]): string[] {
  const warnings: string[] = [];
  for (const v of variables) {
    if (v.role === 'ignore' || v.kindGiven) continue;
    if (v.kind === 'categorical') {
      const counts = labelCounts(table, v);
      const byKey = new Map<string, string[]>();
      for (const label of counts.keys()) {
        const key = label.trim().toLowerCase();
        byKey.set(key, [...(byKey.get(key) ?? []), label]);
      }
      const clashes = [...byKey.values()]
        .filter((labels) => labels.length > 1)
        .map((labels) => labels.sort(compareLabels))
        .sort((a, b) => compareLabels(a[0], b[0]));
      if (clashes.length) {
        const list = clashes.map((labels) => labels.map((l) => `${quote(l)} (${counts.get(l)} rows)`).join(' / ')).join('; ');
        warnings.push(`column '${v.name}': categories that differ only by case or spaces: ${list}. They are kept apart; ` + 'if they mean the same, fix the spelling in the file');
      }
      if (counts.size > MANY_CATEGORIES) {
        warnings.push(`column '${v.name}' has ${counts.size} categories; its one-hot encoding will be wide: consider grouping rare values`);
      }
    } else {
      const distinct = v.group ? 0 : fewWholeNumbers(table.stores[v.columns[0]]);
      if (distinct > 0) {
        warnings.push(`column '${v.name}' holds only ${distinct} distinct whole numbers; if they are codes rather than amounts, list it as categorical`);
      }
    }
  }
  return warnings;
}
