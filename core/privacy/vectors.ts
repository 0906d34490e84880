/**
 * Series as points for distance-based privacy checks: every attribute and every feature value at every
 * step, each scaled by the training data's range (categorical values one-hot), so one unit of distance
 * means "a whole range apart" in any column. Steps past a series' end are 0.
 */
import type { ColumnSchema, Dataset, Series } from '../data/types.ts';

export interface SeriesVectors {
  n: number;
  dim: number;
  /** [n, dim] row-major; float32 halves the memory of large sets, and sums are taken in double */
  data: Float32Array;
}

interface ColumnCode {
  width: number;
  write(value: number | string, out: Float32Array, at: number): void;
}

function columnCode(column: ColumnSchema, observed: (number | string)[]): ColumnCode {
  if (column.kind === 'categorical') {
    const labels = column.categories ?? [...new Set(observed.map(String))];
    const index = new Map(labels.map((label, i) => [label, i]));
    return {
      width: labels.length,
      write(value, out, at) {
        const i = index.get(String(value));
        if (i !== undefined) out[at + i] = 1; // a label the training data never had is all zeros
      },
    };
  }
  let lo = column.min ?? Infinity;
  let hi = column.max ?? -Infinity;
  if (column.min === undefined || column.max === undefined) {
    for (const v of observed) {
      if (typeof v === 'number' && v < lo) lo = v;
      if (typeof v === 'number' && v > hi) hi = v;
    }
  }
  const span = hi > lo ? hi - lo : 1;
  return {
    width: 1,
    write: (value, out, at) => {
      out[at] = (Number(value) - (Number.isFinite(lo) ? lo : 0)) / span;
    },
  };
}

/** Vectors of every dataset in `datasets`, with scales and categories from `reference` (the training data). */
export function seriesVectors(reference: Dataset, ...datasets: Dataset[]): SeriesVectors[] {
  const attributeCodes = reference.attributes.map((c, k) =>
    columnCode(
      c,
      reference.series.map((s) => s.attributes[k]),
    ),
  );
  const featureCodes = reference.features.map((c, f) => {
    const observed: (number | string)[] = [];
    for (const s of reference.series) for (const v of s.features[f]) observed.push(v);
    return columnCode(c, observed);
  });
  const steps = Math.max(reference.schema.maxLength, ...datasets.flatMap((d) => d.series.map((s) => s.length)));
  const attributeWidth = attributeCodes.reduce((a, c) => a + c.width, 0);
  const stepWidth = featureCodes.reduce((a, c) => a + c.width, 0);
  const dim = attributeWidth + steps * stepWidth;
  const write = (s: Series, out: Float32Array, base: number) => {
    let at = base;
    attributeCodes.forEach((code, k) => {
      code.write(s.attributes[k], out, at);
      at += code.width;
    });
    for (let t = 0; t < s.length; t++) {
      featureCodes.forEach((code, f) => {
        code.write(s.features[f][t], out, at);
        at += code.width;
      });
    }
  };
  return datasets.map((d) => {
    const data = new Float32Array(d.series.length * dim);
    d.series.forEach((s, i) => write(s, data, i * dim));
    return { n: d.series.length, dim, data };
  });
}

/** The rows `rows` of a set of vectors. */
export function pickRows(v: SeriesVectors, rows: ArrayLike<number>): SeriesVectors {
  const data = new Float32Array(rows.length * v.dim);
  for (let i = 0; i < rows.length; i++) data.set(v.data.subarray(rows[i] * v.dim, (rows[i] + 1) * v.dim), i * v.dim);
  return { n: rows.length, dim: v.dim, data };
}

const squaredNorms = (v: SeriesVectors) =>
  Float64Array.from({ length: v.n }, (_, i) => {
    let s = 0;
    for (let k = i * v.dim; k < (i + 1) * v.dim; k++) s += v.data[k] * v.data[k];
    return s;
  });

/**
 * Calls visit(i, j, d) with the Euclidean distance d of query i to reference j, for every pair:
 * |q|^2 + |r|^2 - 2 q.r, the dot products four references at a time.
 */
export function forEachDistance(queries: SeriesVectors, references: SeriesVectors, visit: (i: number, j: number, distance: number) => void): void {
  if (queries.dim !== references.dim) throw new Error(`vectors of ${queries.dim} and ${references.dim} values cannot be compared`);
  const { dim } = queries;
  const qn = squaredNorms(queries);
  const rn = squaredNorms(references);
  const q = queries.data;
  const r = references.data;
  const distance = (i: number, j: number, dot: number) => Math.sqrt(Math.max(0, qn[i] + rn[j] - 2 * dot));
  for (let i = 0; i < queries.n; i++) {
    const qi = i * dim;
    let j = 0;
    for (; j + 4 <= references.n; j += 4) {
      const r0 = j * dim;
      let d0 = 0;
      let d1 = 0;
      let d2 = 0;
      let d3 = 0;
      for (let k = 0; k < dim; k++) {
        const x = q[qi + k];
        d0 += x * r[r0 + k];
        d1 += x * r[r0 + dim + k];
        d2 += x * r[r0 + 2 * dim + k];
        d3 += x * r[r0 + 3 * dim + k];
      }
      visit(i, j, distance(i, j, d0));
      visit(i, j + 1, distance(i, j + 1, d1));
      visit(i, j + 2, distance(i, j + 2, d2));
      visit(i, j + 3, distance(i, j + 3, d3));
    }
    for (; j < references.n; j++) {
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += q[qi + k] * r[j * dim + k];
      visit(i, j, distance(i, j, dot));
    }
  }
}

/**
 * Which queries lie within `within` of some reference: compared only with references of the same key
 * (series that differ in a categorical attribute are at least sqrt(2) apart), each comparison stopped
 * as soon as it exceeds the distance, which for anything but a near-copy is within a few values.
 */
export function nearCopies(queries: SeriesVectors, queryKeys: string[], references: SeriesVectors, referenceKeys: string[], within: number): Uint8Array {
  const buckets = new Map<string, number[]>();
  referenceKeys.forEach((key, j) => {
    const bucket = buckets.get(key);
    if (bucket) bucket.push(j);
    else buckets.set(key, [j]);
  });
  const limit = within * within;
  const { dim } = queries;
  const found = new Uint8Array(queries.n);
  for (let i = 0; i < queries.n; i++) {
    const q = i * dim;
    for (const j of buckets.get(queryKeys[i]) ?? []) {
      const r = j * dim;
      let sum = 0;
      let k = 0;
      for (; k < dim && sum <= limit; k++) sum += (queries.data[q + k] - references.data[r + k]) ** 2;
      if (sum <= limit) {
        found[i] = 1;
        break;
      }
    }
  }
  return found;
}

/** Each series' categorical attribute values, as one key. */
export function categoricalKeys(dataset: Dataset): string[] {
  const columns = dataset.attributes.flatMap((c, k) => (c.kind === 'categorical' ? [k] : []));
  return dataset.series.map((s) => columns.map((k) => String(s.attributes[k])).join('\u0000'));
}
