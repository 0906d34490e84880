/**
 * A run's released attribute table (RUN_DIR/released-attributes.json): what a data holder who hides an
 * attribute's real distribution (the real mix of ISPs, say) releases in place of the attribute generator.
 *
 * DoppelGANger generates attributes first and conditions everything else on them, so the attribute
 * distribution can be swapped without touching the feature generator (the paper's second privacy result).
 * The paper retrains the attribute generator by gradient; this project instead replaces it by a table of
 * its own draws, resampled so that the hidden attribute's marginal is exactly the target and the other
 * attributes keep their conditional distribution given it (core/privacy/hiding.ts builds it,
 * core/api/hiding.ts writes it). That is post-processing of the trained model: no new access to the data,
 * an exact target marginal, and seconds instead of a training run.
 *
 * Generation from a run with a table draws its attribute rows from the table (stratified, so any n has the
 * target's proportions up to rounding; seeded) and generates min/max and features conditioned on them.
 * A model shared with others carries this table instead of the attribute generator's weights, so the
 * file holds nothing of the learned marginal it hides (the generator's own shares and the categories it
 * never produced are reported when the table is made, and kept in run.json, which stays with the holder).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Value } from '../data/types.ts';
import { ApiError } from '../util/errors.ts';
import { Rng } from '../util/rng.ts';

export const RELEASED_ATTRIBUTES_FILE = 'released-attributes.json';

/** The hidden attribute: the distribution released instead of the learned one. */
export interface HiddenDistribution {
  attribute: string;
  /** How the target was given: 'uniform' or 'table' (a custodian's frequencies). */
  target: 'uniform' | 'table';
  /** Category -> probability (sums to 1; categories left out have 0). */
  probabilities: Record<string, number>;
}

export interface ReleasedAttributes {
  format: 'dg-released-attributes';
  version: 1;
  /** The run whose attribute generator the table replaces (checked against the checkpoint's). */
  runId?: string;
  createdAt: string;
  /** Column names, in the run's attribute order: every row has one value per column. */
  attributes: string[];
  hidden: HiddenDistribution;
  /** How many rows were drawn from the trained attribute generator, and with which seed. */
  sample: { rows: number; seed: number };
  /** The table, in the user's units and labels; the hidden column's counts follow `probabilities` exactly (up to rounding). */
  rows: Value[][];
  note: string;
}

/**
 * Whole counts summing to n, proportional to `weights` (largest remainder; ties to the earlier entry):
 * the exact marginal any n can have.
 */
export function apportion(weights: readonly number[], n: number): number[] {
  const total = weights.reduce((s, w) => s + w, 0);
  const exact = weights.map((w) => (total > 0 ? (w / total) * n : 0));
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((s, c) => s + c, 0);
  const order = exact.map((x, i) => ({ i, rest: x - Math.floor(x) })).sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (let k = 0; left > 0 && k < order.length; k++, left--) counts[order[k].i]++;
  return counts;
}

/** The table of a run folder, or null when the run releases its trained attribute generator as it is. */
export function readReleasedAttributes(runDir: string, runId?: string): ReleasedAttributes | null {
  const file = path.join(runDir, RELEASED_ATTRIBUTES_FILE);
  if (!fs.existsSync(file)) return null;
  let table: ReleasedAttributes;
  try {
    table = JSON.parse(fs.readFileSync(file, 'utf8')) as ReleasedAttributes;
  } catch (error) {
    throw new ApiError('data_error', `${file} is damaged (${(error as Error).message})`, { where: { file }, hint: { text: 'write it again with dg hide RUN_DIR --replace ATTR=...' } });
  }
  if (table.format !== 'dg-released-attributes' || !Array.isArray(table.rows) || table.rows.length === 0) {
    throw new ApiError('data_error', `${file} is not a released attribute table`, { where: { file } });
  }
  if (runId && table.runId && table.runId !== runId) {
    throw new ApiError('data_error', `${file} belongs to another run (run ${table.runId}, not ${runId})`, { where: { file }, hint: { text: 'write it again with dg hide RUN_DIR' } });
  }
  return table;
}

/** Stream of the draws from the table (independent of the engine's noise streams). */
const TABLE_STREAM = 0x7461626c;

/**
 * n row indices of the table, seeded: the hidden column's counts are apportioned from the target exactly,
 * each category's rows drawn uniformly (with replacement) from the table's rows of that category, then
 * shuffled. A plain draw of n rows would leave the marginal off the target by sampling noise.
 */
export function drawReleasedRows(table: ReleasedAttributes, n: number, seed: number): Int32Array {
  const column = table.attributes.indexOf(table.hidden.attribute);
  const byCategory = new Map<string, number[]>();
  table.rows.forEach((row, i) => {
    const key = String(row[column]);
    const list = byCategory.get(key);
    if (list) list.push(i);
    else byCategory.set(key, [i]);
  });
  const categories = Object.keys(table.hidden.probabilities).filter((c) => table.hidden.probabilities[c] > 0 && byCategory.has(c));
  const counts = apportion(
    categories.map((c) => table.hidden.probabilities[c]),
    n,
  );
  const rng = new Rng(seed >>> 0, TABLE_STREAM);
  const picked = new Int32Array(n);
  let o = 0;
  categories.forEach((c, k) => {
    const pool = byCategory.get(c)!;
    for (let j = 0; j < counts[k]; j++) picked[o++] = pool[rng.int(pool.length)];
  });
  const order = rng.permutation(n);
  return order.map((i) => picked[i]);
}
