/**
 * DoppelGANger's encoding: global scaling, one-hot categoricals, auto-normalization (per-series min/max
 * as additional attributes), generation flags and padding to a multiple of S. `decode(encode(x))` gives
 * x back up to float32 rounding.
 *
 * Bounds with a point mass (zero loss in 98% of MBA's steps, 0% or 100% utilisation): a sigmoid or tanh
 * head approaches the ends of its range but never reaches them, so without help a generated series can
 * never hold the exact bound, and the all-zero series that most real series are can never be generated
 * (their per-series min and std distributions are then lost however long the model trains). Decoding
 * therefore moves a generated value onto such a bound when it lies closer to it than to any other real
 * value (within half the gap between the bound and the nearest other value in the training data).
 *
 * Where a bound holds a large share of a feature's values (POINT_MASS_SHARE), the snap is not enough: the
 * generator must also learn when a step leaves the bound, and a continuous head trained briefly (the privacy
 * guard stops MBA early) rounds rare departures away: its synthetic ping loss was all zeros in 99% of
 * series against 76% in the real data. Such a feature gets a categorical companion variable per step
 * ("at min" and/or "at max": the bounds that hold the mass, then "between"); decoding puts a step
 * flagged at a bound exactly on it, and a step flagged "between" no nearer to that bound than the nearest
 * value the data hold beside it (bench/PRIVACY.md, "At a bound, or in between").
 */
import type { ColumnSchema, Dataset, FeatureColumn, Schema, Series, Value } from '../data/types.ts';
import type { EncodedDataset, EncodedLayout, EncodedVariable } from './types.ts';
import { widthOf } from './types.ts';
import { ApiError } from '../util/errors.ts';

export interface EncoderOptions {
  /** S: the padded length is a multiple of it. */
  sampleLen: number;
  /** Per-series min/max of continuous features as additional attributes (the paper's fix for wide ranges). */
  autoNormalize?: boolean;
  /** Output range of continuous variables: sigmoid [0,1] or tanh [-1,1]. */
  continuousActivation?: 'sigmoid' | 'tanh';
  /** Generation flags; default: only when series lengths differ. */
  genFlags?: boolean;
  /** Decode values near a bound the data hold repeatedly as that bound (default true; false under DP-SGD). */
  snapToBounds?: boolean;
  /** A categorical "at a bound" variable per step for features whose bounds hold a large share of values (default true). */
  boundCategories?: boolean;
}

/**
 * A bound holding at least this share of a feature's values gets its own category per step (see the
 * header). On the suite (bench/SUITE.md) only MBA's ping loss (97.9% zeros) reaches it; at 0.1, diseases'
 * count (13.8% zeros) and weeks_reporting (11.2% at 0, 12.7% at 52) would get categories too, and that
 * run passed 1 of the 4 bars instead of 4 (discriminative 0.44 against 0.28).
 */
export const POINT_MASS_SHARE = 0.2;

/** Where in a dataset an encoding problem is: words for the message, and the place as data. */
interface Where {
  text: string;
  series?: string;
  /** 1-based row of given attributes. */
  row?: number;
}

function encodingError(where: Where, column: string | undefined, message: string): ApiError {
  const { text, ...at } = where;
  return new ApiError('data_error', `${text}${message.startsWith('has ') ? ' ' : ': '}${message}`, { where: { ...at, ...(column ? { column } : {}) } });
}

/** Everything needed to encode new data and decode generated data; saved in every checkpoint. */
export interface EncoderState {
  version: 1;
  schema: Schema;
  attributes: ColumnSchema[];
  features: ColumnSchema[];
  sampleLen: number;
  autoNormalize: boolean;
  continuousActivation: 'sigmoid' | 'tanh';
  genFlags: boolean;
  /** Longest real series length. Without gen flags every generated series has this length. */
  maxLength: number;
  layout: EncodedLayout;
  /** Per continuous column (null for categorical ones), in user units: generated values closer than this
   * to a bound the training data hold repeatedly are decoded as that bound (see the header). Absent in
   * encoders saved before it existed: no snapping. */
  boundarySnap?: { attributes: Array<BoundarySnap | null>; features: Array<BoundarySnap | null> };
  /** Per feature (null where none): the bounds with a point mass, each a category of the feature's
   * companion variable after "between" (see the header). Absent in encoders saved before it existed. */
  pointMasses?: Array<PointMass | null>;
}

