import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ColumnSchema, Dataset, Series } from '../core/data/types.ts';
import { columnsFromRows, featureRows } from '../core/data/feature-column.ts';
import { decode, describePointMasses, encode, encodeAttributes, fitEncoder, POINT_MASS_SHARE } from '../core/encoding/encoder.ts';
import { widthOf } from '../core/encoding/types.ts';
import { Rng } from '../core/util/rng.ts';

const columns: ColumnSchema[] = [
  { name: 'isp', kind: 'categorical', role: 'attribute', categories: ['A', 'B', 'C'] },
  { name: 'plan_mbps', kind: 'continuous', role: 'attribute' },
  { name: 'bandwidth', kind: 'continuous', role: 'feature' },
  { name: 'state', kind: 'categorical', role: 'feature', categories: ['up', 'down'] },
  { name: 'loss', kind: 'continuous', role: 'feature' },
];

function makeDataset(lengths: number[], seed = 7): Dataset {
  const rng = new Rng(seed);
  const series: Series[] = lengths.map((len, i) => ({
    id: `s${i}`,
    attributes: [['A', 'B', 'C'][i % 3], 10 + 990 * rng.uniform()],
    length: len,
    features: columnsFromRows(
      [columns[2], columns[3], columns[4]],
      Array.from({ length: len }, () => [
        // A wide dynamic range across series, the case auto-normalization exists for.
        10 ** (i % 4) * rng.uniform(),
        rng.uniform() < 0.2 ? 'down' : 'up',
        // A flat series (all zeros) exercises the zero-range branch.
        i === 1 ? 0 : rng.uniform() * 0.01,
      ]),
    ),
  }));
  return {
    schema: { version: 1, layout: { kind: 'long', idColumn: 'id' }, columns, maxLength: Math.max(...lengths), longSeries: 'split', missing: 'interpolate' },
    attributes: [columns[0], columns[1]],
    features: [columns[2], columns[3], columns[4]],
    series,
  };
}

function assertRoundTrip(original: Dataset, decoded: Dataset, state: ReturnType<typeof fitEncoder>) {
  assert.equal(decoded.series.length, original.series.length);
  original.series.forEach((s, i) => {
    const d = decoded.series[i];
    assert.equal(d.id, s.id);
    assert.equal(d.length, s.length, `length of ${s.id}`);
    d.features.forEach((column, f) => assert.equal(column.length, s.length, `length of ${s.id}, feature ${f}`));
    const decodedRows = featureRows(d);
    s.attributes.forEach((v, a) => {
      const c = state.attributes[a];
      if (typeof v === 'string') assert.equal(d.attributes[a], v);
      else assert.ok(Math.abs((d.attributes[a] as number) - v) <= 1e-6 * (c.max! - c.min!), `attribute ${c.name} of ${s.id}`);
    });
    featureRows(s).forEach((step, t) =>
      step.forEach((v, f) => {
        const c = state.features[f];
        if (typeof v === 'string') assert.equal(decodedRows[t][f], v);
        // float32 keeps ~7 digits of the scaled value: the error bound is relative to the column range.
        else assert.ok(Math.abs((decodedRows[t][f] as number) - v) <= 2e-6 * (c.max! - c.min!), `${c.name} of ${s.id} at ${t}: ${decodedRows[t][f]} vs ${v}`);
      }),
    );
  });
}

for (const continuousActivation of ['sigmoid', 'tanh'] as const) {
  for (const autoNormalize of [true, false]) {
    test(`decode(encode(x)) == x: variable lengths, ${continuousActivation}, autoNormalize ${autoNormalize}`, () => {
      const data = makeDataset([7, 12, 3, 12, 9, 1]);
      const state = fitEncoder(data, { sampleLen: 5, autoNormalize, continuousActivation });
      const enc = encode(state, data);
      assert.equal(state.genFlags, true);
      assert.equal(enc.layout.maxLength, 15, 'padded to a multiple of S');
      assert.deepEqual([...enc.lengths], [7, 12, 3, 12, 9, 1]);
      assertRoundTrip(data, decode(state, enc), state);
    });
  }
}

