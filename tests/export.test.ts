/**
 * Export: every format in every layout is read back by an independent reader (hyparquet for Parquet,
 * apache-arrow for Arrow IPC, a small RFC 4180 reader here for CSV) and compared value by value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Type, tableFromIPC } from 'apache-arrow';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { columnsFromRows, featureRows } from '../core/data/feature-column.ts';
import type { ColumnSchema, Dataset, Schema, Series, Value } from '../core/data/types.ts';
import { writeDataset, writeDatasetParts, type ExportLayout } from '../core/export/index.ts';

type Cell = number | string | null;
type Kind = 'number' | 'string';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dg-export-'));
}

function schemaOf(layout: Schema['layout'], attributes: ColumnSchema[], features: ColumnSchema[]): Schema {
  return { version: 1, layout, columns: [...attributes, ...features], maxLength: 8, longSeries: 'split', missing: 'interpolate' };
}

const attributes: ColumnSchema[] = [
  { name: 'isp', kind: 'categorical', role: 'attribute', categories: ['a,"b"', 'line\nbreak', 'plain', 'cr\r\nlf', ''] },
  { name: 'tier_mbps', kind: 'continuous', role: 'attribute', min: 0, max: 1000 },
];
const features: ColumnSchema[] = [
  { name: 'throughput', kind: 'continuous', role: 'feature', min: -1, max: 2 },
  { name: 'state', kind: 'categorical', role: 'feature', categories: ['up', 'down, really', '"q"', 'lone\rcr'] },
];

/** A series from its steps (features[t][f]), stored as the Dataset's columns. */
function seriesOf(x: { id: string; attributes: Value[]; features: Value[][]; times?: Value[] }): Series {
  return { ...x, length: x.features.length, features: columnsFromRows(features, x.features) };
}

/** Values chosen to break naive number formatting (precision, extremes, subnormals, -0) and naive quoting. */
const series: Series[] = [
  {
    id: 's,1',
    attributes: ['a,"b"', 100],
    features: [
      [0.1 + 0.2, 'up'],
      [1e-300, 'down, really'],
      [-5e-324, '"q"'],
      [1.7976931348623157e308, 'up'],
    ],
    times: [10, 20.5, 30, 40],
  },
  { id: 's"2"', attributes: ['line\nbreak', 0.30000000000000004], features: [[123456789.12345679, 'up']] },
  {
    id: 's3',
    attributes: ['cr\r\nlf', -0],
    features: [
      [-0, 'up'],
      [NaN, 'up'],
      [2, '"q"'],
      [1 / 3, 'lone\rcr'],
      [-1, 'up'],
      [42, 'up'],
    ],
  },
  {
    id: 'empty-label',
    attributes: ['', 7],
    features: [
      [5, 'up'],
      [6, 'up'],
    ],
    times: [1, 2],
  },
].map(seriesOf);

function makeDataset(layout: Schema['layout'] = { kind: 'long', idColumn: 'line', timeColumn: 'ts' }): Dataset {
  return { schema: schemaOf(layout, attributes, features), attributes, features, series };
}

/** NaN is how a missing value appears in memory; every format writes it as a missing cell. */
function expectedCell(value: number | string): Cell {
  return typeof value === 'number' && Number.isNaN(value) ? null : value;
}

interface Expected {
  columns: string[];
  kinds: Kind[];
  rows: Cell[][];
}

/** The expected table, derived directly from the Dataset without touching the exporter's code. */
function expectedTable(dataset: Dataset, layout: ExportLayout, idColumn: string, timeColumn: string): Expected {
  const attributeKinds = dataset.attributes.map((c): Kind => (c.kind === 'continuous' ? 'number' : 'string'));
  const featureKinds = dataset.features.map((c): Kind => (c.kind === 'continuous' ? 'number' : 'string'));
  if (layout === 'long') {
    const rows: Cell[][] = [];
    for (const s of dataset.series) {
      featureRows(s).forEach((step, t) => {
        rows.push([s.id, s.times ? s.times[t] : t, ...s.attributes.map(expectedCell), ...step.map(expectedCell)]);
      });
    }
    // The schema's column order (the input's): here the attributes, then the features.
    return {
      columns: [idColumn, timeColumn, ...dataset.attributes.map((c) => c.name), ...dataset.features.map((c) => c.name)],
      kinds: ['string', 'number', ...attributeKinds, ...featureKinds],
      rows,
    };
  }
  const maxLength = Math.max(...dataset.series.map((s) => s.length));
  const columns = [idColumn, ...dataset.attributes.map((c) => c.name)];
  const kinds: Kind[] = ['string', ...attributeKinds];
  dataset.features.forEach((c, f) => {
    for (let t = 0; t < maxLength; t++) {
      columns.push(`${c.name}_${t}`);
      kinds.push(featureKinds[f]);
    }
  });
  const rows = dataset.series.map((s) => {
    const row: Cell[] = [s.id, ...s.attributes.map(expectedCell)];
    dataset.features.forEach((_, f) => {
      for (let t = 0; t < maxLength; t++) row.push(t < s.length ? expectedCell(s.features[f][t]) : null);
    });
    return row;
  });
  return { columns, kinds, rows };
}

