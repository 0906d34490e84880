/**
 * Hiding attributes (issue 14): what a data holder keeps out of the synthetic data, per attribute.
 * - drop: the attribute is not learned and not output (removed from the dataset before encoding);
 * - coarsen: categories held by fewer than k series become one label before training (their names and
 *   their individual shares are never learned);
 * - replace: after training, the attribute's learned distribution is replaced by a target (uniform or a
 *   custodian's table of frequencies) while the feature generator stays as trained. DoppelGANger makes
 *   this possible because attributes are generated first; see core/train/released-attributes.ts for why
 *   this project replaces the attribute generator by a resampled table of its own draws rather than
 *   retraining it by gradient.
 *
 * This module holds the pure parts: checking the specs against the data's columns, the dataset transform
 * (drop, coarsen), the target distribution, and the resampling that builds the released table.
 */
import type { ColumnSchema, Dataset, Value } from '../data/types.ts';
import type { HidingRecord } from '../train/run-folder.ts';
import { apportion } from '../train/released-attributes.ts';
import { ApiError } from '../util/errors.ts';
import type { Rng } from '../util/rng.ts';

export type HideSpec =
  | { attribute: string; mode: 'drop' }
  | { attribute: string; mode: 'coarsen'; minSeries: number }
  | { attribute: string; mode: 'replace'; target: 'uniform' | Record<string, number> };

export type ReplaceSpec = Extract<HideSpec, { mode: 'replace' }>;

/** The label merged categories get (made unique against the column's own labels). */
export const MERGED_LABEL = 'other (merged)';

/** Rows drawn from the trained attribute generator to build a released table (enough for every category to show its conditional). */
export const DEFAULT_SAMPLE_ROWS = 20_000;

const hideError = (message: string, column?: string, hint = 'fix the hiding settings') =>
  new ApiError('invalid_argument', message, { ...(column ? { where: { column } } : {}), hint: { text: hint, option: 'hide' } });

const listed = (items: readonly string[], max = 20) => `${items.slice(0, max).join(', ')}${items.length > max ? `, ... (${items.length} in all)` : ''}`;

/** The one spec that replaces a distribution, if any. */
export function replaceSpecOf(specs: readonly HideSpec[] | undefined): ReplaceSpec | undefined {
  return specs?.find((s): s is ReplaceSpec => s.mode === 'replace');
}

/**
 * Refuses specs that cannot apply to these attribute columns, naming the attribute and what exists:
 * an unknown attribute, two specs for one attribute, coarsen/replace on a continuous one, a bad k, a bad
 * target table. One replaced distribution per run: the table is resampled on one attribute's marginal.
 */
export function checkHiding(specs: readonly HideSpec[], attributes: readonly ColumnSchema[]): void {
  const names = attributes.map((c) => c.name);
  const seen = new Set<string>();
  for (const spec of specs) {
    const column = attributes.find((c) => c.name === spec.attribute);
    if (!column) throw hideError(`cannot hide '${spec.attribute}': it is not an attribute of this data (attributes: ${names.length ? listed(names) : 'none'})`, spec.attribute);
    if (seen.has(spec.attribute)) throw hideError(`'${spec.attribute}' is hidden twice: give one of drop, coarsen or replace per attribute`, spec.attribute);
    seen.add(spec.attribute);
    if (spec.mode === 'drop') continue;
    if (column.kind !== 'categorical') {
      throw hideError(
        `cannot ${spec.mode === 'coarsen' ? 'coarsen' : 'replace the distribution of'} '${spec.attribute}': it is ${column.kind}, and only categorical attributes have categories to merge or a table of frequencies`,
        spec.attribute,
        `drop '${spec.attribute}' instead, or make it categorical in the schema`,
      );
    }
    if (spec.mode === 'coarsen') {
      if (!Number.isInteger(spec.minSeries) || spec.minSeries < 2)
        throw hideError(`coarsening '${spec.attribute}' needs a whole number of series k >= 2 (categories held by fewer than k series are merged), got ${spec.minSeries}`, spec.attribute);
    } else targetProbabilities(spec, column.categories ?? []);
  }
  const replaced = specs.filter((s) => s.mode === 'replace');
  if (replaced.length > 1) throw hideError(`one attribute's distribution can be replaced per run, got ${replaced.map((s) => s.attribute).join(' and ')}`, replaced[1].attribute);
}