/** Which bounds of a continuous feature hold a point mass large enough for a category of its own. */
export interface PointMass {
  min: boolean;
  max: boolean;
}

/** Distances from column.min and column.max within which a generated value becomes that bound; 0 = never. */
export interface BoundarySnap {
  low: number;
  high: number;
}

const isContinuous = (c: ColumnSchema) => c.kind === 'continuous';

/**
 * The model conditions every series on an attribute vector and cannot be built without one, so data
 * without attribute columns (only time-varying features) is encoded with this single-value category:
 * always 1 in the data, and exactly 1 from a softmax over one value. Decoding has no column for it.
 */
const constantAttribute: EncodedVariable = { name: '__constant', kind: 'categorical', dim: 1, activation: 'softmax' };

function variableOf(column: ColumnSchema, activation: 'sigmoid' | 'tanh'): EncodedVariable {
  if (isContinuous(column)) return { name: column.name, kind: 'continuous', dim: 1, activation };
  const dim = column.categories?.length ?? 0;
  if (dim === 0)
    throw new ApiError('invalid_argument', `column '${column.name}' is categorical but has no categories in the schema`, {
      where: { column: column.name },
      hint: { text: 'list its categories in the schema, or make it continuous', option: 'schema' },
    });
  return { name: column.name, kind: 'categorical', dim, activation: 'softmax' };
}

/** Range of a continuous column from the data, so a schema without min/max still encodes. */
function withRange(column: ColumnSchema, values: () => Iterable<Value>): ColumnSchema {
  if (!isContinuous(column) || (column.min !== undefined && column.max !== undefined)) return column;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values()) {
    const x = v as number;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (!Number.isFinite(min))
    throw new ApiError('data_error', `column '${column.name}' has no values to take a range from`, {
      where: { column: column.name },
      hint: { text: 'give its range (min and max) in the schema, or ignore the column', option: 'schema' },
    });
  return { ...column, min, max };
}

/** What a continuous column's data hold at its bounds: how many values sit on each, and the nearest values beside them. */
interface BoundCounts {
  count: number;
  atMin: number;
  atMax: number;
  aboveMin: number;
  belowMax: number;
}

/** One pass over a column's values for both the boundary snap and the point masses; null for a categorical column. */
function boundCountsOf(column: ColumnSchema, values: () => Iterable<Value>): BoundCounts | null {
  if (!isContinuous(column)) return null;
  const min = column.min!;
  const max = column.max!;
  const counts = { count: 0, atMin: 0, atMax: 0, aboveMin: Infinity, belowMax: -Infinity };
  for (const v of values()) {
    const x = v as number;
    counts.count++;
    if (x === min) counts.atMin++;
    else if (x > min && x < counts.aboveMin) counts.aboveMin = x;
    if (x === max) counts.atMax++;
    else if (x < max && x > counts.belowMax) counts.belowMax = x;
  }
  return counts;
}

/**
 * Half the gap between each bound of the column's range and the nearest other value in the data, where the
 * data hold that bound at least twice (a point mass, not a lone extreme value); 0 elsewhere.
 */
function boundarySnapOf(column: ColumnSchema, counts: BoundCounts | null): BoundarySnap | null {
  if (!counts) return null;
  return {
    low: counts.atMin >= 2 && Number.isFinite(counts.aboveMin) ? (counts.aboveMin - column.min!) / 2 : 0,
    high: counts.atMax >= 2 && Number.isFinite(counts.belowMax) ? (column.max! - counts.belowMax) / 2 : 0,
  };
}

/** The bounds of a continuous feature that hold at least POINT_MASS_SHARE of its values; null if none. */
function pointMassOf(column: ColumnSchema, counts: BoundCounts | null): PointMass | null {
  if (!counts || !(column.max! > column.min!)) return null;
  const mass = { min: counts.atMin >= POINT_MASS_SHARE * counts.count, max: counts.atMax >= POINT_MASS_SHARE * counts.count };
  return mass.min || mass.max ? mass : null;
}