/**
 * RFC 4180 reader: quoted fields may hold commas, doubled quotes and line breaks; records end at LF or
 * CRLF. An unquoted empty field is missing (null); a quoted empty field is the empty string.
 */
function parseCsv(text: string): Cell[][] {
  const records: Cell[][] = [];
  let record: Cell[] = [];
  let i = 0;
  while (i < text.length) {
    let field: string | null;
    if (text[i] === '"') {
      i++;
      field = '';
      for (;;) {
        assert.ok(i < text.length, 'unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else {
          field += text[i++];
        }
      }
    } else {
      let end = i;
      while (end < text.length && text[end] !== ',' && text[end] !== '\n' && text[end] !== '\r') end++;
      const raw = text.slice(i, end);
      assert.ok(!raw.includes('"'), `bare quote in unquoted field ${JSON.stringify(raw)}`);
      field = raw === '' ? null : raw;
      i = end;
    }
    record.push(field);
    if (text[i] === ',') {
      i++;
      if (i === text.length) record.push(null);
    } else if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1;
      records.push(record);
      record = [];
    } else {
      assert.equal(i, text.length, `unexpected character ${JSON.stringify(text[i])} after a field`);
    }
  }
  if (record.length > 0) records.push(record);
  return records;
}

function readCsv(file: string, kinds: Kind[]): { columns: string[]; rows: Cell[][] } {
  const [header, ...records] = parseCsv(fs.readFileSync(file, 'utf8'));
  const rows = records.map((r) => {
    assert.equal(r.length, kinds.length, 'every CSV record has one field per column');
    return r.map((cell, c) => (cell !== null && kinds[c] === 'number' ? Number(cell) : cell));
  });
  return { columns: header as string[], rows };
}

function readArrow(file: string): { columns: string[]; rows: Cell[][]; types: Type[] } {
  const table = tableFromIPC(fs.readFileSync(file));
  const columns = table.schema.fields.map((f) => f.name);
  const vectors = columns.map((_, c) => table.getChildAt(c)!);
  const rows: Cell[][] = [];
  for (let r = 0; r < table.numRows; r++) rows.push(vectors.map((v) => v.get(r) as Cell));
  return { columns, rows, types: table.schema.fields.map((f) => f.type.typeId) };
}

/** hyparquet-compressors' ZSTD is a separate implementation from parquet-wasm's Rust zstd. */
async function readParquet(file: string) {
  const bytes = fs.readFileSync(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const metadata = parquetMetadata(buffer);
  const leaves = metadata.schema.slice(1);
  const columns = leaves.map((e) => e.name);
  const objects = await parquetReadObjects({ file: buffer, metadata, compressors });
  const rows = objects.map((o) => columns.map((c) => o[c] as Cell));
  const codecs = metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec));
  return { columns, rows, leaves, codecs };
}