/**
 * A replace spec's target as probabilities over the column's categories (left-out categories get 0):
 * uniform over all categories, or the custodian's frequencies (counts or shares) normalized.
 */
export function targetProbabilities(spec: ReplaceSpec, categories: readonly string[]): Record<string, number> {
  if (categories.length === 0) throw hideError(`'${spec.attribute}' has no categories to replace the distribution of`, spec.attribute);
  if (spec.target === 'uniform') return Object.fromEntries(categories.map((c) => [c, 1 / categories.length]));
  const entries = Object.entries(spec.target);
  for (const [category, weight] of entries) {
    if (!categories.includes(category)) throw hideError(`the target table for '${spec.attribute}' names '${category}', which is not one of its categories (${listed(categories)})`, spec.attribute);
    if (!Number.isFinite(weight) || weight < 0)
      throw hideError(`the target table for '${spec.attribute}' gives '${category}' the frequency ${weight}: frequencies are counts or shares >= 0`, spec.attribute);
  }
  const total = entries.reduce((s, [, w]) => s + w, 0);
  if (!(total > 0)) throw hideError(`the target table for '${spec.attribute}' sums to ${total}: give at least one category a frequency above 0`, spec.attribute);
  return Object.fromEntries(categories.map((c) => [c, (spec.target as Record<string, number>)[c] ? (spec.target as Record<string, number>)[c] / total : 0]));
}

/**
 * Drop and coarsen applied to a dataset before it is split and encoded (replace acts after training):
 * the new dataset and what was done. Counts for coarsening are series over the whole dataset, holdout
 * included, so held-out series encode with the same labels.
 */
export function applyHiding(dataset: Dataset, specs: readonly HideSpec[]): { dataset: Dataset; record: HidingRecord } {
  checkHiding(specs, dataset.attributes);
  const record: HidingRecord = { specs: specs.map((s) => ({ ...s })), dropped: [], merged: {} };
  const dropped = new Set(specs.filter((s) => s.mode === 'drop').map((s) => s.attribute));
  const relabel = new Map<number, { label: string; merged: Set<string>; categories: string[] }>();
  for (const spec of specs) {
    if (spec.mode !== 'coarsen') continue;
    const a = dataset.attributes.findIndex((c) => c.name === spec.attribute);
    const categories = dataset.attributes[a].categories ?? [];
    const counts = new Map<string, number>();
    for (const s of dataset.series) counts.set(String(s.attributes[a]), (counts.get(String(s.attributes[a])) ?? 0) + 1);
    const rare = categories.filter((c) => (counts.get(c) ?? 0) < spec.minSeries);
    if (rare.length === 0) continue;
    let label = MERGED_LABEL;
    for (let k = 2; categories.includes(label); k++) label = `${MERGED_LABEL} ${k}`;
    const kept = categories.filter((c) => !rare.includes(c));
    relabel.set(a, { label, merged: new Set(rare), categories: [...kept, label] });
    record.merged[spec.attribute] = { label, categories: rare };
  }
  record.dropped = [...dropped];
  if (dropped.size === 0 && relabel.size === 0) return { dataset, record };
  const keep = dataset.attributes.map((c, a) => (dropped.has(c.name) ? -1 : a)).filter((a) => a >= 0);
  const columnOf = (c: ColumnSchema): ColumnSchema => {
    const a = dataset.attributes.indexOf(c);
    const r = relabel.get(a);
    return r ? { ...c, categories: r.categories } : c;
  };
  const attributes = keep.map((a) => columnOf(dataset.attributes[a]));
  // The schema says what the run was trained on: dropped columns are ignored, coarsened ones list the merged label.
  const columns = dataset.schema.columns.map((c) => {
    if (c.role !== 'attribute') return c;
    if (dropped.has(c.name)) return { ...c, role: 'ignore' as const };
    const a = dataset.attributes.findIndex((x) => x.name === c.name);
    const r = relabel.get(a);
    return r ? { ...c, categories: r.categories } : c;
  });
  const series = dataset.series.map((s) => ({
    ...s,
    attributes: keep.map((a) => {
      const r = relabel.get(a);
      const v = s.attributes[a];
      return r?.merged.has(String(v)) ? r.label : v;
    }),
  }));
  return { dataset: { ...dataset, schema: { ...dataset.schema, columns }, attributes, series }, record };
}