/** Plan notes: which features got an "at a bound" variable (one line each), or none. */
export function describePointMasses(state: EncoderState): string[] {
  return state.features.flatMap((c, f) => {
    const mass = state.pointMasses?.[f];
    if (!mass) return [];
    const bounds = [mass.min ? `its minimum ${c.min}` : '', mass.max ? `its maximum ${c.max}` : ''].filter(Boolean).join(' and ');
    const which = [mass.min ? 'the minimum' : '', mass.max ? 'the maximum' : ''].filter(Boolean).join(' or ');
    return [`${c.name} sits at ${bounds} in at least ${POINT_MASS_SHARE * 100}% of steps: the model also generates whether each step is at ${which} or in between, and puts such steps exactly there`];
  });
}

/**
 * The companion variable's categories: the bounds that hold a mass, then "between" (NaN). This order, not
 * "between" first, is what was measured best: on MBA's 5 seeds the discriminative score was 0.142-0.184
 * against 0.188-0.229 with "between" first (bench/PRIVACY.md).
 */
function pointMassValues(column: ColumnSchema, mass: PointMass): number[] {
  return [...(mass.min ? [column.min!] : []), ...(mass.max ? [column.max!] : []), Number.NaN];
}

function snapToBounds(column: ColumnSchema, snap: BoundarySnap | null | undefined, x: number): number {
  if (!snap) return x;
  if (x - column.min! < snap.low) return column.min!;
  if (column.max! - x < snap.high) return column.max!;
  return x;
}

export function fitEncoder(dataset: Dataset, options: EncoderOptions): EncoderState {
  const { sampleLen } = options;
  if (!Number.isInteger(sampleLen) || sampleLen < 1)
    throw new ApiError('invalid_argument', `the sample length must be a positive integer, got ${sampleLen}`, { hint: { text: 'use a divisor of the series length up to 10', option: 'sampleLen' } });
  if (dataset.series.length === 0) throw new ApiError('data_error', 'the dataset has no series to train on');
  const continuousActivation = options.continuousActivation ?? 'sigmoid';
  const attributeValues = (a: number) => () => dataset.series.map((s) => s.attributes[a]);
  const featureValues = (f: number) =>
    function* () {
      for (const s of dataset.series) yield* s.features[f];
    };
  const attributes = dataset.attributes.map((c, a) => withRange(c, attributeValues(a)));
  const features = dataset.features.map((c, f) => withRange(c, featureValues(f)));
  // Under DP-SGD nothing the checkpoint keeps may be read from the data outside the accountant: the
  // snap distances are (half the gap to the second-smallest value: one record's exact value).
  const snapping = options.snapToBounds !== false;
  const flagging = options.boundCategories !== false;
  const featureCounts = snapping || flagging ? features.map((c, f) => boundCountsOf(c, featureValues(f))) : [];
  const boundarySnap = snapping
    ? {
        attributes: attributes.map((c, a) => boundarySnapOf(c, boundCountsOf(c, attributeValues(a)))),
        features: features.map((c, f) => boundarySnapOf(c, featureCounts[f])),
      }
    : undefined;
  const lengths = dataset.series.map((s) => s.length);
  const maxLength = Math.max(...lengths);
  const genFlags = options.genFlags ?? lengths.some((l) => l !== maxLength);
  const autoNormalize = (options.autoNormalize ?? true) && features.some(isContinuous);
  const featureVars = features.map((c) => variableOf(c, continuousActivation));
  const pointMasses = flagging ? features.map((c, f) => pointMassOf(c, featureCounts[f])) : undefined;
  pointMasses?.forEach((mass, f) => {
    if (mass) featureVars.push({ name: `${features[f].name}__at_bound`, kind: 'categorical', dim: 1 + Number(mass.min) + Number(mass.max), activation: 'softmax' });
  });
  if (genFlags) featureVars.push({ name: '__gen_flag', kind: 'categorical', dim: 2, activation: 'softmax' });
  const additional: EncodedVariable[] = autoNormalize
    ? features.filter(isContinuous).flatMap((c) => [
        { name: `${c.name}__mid`, kind: 'continuous' as const, dim: 1, activation: continuousActivation },
        { name: `${c.name}__half`, kind: 'continuous' as const, dim: 1, activation: continuousActivation },
      ])
    : [];
  const layout: EncodedLayout = {
    maxLength: Math.ceil(maxLength / sampleLen) * sampleLen,
    attributes: attributes.length > 0 ? attributes.map((c) => variableOf(c, continuousActivation)) : [constantAttribute],
    additionalAttributes: additional,
    features: featureVars,
    genFlags,
  };
  return {
    version: 1,
    schema: dataset.schema,
    attributes,
    features,
    sampleLen,
    autoNormalize,
    continuousActivation,
    genFlags,
    maxLength,
    layout,
    ...(boundarySnap ? { boundarySnap } : {}),
    ...(pointMasses?.some(Boolean) ? { pointMasses } : {}),
  };
}