test('encoded layout: one-hot widths, additional attributes, gen flags, zero padding', () => {
  const data = makeDataset([4, 2]);
  const state = fitEncoder(data, { sampleLen: 2, boundCategories: false });
  const enc = encode(state, data);
  assert.equal(widthOf(enc.layout.attributes), 3 + 1);
  assert.deepEqual(
    enc.layout.additionalAttributes.map((v) => v.name),
    ['bandwidth__mid', 'bandwidth__half', 'loss__mid', 'loss__half'],
  );
  const fDim = widthOf(enc.layout.features);
  assert.equal(fDim, 1 + 2 + 1 + 2);
  // Series 1 has 2 steps: flags [1,0] then [0,1], then zeros everywhere.
  const T = enc.layout.maxLength;
  const step = (i: number, t: number) => [...enc.features.slice((i * T + t) * fDim, (i * T + t + 1) * fDim)];
  assert.deepEqual(step(1, 0).slice(-2), [1, 0]);
  assert.deepEqual(step(1, 1).slice(-2), [0, 1]);
  assert.deepEqual(step(1, 2), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(step(1, 3), [0, 0, 0, 0, 0, 0]);
  // One-hot attribute of series 1 ('B').
  assert.deepEqual([...enc.attributes.slice(4, 7)], [0, 1, 0]);
  // Auto-normalized continuous feature spans exactly [0, 1] within series 0.
  const values = [0, 1, 2, 3].map((t) => step(0, t)[0]);
  assert.ok(Math.abs(Math.min(...values)) < 1e-7 && Math.abs(Math.max(...values) - 1) < 1e-7);
  // The flat series (loss of series 1 is all zero) has half range 0.
  assert.equal(enc.additionalAttributes[1 * 4 + 3], 0);
});

test('equal lengths need no gen flags; padding beyond the real length is cut on decode', () => {
  const data = makeDataset([6, 6, 6]);
  const state = fitEncoder(data, { sampleLen: 4 });
  assert.equal(state.genFlags, false);
  const enc = encode(state, data);
  assert.equal(enc.layout.maxLength, 8);
  const decoded = decode(state, { ...enc, lengths: undefined });
  assert.ok(decoded.series.every((s) => s.length === 6 && s.features.every((column) => column.length === 6)));
  assertRoundTrip(data, decoded, state);
});

test('data without attribute columns is encoded with one constant category and decodes back to none', () => {
  const full = makeDataset([5, 3, 5]);
  const data: Dataset = { ...full, attributes: [], series: full.series.map((s) => ({ ...s, attributes: [] })) };
  const state = fitEncoder(data, { sampleLen: 5 });
  const enc = encode(state, data);
  assert.deepEqual(enc.layout.attributes, [{ name: '__constant', kind: 'categorical', dim: 1, activation: 'softmax' }]);
  assert.deepEqual([...enc.attributes], [1, 1, 1]);
  assert.deepEqual([...encodeAttributes(state, [[], []])], [1, 1]);
  const decoded = decode(state, enc);
  assert.deepEqual(decoded.attributes, []);
  assert.ok(decoded.series.every((s) => s.attributes.length === 0));
  assertRoundTrip(data, decoded, state);
});

test('encodeAttributes matches encode and rejects unknown labels with the row', () => {
  const data = makeDataset([3, 3]);
  const state = fitEncoder(data, { sampleLen: 1 });
  const enc = encode(state, data);
  const given = encodeAttributes(
    state,
    data.series.map((s) => s.attributes),
  );
  assert.deepEqual([...given], [...enc.attributes]);
  assert.throws(
    () =>
      encodeAttributes(state, [
        ['A', 5],
        ['Z', 5],
      ]),
    /row 2: 'Z' is not a known category of 'isp'/,
  );
});

test('decode clamps generator overshoot into the training range', () => {
  const data = makeDataset([3, 3]);
  const state = fitEncoder(data, { sampleLen: 1, autoNormalize: false });
  const enc = encode(state, data);
  enc.features.fill(1.5);
  const out = decode(state, enc);
  const bandwidth = state.features[0];
  for (const s of out.series) for (const step of featureRows(s)) assert.equal(step[0], bandwidth.max);
});

test('decode moves generated values onto a bound the data hold repeatedly, and only within half the gap to the next real value', () => {
  // loss: exact zeros most of the time, else multiples of 1/30 (MBA ping loss); bandwidth: its lowest value occurs once.
  const lossColumn = Float64Array.from({ length: 12 }, (_, t) => (t === 3 ? 1 / 30 : t === 7 ? 0.1 : 0));
  const data = makeDataset([12, 12]);
  data.series = data.series.map((s, i) => ({ ...s, features: [Float64Array.from({ length: 12 }, (_, t) => 5 + t + 20 * i), s.features[1], i === 0 ? lossColumn : new Float64Array(12)] }));
  for (const autoNormalize of [false, true]) {
    // The snap alone: without the loss's "at a bound" variable (tested below), the loss is the last feature.
    const state = fitEncoder(data, { sampleLen: 4, autoNormalize, boundCategories: false });
    const loss = state.boundarySnap!.features[2]!;
    assert.ok(Math.abs(loss.low - 1 / 60) < 1e-12, `half the gap between 0 and 1/30, got ${loss.low}`);
    assert.equal(state.boundarySnap!.features[0]!.low, 0, 'a lowest value seen once is no point mass');
    assert.equal(state.boundarySnap!.features[1], null, 'categorical');
    const enc = encode(state, data);
    assertRoundTrip(data, decode(state, enc), state);
    // Generated-like output: the loss head just above its lower end (where a sigmoid never quite gets to).
    const fDim = widthOf(enc.layout.features);
    const T = enc.layout.maxLength;
    const near = enc.features.slice();
    const lossOffset = fDim - 1;
    const mDim = widthOf(enc.layout.additionalAttributes);
    for (let i = 0; i < 2; i++) {
      if (autoNormalize) {
        near[i * T * fDim + 0 * fDim + lossOffset] = 0;
        // The series spans [0, 0.05] in user units: mid = half = 0.25 of the column's range of 0.1.
        enc.additionalAttributes[i * mDim + 2] = 0.25;
        enc.additionalAttributes[i * mDim + 3] = 0.25;
      }
      // 0.01 and 0.02 in user units: the first is closer to 0 than to 1/30, the second closer to 1/30.
      near[i * T * fDim + 1 * fDim + lossOffset] = autoNormalize ? 0.2 : 0.1;
      near[i * T * fDim + 2 * fDim + lossOffset] = autoNormalize ? 0.4 : 0.2;
    }
    const out = decode(state, { ...enc, features: near });
    for (const s of out.series) {
      const values = s.features[2] as Float64Array;
      if (autoNormalize) assert.equal(values[0], 0);
      assert.equal(values[1], 0, `0.01 snaps to 0 (autoNormalize ${autoNormalize})`);
      assert.ok(Math.abs(values[2] - 0.02) < 1e-6, `0.02 stays (autoNormalize ${autoNormalize}), got ${values[2]}`);
    }
  }
});

test('an encoder saved without boundarySnap decodes as before', () => {
  const data = makeDataset([5, 5]);
  const { boundarySnap, ...old } = fitEncoder(data, { sampleLen: 1, autoNormalize: false });
  assert.ok(boundarySnap);
  const enc = encode(old, data);
  assertRoundTrip(data, decode(old, enc), old);
});

/** Two series of 10 steps: loss is 0 in 16 of 20 steps (a point mass at its minimum), bandwidth at its
 * maximum 100 in `atMax` steps of the 20. */
function massData(atMax: number): Dataset {
  const data = makeDataset([10, 10]);
  data.series = data.series.map((s, i) => ({
    ...s,
    features: [
      Float64Array.from({ length: 10 }, (_, t) => (i * 10 + t < atMax ? 100 : 1 + t + i)),
      s.features[1],
      Float64Array.from({ length: 10 }, (_, t) => (t === 2 * i + 1 || t === 2 * i + 4 ? 0.05 * (t + 1) : 0)),
    ],
  }));
  return data;
}

test('a bound holding a large share of values gets a categorical variable per step, and decode(encode(x)) == x', () => {
  for (const autoNormalize of [false, true]) {
    const data = massData(4); // bandwidth at its maximum in 4 of 20 steps: exactly POINT_MASS_SHARE
    const state = fitEncoder(data, { sampleLen: 5, autoNormalize });
    assert.deepEqual(state.pointMasses, [{ min: false, max: true }, null, { min: true, max: false }]);
    const names = state.layout.features.map((v) => `${v.name}:${v.dim}`);
    assert.deepEqual(names, ['bandwidth:1', 'state:2', 'loss:1', 'bandwidth__at_bound:2', 'loss__at_bound:2'], 'after the columns, before any gen flag');
    const enc = encode(state, data);
    const fDim = widthOf(enc.layout.features);
    // Series 0, step 0: bandwidth at its max, loss at its min (the bound is category 0, "between" the last).
    assert.deepEqual([...enc.features.slice(0, fDim)].slice(4), [1, 0, 1, 0]);
    // Series 0, step 4: bandwidth 5 (between), loss 0.25 (between).
    assert.deepEqual([...enc.features.slice(4 * fDim, 5 * fDim)].slice(4), [0, 1, 0, 1]);
    assertRoundTrip(data, decode(state, enc), state);
    assert.match(
      describePointMasses(state).join('\n'),
      /bandwidth sits at its maximum 100 in at least 20% of steps: the model also generates whether each step is at the maximum or in between[\s\S]*loss sits at its minimum 0 /,
    );
  }
  const below = fitEncoder(massData(3), { sampleLen: 5 });
  assert.equal(below.pointMasses?.[0], null, `3 of 20 steps is under ${POINT_MASS_SHARE}`);
  const off = fitEncoder(massData(4), { sampleLen: 5, boundCategories: false });
  assert.equal(off.pointMasses, undefined);
  assert.deepEqual(describePointMasses(off), []);
});

test('decode puts a step flagged at a bound exactly on it, and a step flagged between on the continuous head', () => {
  const data = massData(0);
  const state = fitEncoder(data, { sampleLen: 5, autoNormalize: false, snapToBounds: false });
  const enc = encode(state, data);
  const fDim = widthOf(enc.layout.features);
  const T = enc.layout.maxLength;
  const generated = enc.features.slice();
  for (let i = 0; i < 2; i++)
    for (let t = 0; t < 10; t++) {
      const at = i * T * fDim + t * fDim;
      generated[at + 3] = 0.3; // the loss head: 0.3 of the loss range, wherever the flag points
      generated[at + 4] = t % 2 === 0 ? 0.8 : 0.3; // softmax scores: even steps at the minimum, odd steps between
      generated[at + 5] = t % 2 === 0 ? 0.2 : 0.7;
    }
  const lossRange = state.features[2].max! - state.features[2].min!;
  const out = decode(state, { ...enc, features: generated });
  for (const s of out.series) {
    const loss = s.features[2] as Float64Array;
    for (let t = 0; t < 10; t++) {
      if (t % 2 === 0) assert.equal(loss[t], 0, `step ${t}: flagged at the minimum`);
      else assert.ok(Math.abs(loss[t] - 0.3 * lossRange) < 1e-6, `step ${t}: the head's value, got ${loss[t]}`);
    }
  }
  // With the boundary snap on, a step flagged "between" is not snapped onto the bound (the flag decides
  // it) but lifted to the smallest value the data hold above it (0.1 here): nothing real lies in between.
  const snapping = fitEncoder(data, { sampleLen: 5, autoNormalize: false });
  assert.ok(Math.abs(snapping.boundarySnap!.features[2]!.low - 0.05) < 1e-12);
  const near = enc.features.slice();
  for (let i = 0; i < 2; i++)
    for (let t = 0; t < 10; t++) {
      const at = i * T * fDim + t * fDim;
      near[at + 3] = t < 5 ? 0.001 : 0.5; // the loss head just above its floor, or in the middle
      near[at + 4] = 0.1; // "between" wins
      near[at + 5] = 0.9;
    }
  for (const s of decode(snapping, { ...enc, features: near }).series) {
    const loss = s.features[2] as Float64Array;
    for (let t = 0; t < 10; t++) {
      const expected = t < 5 ? 0.1 : 0.5 * lossRange;
      assert.ok(Math.abs(loss[t] - expected) < 1e-6, `step ${t}: ${expected}, got ${loss[t]}`);
    }
  }
  // An encoder saved before point masses existed reads the layout without them.
  const { pointMasses, ...old } = fitEncoder(data, { sampleLen: 5, boundCategories: false });
  assert.equal(pointMasses, undefined);
  assertRoundTrip(data, decode(old, encode(old, data)), old);
});