/** An attribute as the hiding controls offer it: categorical ones with how many series hold each category. */
export interface HidingOption {
  name: string;
  kind: ColumnSchema['kind'];
  /** Categorical only, most held first. */
  categories?: Array<{ label: string; series: number }>;
}

/** What can be hidden in a dataset (before any hiding): every attribute, with category counts for coarsen and replace. */
export function hidingOptions(dataset: Dataset): HidingOption[] {
  return dataset.attributes.map((column, a) => {
    if (column.kind !== 'categorical') return { name: column.name, kind: column.kind };
    const counts = new Map<string, number>((column.categories ?? []).map((c) => [c, 0]));
    for (const s of dataset.series) counts.set(String(s.attributes[a]), (counts.get(String(s.attributes[a])) ?? 0) + 1);
    const categories = [...counts].map(([label, series]) => ({ label, series })).sort((x, y) => y.series - x.series || x.label.localeCompare(y.label));
    return { name: column.name, kind: column.kind, categories };
  });
}

/** Share of each category among values (labels as strings). */
function shares(values: readonly Value[], categories: readonly string[]): Record<string, number> {
  const counts = Object.fromEntries(categories.map((c) => [c, 0])) as Record<string, number>;
  for (const v of values) counts[String(v)] = (counts[String(v)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).map(([c, k]) => [c, values.length ? k / values.length : 0]));
}

export interface ResampledTable {
  rows: Value[][];
  /** The generator's own marginal of the hidden attribute over the sample. */
  generatedShare: Record<string, number>;
  /** Target categories with weight but no generated row: their other attributes come from the whole sample. */
  unseen: string[];
  /** Target categories with fewer than `fewRows` generated rows: their conditional rests on those few. */
  few: Array<{ category: string; rows: number }>;
}

/**
 * The released table: `size` rows whose column `column` has exactly the target's counts (apportioned),
 * each category's rows drawn uniformly from the generated rows of that category, so the other attributes
 * keep their conditional distribution given it. A target category the generator never produced is paired
 * with rows drawn from the whole sample (the other attributes' overall generated distribution).
 */
export function resampleToTarget(sample: readonly Value[][], column: number, probabilities: Record<string, number>, size: number, rng: Rng, fewRows = 30): ResampledTable {
  if (sample.length === 0) throw new ApiError('internal', 'no generated attribute rows to resample');
  const categories = Object.keys(probabilities);
  const byCategory = new Map<string, number[]>();
  sample.forEach((row, i) => {
    const key = String(row[column]);
    const list = byCategory.get(key);
    if (list) list.push(i);
    else byCategory.set(key, [i]);
  });
  const counts = apportion(
    categories.map((c) => probabilities[c]),
    size,
  );
  const rows: Value[][] = [];
  const unseen: string[] = [];
  const few: ResampledTable['few'] = [];
  categories.forEach((category, k) => {
    if (counts[k] === 0 && !(probabilities[category] > 0)) return;
    const pool = byCategory.get(category);
    if (!pool) unseen.push(category);
    else if (pool.length < fewRows) few.push({ category, rows: pool.length });
    for (let j = 0; j < counts[k]; j++) {
      const source = sample[pool ? pool[rng.int(pool.length)] : rng.int(sample.length)];
      const row = source.slice();
      row[column] = category;
      rows.push(row);
    }
  });
  return {
    rows,
    generatedShare: shares(
      sample.map((r) => r[column]),
      categories,
    ),
    unseen,
    few,
  };
}