/** Global scaling of a continuous value into the activation's range. */
function scale(state: EncoderState, column: ColumnSchema, x: number): number {
  const range = column.max! - column.min!;
  const unit = range > 0 ? (x - column.min!) / range : 0.5;
  return state.continuousActivation === 'tanh' ? 2 * unit - 1 : unit;
}

function unscale(state: EncoderState, column: ColumnSchema, y: number): number {
  const unit = state.continuousActivation === 'tanh' ? (y + 1) / 2 : y;
  return column.min! + unit * (column.max! - column.min!);
}

/** The low end of the activation's range: auto-normalization maps a series' min there. */
const low = (state: EncoderState) => (state.continuousActivation === 'tanh' ? -1 : 0);

function categoryIndex(column: ColumnSchema, value: Value, where: Where): number {
  const index = column.categories!.indexOf(String(value));
  if (index < 0) {
    throw encodingError(
      where,
      column.name,
      `'${value}' is not a known category of '${column.name}' (known: ${column.categories!.slice(0, 20).join(', ')}${column.categories!.length > 20 ? ', ...' : ''})`,
    );
  }
  return index;
}

/** Label -> position, the first one for a repeated label (as indexOf would give), for lookups per step. */
function labelIndex(categories: string[]): Map<string, number> {
  const index = new Map<string, number>();
  categories.forEach((label, k) => {
    if (!index.has(label)) index.set(label, k);
  });
  return index;
}

/** Writes one attribute row into out[offset..]. */
function encodeAttributeRow(state: EncoderState, values: Value[], out: Float32Array, offset: number, where: Where): void {
  let o = offset;
  if (state.attributes.length === 0) out[o] = 1; // constantAttribute
  state.attributes.forEach((column, a) => {
    const value = values[a];
    if (isContinuous(column)) {
      if (typeof value !== 'number' || Number.isNaN(value)) throw encodingError(where, column.name, `attribute '${column.name}' must be a number, got '${value}'`);
      out[o++] = scale(state, column, value);
    } else {
      out[o + categoryIndex(column, value, where)] = 1;
      o += column.categories!.length;
    }
  });
}

/** Encodes attribute rows alone (for conditional generation from user-given attributes). */
export function encodeAttributes(state: EncoderState, rows: Value[][]): Float32Array {
  const width = widthOf(state.layout.attributes);
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, i) => encodeAttributeRow(state, row, out, i * width, { text: `given attributes row ${i + 1}`, row: i + 1 }));
  return out;
}