/** Exact equality per cell; numbers compared with Object.is so -0, subnormals and the last bit all count. */
function assertRowsEqual(actual: Cell[][], expected: Cell[][], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: row count`);
  for (let r = 0; r < expected.length; r++) {
    assert.equal(actual[r].length, expected[r].length, `${what}: width of row ${r}`);
    for (let c = 0; c < expected[r].length; c++) {
      assert.ok(Object.is(actual[r][c], expected[r][c]), `${what}: row ${r} column ${c}: got ${JSON.stringify(actual[r][c])} (${String(actual[r][c])}), want ${String(expected[r][c])}`);
    }
  }
}

for (const layout of ['long', 'wide'] as const) {
  const dataset = makeDataset();
  const expected = expectedTable(dataset, layout, 'line', 'ts');

  test(`CSV ${layout}: RFC 4180 quoting and round-trip numbers read back exactly`, async () => {
    const file = path.join(tempDir(), 'out.csv');
    const result = await writeDataset(dataset, file, { layout });
    assert.deepEqual(result, { file, rows: expected.rows.length, format: 'csv' });
    const read = readCsv(file, expected.kinds);
    assert.deepEqual(read.columns, expected.columns);
    assertRowsEqual(read.rows, expected.rows, `csv ${layout}`);
    assert.ok(fs.readFileSync(file, 'utf8').includes('"a,""b"""'), 'a label with a comma and quotes is quoted, inner quotes doubled');
  });

  test(`Arrow ${layout}: IPC file read back by apache-arrow with float64 and utf8 columns`, async () => {
    for (const extension of ['.arrow', '.feather', '.ipc']) {
      const file = path.join(tempDir(), `out${extension}`);
      const result = await writeDataset(dataset, file, { layout });
      assert.deepEqual(result, { file, rows: expected.rows.length, format: 'arrow' });
      const magic = fs.readFileSync(file).subarray(0, 6).toString('latin1');
      assert.equal(magic, 'ARROW1', 'Arrow IPC file format (not the stream format)');
      const read = readArrow(file);
      assert.deepEqual(read.columns, expected.columns);
      read.types.forEach((type, c) => {
        const isTime = layout === 'long' && c === 1;
        if (isTime) assert.equal(type, Type.Float, 'time stamps with a fraction stay float64');
        else assert.equal(type, expected.kinds[c] === 'number' ? Type.Float : Type.Utf8, `type of ${expected.columns[c]}`);
      });
      assertRowsEqual(read.rows, expected.rows, `arrow ${layout}`);
    }
  });

  test(`Parquet ${layout}: ZSTD file read back by hyparquet exactly`, async () => {
    const file = path.join(tempDir(), 'out.parquet');
    const result = await writeDataset(dataset, file, { layout });
    assert.deepEqual(result, { file, rows: expected.rows.length, format: 'parquet' });
    const read = await readParquet(file);
    assert.deepEqual(read.columns, expected.columns);
    assert.ok(read.codecs.length > 0 && read.codecs.every((c) => c === 'ZSTD'), `all column chunks ZSTD, got ${read.codecs}`);
    read.leaves.forEach((leaf, c) => {
      if (expected.kinds[c] === 'number') assert.equal(leaf.type, 'DOUBLE', `physical type of ${leaf.name}`);
      else {
        assert.equal(leaf.type, 'BYTE_ARRAY', `physical type of ${leaf.name}`);
        assert.equal(leaf.logical_type?.type, 'STRING', `logical type of ${leaf.name}`);
      }
    });
    assertRowsEqual(read.rows, expected.rows, `parquet ${layout}`);
  });
}

test('defaults come from the schema: id/time column names, wide layout, long-chunked as long', async () => {
  const dir = tempDir();
  const named = await writeDataset(makeDataset({ kind: 'long', idColumn: 'line', timeColumn: 'ts' }), path.join(dir, 'a.csv'));
  assert.equal(named.rows, 13);
  // id, time, then the schema's (the input's) column order
  assert.equal(fs.readFileSync(named.file, 'utf8').split('\n')[0], 'line,ts,isp,tier_mbps,throughput,state');

  const wide = await writeDataset(makeDataset({ kind: 'wide', idColumn: 'device' }), path.join(dir, 'b.csv'));
  assert.equal(wide.rows, 4);
  assert.ok(fs.readFileSync(wide.file, 'utf8').startsWith('device,isp,tier_mbps,throughput_0,'));

  const chunked = await writeDataset(makeDataset({ kind: 'long-chunked', chunkSize: 6 }), path.join(dir, 'c.arrow'));
  assert.equal(chunked.rows, 13);
  assert.deepEqual(readArrow(chunked.file).columns.slice(0, 2), ['series_id', 'step']);

  const overridden = await writeDataset(makeDataset(), path.join(dir, 'd.csv'), { layout: 'wide', idColumn: 'who' });
  assert.ok(fs.readFileSync(overridden.file, 'utf8').startsWith('who,isp,'));
});

test('time column: step indices as int32 when no series has stamps, text when stamps are labels', async () => {
  const dir = tempDir();
  const noTimes = { ...makeDataset(), series: series.map(({ times: _, ...s }) => s) };
  const steps = readArrow((await writeDataset(noTimes, path.join(dir, 'steps.arrow'))).file);
  assert.equal(steps.types[1], Type.Int);
  assert.deepEqual(
    steps.rows.map((r) => r[1]),
    [0, 1, 2, 3, 0, 0, 1, 2, 3, 4, 5, 0, 1],
  );

  const labels = ['2024-01-01T00:00', '2024-01-01T01:00'];
  const stamped = { ...makeDataset(), series: [{ ...series[3], times: labels }] };
  const read = readArrow((await writeDataset(stamped, path.join(dir, 'stamps.arrow'))).file);
  assert.equal(read.types[1], Type.Utf8);
  assert.deepEqual(
    read.rows.map((r) => r[1]),
    labels,
  );
});

test('rejects an unknown extension and colliding column names without writing anything', async () => {
  const dir = tempDir();
  await assert.rejects(writeDataset(makeDataset(), path.join(dir, 'out.xlsx')), /\.csv, \.parquet or \.arrow/);
  await assert.rejects(writeDataset(makeDataset(), path.join(dir, 'out.csv'), { idColumn: 'isp' }), /two columns named 'isp'/);
  assert.deepEqual(fs.readdirSync(dir), []);
});

/** Many rows so the CSV goes out in several chunks with awaits between them. */
function bigDataset(rows: number, poisonLast: boolean): Dataset {
  const length = 100;
  const big: Series[] = [];
  for (let s = 0; s < rows / length; s++) {
    const steps = Array.from({ length }, (_, t) => [s + t / 7, 'up'] as (number | string)[]);
    big.push(seriesOf({ id: `line-${s}`, attributes: ['plain', s], features: steps }));
  }
  // A label in a continuous column is an error the exporter only meets when it reaches that row. Typed
  // columns cannot hold one, so the last series gets a plain array, as an unchecked JS caller could pass.
  if (poisonLast) {
    const last = big[big.length - 1];
    const values: Value[] = Array.from(last.features[0] as Float64Array);
    values[length - 1] = 'not a number';
    last.features[0] = values as string[];
  }
  return { ...makeDataset(), series: big };
}

test('atomic: a failed write leaves the old file untouched and no temporary file behind', async () => {
  const dir = tempDir();
  for (const name of ['out.csv', 'out.arrow', 'out.parquet']) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, 'OLD');
    await assert.rejects(writeDataset(bigDataset(100_000, true), file), /continuous but holds the label "not a number"/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'OLD', `${name} kept its old content`);
    assert.deepEqual(fs.readdirSync(dir).sort(), [name], 'the temporary file was removed');
    fs.rmSync(file);
  }
});

test('atomic: the old file stays in place while the write is under way and is replaced at the end', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'out.csv');
  const temporary = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(file, 'OLD');
  let sawTemporary = 0;
  let replacedEarly = 0;
  let polling = true;
  // The rename runs on another thread, so the final file is read first: if it is already new while the
  // temporary file still exists afterwards, the final name was written before the temporary was complete.
  const poll = () => {
    if (!polling) return;
    const content = fs.readFileSync(file, 'utf8');
    if (fs.existsSync(temporary)) {
      sawTemporary++;
      if (content !== 'OLD') replacedEarly++;
    }
    setImmediate(poll);
  };
  setImmediate(poll);
  const result = await writeDataset(bigDataset(200_000, false), file);
  polling = false;
  assert.ok(sawTemporary > 0, 'the write was observed in progress under the temporary name');
  assert.equal(replacedEarly, 0, 'the final name held the old file for the whole write');
  assert.equal(result.rows, 200_000);
  assert.equal(fs.existsSync(temporary), false);
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.startsWith('line,ts,isp,tier_mbps,throughput,state\nline-0,0,plain,0,0,up\n'));
  assert.equal(text.split('\n').length, 200_000 + 2, 'header, every row, and the final newline');
});

/** The dataset's series split into parts of `size`, each a Dataset of its own, as generation yields them. */
function partsOf(dataset: Dataset, size: number): Dataset[] {
  const parts: Dataset[] = [];
  for (let i = 0; i < dataset.series.length; i += size) parts.push({ ...dataset, series: dataset.series.slice(i, i + size) });
  return parts;
}

test('a dataset written in parts reads back as the whole, in every format and layout', async () => {
  const dir = tempDir();
  const whole = bigDataset(3_000, false);
  for (const layout of ['long', 'wide'] as const) {
    const expected = expectedTable(whole, layout, 'line', 'ts');
    for (const format of ['csv', 'arrow', 'parquet']) {
      const file = path.join(dir, `parts-${layout}.${format}`);
      // wide: 100 columns per feature, as every series has 100 steps
      const result = await writeDatasetParts(partsOf(whole, 7), file, { layout, seriesLength: 100 });
      assert.equal(result.rows, expected.rows.length);
      const read = format === 'csv' ? readCsv(file, expected.kinds) : format === 'arrow' ? readArrow(file) : await readParquet(file);
      assert.deepEqual(read.columns, expected.columns);
      assertRowsEqual(read.rows, expected.rows, `${format} ${layout} in parts`);
    }
  }
  // The wide layout's width is fixed up front: a shorter first part gets empty cells, a longer series is refused.
  const short = { ...whole, series: [seriesOf({ id: 'short', attributes: ['plain', 1], features: [[1, 'up']] }), ...whole.series.slice(0, 2)] };
  const wide = readCsv((await writeDatasetParts(partsOf(short, 1), path.join(dir, 'w.csv'), { layout: 'wide', seriesLength: 100 })).file, expectedTable(whole, 'wide', 'line', 'ts').kinds);
  assert.equal(wide.columns.length, 3 + 2 * 100);
  assert.deepEqual(wide.rows[0].slice(3, 5), [1, null]);
  await assert.rejects(writeDatasetParts(partsOf(short, 1), path.join(dir, 'x.csv'), { layout: 'wide', seriesLength: 50 }), /series 'line-0' has 100 steps, more than the wide layout's 50/);
  assert.ok(!fs.existsSync(path.join(dir, 'x.csv')));
});

test('parts go to disk as they come: earlier parts are in the file before a later one is made (CSV, Arrow)', async () => {
  for (const format of ['csv', 'arrow']) {
    const file = path.join(tempDir(), `stream.${format}`);
    const temporary = `${file}.tmp-${process.pid}`;
    const sizes: number[] = [];
    async function* parts() {
      // parts of 40,000 rows (~1.4 MB as CSV): larger than the CSV writer's 1 MB buffer
      for (const part of partsOf(bigDataset(200_000, false), 400)) {
        sizes.push(fs.existsSync(temporary) ? fs.statSync(temporary).size : 0);
        yield part;
      }
    }
    await writeDatasetParts(parts(), file);
    // each part is on disk when the part after the next is requested: the CSV writer may still have its
    // last buffer's write in flight when the next part is asked for (seen on a loaded machine)
    assert.equal(sizes.length, 5);
    for (let k = 2; k < sizes.length; k++) assert.ok(sizes[k] > sizes[k - 2] + 300_000, `${format}: file at part ${k}: ${sizes}`);
  }
});

test('a part that fails stops the export and leaves nothing behind', async () => {
  const dir = tempDir();
  for (const format of ['csv', 'arrow', 'parquet']) {
    const file = path.join(dir, `fail.${format}`);
    async function* parts() {
      yield partsOf(makeDataset(), 2)[0];
      throw new Error('generation failed');
    }
    await assert.rejects(writeDatasetParts(parts(), file), /generation failed/);
    await assert.rejects(writeDatasetParts([], file), /nothing to write/);
  }
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('CSV: multi-byte labels, a label longer than the write buffer, and rows across many buffers read back exactly', async () => {
  const huge = 'é'.repeat(400_000) + ',"x"'; // 800,004 bytes, quoted: with its row it crosses the 1 MB buffer
  const labels = ['naïve', '東京', '🙂 smile', huge, 'x'.repeat(1_200_000)]; // the last one is larger than a buffer
  const categorical: ColumnSchema = { name: 'label', kind: 'categorical', role: 'attribute', categories: labels };
  // 400 series of 100 steps with the short labels (~3 MB), one step each with the long ones in between
  const many: Series[] = Array.from({ length: 400 }, (_, s) => {
    const label = labels[s % labels.length];
    const steps = Array.from({ length: label.length > 1000 ? 1 : 100 }, (_, t) => [s * 0.001 + t, 'up'] as (number | string)[]);
    return seriesOf({ id: `s${s}`, attributes: [label, s], features: steps });
  });
  const dataset: Dataset = {
    ...makeDataset(),
    schema: schemaOf({ kind: 'long', idColumn: 'line', timeColumn: 'ts' }, [categorical, attributes[1]], features),
    attributes: [categorical, attributes[1]],
    series: many,
  };
  const expected = expectedTable(dataset, 'long', 'line', 'ts');
  const file = path.join(tempDir(), 'labels.csv');
  await writeDataset(dataset, file);
  const read = readCsv(file, expected.kinds);
  assert.deepEqual(read.columns, expected.columns);
  assertRowsEqual(read.rows, expected.rows, 'csv with long and multi-byte labels');
});