export function encode(state: EncoderState, dataset: Dataset): EncodedDataset {
  const { layout } = state;
  const n = dataset.series.length;
  const T = layout.maxLength;
  const aDim = widthOf(layout.attributes);
  const mDim = widthOf(layout.additionalAttributes);
  const fDim = widthOf(layout.features);
  const attributes = new Float32Array(n * aDim);
  const additionalAttributes = new Float32Array(n * mDim);
  const features = new Float32Array(n * T * fDim);
  const lengths = new Int32Array(n);
  const offsets = featureOffsets(state);
  const masses = pointMassSlices(state);
  // Position of each continuous feature among the continuous ones (its pair of additional attributes).
  let continuousCount = 0;
  const continuousIndex = state.features.map((c) => (isContinuous(c) ? continuousCount++ : -1));
  const categoryIndices = state.features.map((c) => (isContinuous(c) ? null : labelIndex(c.categories!)));
  dataset.series.forEach((series, i) => {
    const where: Where = { text: `series '${series.id}'`, series: series.id };
    const len = series.length;
    if (len > state.maxLength) throw encodingError(where, undefined, `has ${len} steps, more than the ${state.maxLength} the model was trained for`);
    if (!state.genFlags && len !== state.maxLength) {
      throw encodingError(where, undefined, `has ${len} steps but this encoder has fixed-length series of ${state.maxLength} steps (no generation flags)`);
    }
    if (series.features.length !== state.features.length) {
      throw encodingError(where, undefined, `has ${series.features.length} feature columns, expected ${state.features.length}`);
    }
    lengths[i] = len;
    encodeAttributeRow(state, series.attributes, attributes, i * aDim, where);
    const base = i * T * fDim;
    state.features.forEach((c, f) => {
      const column = series.features[f];
      if (column.length !== len) throw encodingError(where, c.name, `feature '${c.name}' has ${column.length} values for ${len} steps`);
      const o = base + offsets[f];
      if (!isContinuous(c)) {
        const index = categoryIndices[f]!;
        for (let t = 0; t < len; t++) {
          const k = index.get(String(column[t])) ?? categoryIndex(c, column[t], { ...where, text: `${where.text}, step ${t}` });
          features[o + t * fDim + k] = 1;
        }
        return;
      }
      const numbers = continuousValues(column, c, where);
      const mass = masses[f];
      if (mass) {
        for (let t = 0; t < len; t++) {
          const k = mass.values.indexOf(numbers[t]);
          features[base + mass.offset + t * fDim + (k >= 0 ? k : mass.values.length - 1)] = 1;
        }
      }
      if (!state.autoNormalize) {
        for (let t = 0; t < len; t++) features[o + t * fDim] = scale(state, c, numbers[t]);
        return;
      }
      // Auto-normalization: the series' own range in scaled units, mapped onto the activation's full range.
      let lo = Infinity;
      let hi = -Infinity;
      for (let t = 0; t < len; t++) {
        const y = scale(state, c, numbers[t]);
        if (y < lo) lo = y;
        if (y > hi) hi = y;
      }
      const mid = (hi + lo) / 2;
      const half = (hi - lo) / 2;
      const k = continuousIndex[f];
      additionalAttributes[i * mDim + 2 * k] = mid;
      additionalAttributes[i * mDim + 2 * k + 1] = half;
      for (let t = 0; t < len; t++) features[o + t * fDim] = normalize(state, scale(state, c, numbers[t]), mid, half);
    });
    if (state.genFlags) for (let t = 0; t < len; t++) features[base + t * fDim + fDim - 2 + (t === len - 1 ? 1 : 0)] = 1;
  });
  return { layout, n, attributes, additionalAttributes, features, lengths, ids: dataset.series.map((s) => s.id) };
}

/** A continuous feature's values, checked to be numbers (a hand-built dataset may hold labels or NaN). */
function continuousValues(column: FeatureColumn, c: ColumnSchema, where: Where): ArrayLike<number> {
  for (let t = 0; t < column.length; t++) {
    const x = column[t];
    if (typeof x !== 'number' || Number.isNaN(x)) throw encodingError({ ...where, text: `${where.text}, step ${t}` }, c.name, `feature '${c.name}' must be a number, got '${x}'`);
  }
  return column as ArrayLike<number>;
}

/** Maps y in [mid-half, mid+half] onto the activation's full range; a flat series maps to its middle. */
function normalize(state: EncoderState, y: number, mid: number, half: number): number {
  const centred = half > 0 ? (y - mid) / half : 0; // in [-1, 1]
  return state.continuousActivation === 'tanh' ? centred : (centred + 1) / 2;
}

function denormalize(state: EncoderState, z: number, mid: number, half: number): number {
  const centred = state.continuousActivation === 'tanh' ? z : 2 * z - 1;
  return mid + centred * half;
}

/** Start of each feature column's slice within one encoded time step. */
function featureOffsets(state: EncoderState): number[] {
  let o = 0;
  return state.features.map((c) => {
    const start = o;
    o += isContinuous(c) ? 1 : c.categories!.length;
    return start;
  });
}

/** Per feature, its point-mass variable's values and start within one encoded time step (after the columns). */
function pointMassSlices(state: EncoderState): Array<{ values: number[]; offset: number } | null> {
  let o = state.features.reduce((width, c) => width + (isContinuous(c) ? 1 : c.categories!.length), 0);
  return state.features.map((c, f) => {
    const mass = state.pointMasses?.[f];
    if (!mass) return null;
    const values = pointMassValues(c, mass);
    const slice = { values, offset: o };
    o += values.length;
    return slice;
  });
}

function argmax(values: Float32Array, start: number, dim: number): number {
  let best = 0;
  for (let k = 1; k < dim; k++) if (values[start + k] > values[start + best]) best = k;
  return best;
}

/** Clamps a generated continuous value into the activation's range (generators can overshoot by rounding). */
function clampToRange(state: EncoderState, y: number): number {
  return Math.min(1, Math.max(low(state), y));
}

export interface DecodeInput {
  n: number;
  attributes: Float32Array;
  additionalAttributes: Float32Array;
  features: Float32Array;
  /** Lengths from the generator's flags; without gen flags every series has state.maxLength steps. */
  lengths?: Int32Array;
  ids?: string[];
}

/** Back to the user's units and labels. Generated series get ids `synthetic-<i>` unless given. */
export function decode(state: EncoderState, input: DecodeInput): Dataset {
  const { layout } = state;
  const T = layout.maxLength;
  const aDim = widthOf(layout.attributes);
  const mDim = widthOf(layout.additionalAttributes);
  const fDim = widthOf(layout.features);
  const offsets = featureOffsets(state);
  const masses = pointMassSlices(state);
  // How a continuous step's value is decoded. A bound with a category of its own is the category's to
  // decide: a step the generator flags "between" is not snapped onto it (that undid the flag: half of
  // MBA's generated ping losses were small values the snap turned back into zeros) but kept at least as
  // far from it as the nearest value the data hold beside it (twice the snap distance): nothing real lies
  // in that gap.
  const valueRules = state.features.map((c, f) => {
    const ownSnap = state.boundarySnap?.features[f];
    const massed = state.pointMasses?.[f];
    return {
      snap: massed && ownSnap ? { low: massed.min ? 0 : ownSnap.low, high: massed.max ? 0 : ownSnap.high } : ownSnap,
      floor: massed?.min && ownSnap ? c.min! + 2 * ownSnap.low : -Infinity,
      ceiling: massed?.max && ownSnap ? c.max! - 2 * ownSnap.high : Infinity,
    };
  });
  const series: Series[] = [];
  for (let i = 0; i < input.n; i++) {
    const attributes: Value[] = [];
    let o = i * aDim;
    for (const [a, c] of state.attributes.entries()) {
      if (isContinuous(c)) attributes.push(snapToBounds(c, state.boundarySnap?.attributes[a], unscale(state, c, clampToRange(state, input.attributes[o++]))));
      else {
        attributes.push(c.categories![argmax(input.attributes, o, c.categories!.length)]);
        o += c.categories!.length;
      }
    }
    const len = state.genFlags ? Math.min(input.lengths?.[i] ?? T, state.maxLength) : state.maxLength;
    const mid = new Float64Array(state.features.length);
    const half = new Float64Array(state.features.length);
    if (state.autoNormalize) {
      let k = 0;
      state.features.forEach((c, f) => {
        if (!isContinuous(c)) return;
        const m = clampToRange(state, input.additionalAttributes[i * mDim + 2 * k]);
        const h = Math.max(0, input.additionalAttributes[i * mDim + 2 * k + 1]);
        // Keep [mid - half, mid + half] inside the range the global scaling allows.
        mid[f] = m;
        half[f] = Math.min(h, m - low(state), 1 - m);
        k++;
      });
    }
    const features: FeatureColumn[] = state.features.map((c, f) => {
      const o = i * T * fDim + offsets[f];
      if (!isContinuous(c)) {
        const labels = new Array<string>(len);
        for (let t = 0; t < len; t++) labels[t] = c.categories![argmax(input.features, o + t * fDim, c.categories!.length)];
        return labels;
      }
      const numbers = new Float64Array(len);
      const mass = masses[f];
      const { snap, floor, ceiling } = valueRules[f];
      for (let t = 0; t < len; t++) {
        const k = mass ? argmax(input.features, i * T * fDim + mass.offset + t * fDim, mass.values.length) : -1;
        if (k >= 0 && k < mass!.values.length - 1) {
          numbers[t] = mass!.values[k];
          continue;
        }
        const z = clampToRange(state, input.features[o + t * fDim]);
        numbers[t] = Math.min(ceiling, Math.max(floor, snapToBounds(c, snap, unscale(state, c, state.autoNormalize ? denormalize(state, z, mid[f], half[f]) : z))));
      }
      return numbers;
    });
    series.push({ id: input.ids?.[i] ?? `synthetic-${i}`, attributes, length: len, features });
  }
  // The values went through float32: export writes them at float32's precision at most.
  return { schema: state.schema, attributes: state.attributes, features: state.features, series, precision: 'float32' };
}
