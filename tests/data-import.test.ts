/**
 * Import stage: formats, layouts, inference, validation messages, schema round trip, streaming memory.
 * Every malformed input is a real file written to a temp dir.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Table, TimestampMillisecond, tableToIPC, vectorFromArray, Float64, Int32, Utf8, Dictionary } from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm';
import { DataError, formatSchemaSummary, inspectFile, loadSchemaFile, readDataset, type Dataset, type ReadOptions, type Schema } from '../core/data/index.ts';
import { CsvTokenizer } from '../core/data/csv.ts';
import { featureRows } from '../core/data/feature-column.ts';
import { rejects, tempFiles } from './fixtures/data-files.ts';
import { MBA_CSV, mbaSplitFile } from './fixtures/mba.ts';

const MBA = MBA_CSV;
const MBA_TRAIN = mbaSplitFile('train');

const { dir, write } = tempFiles('dg-data-import-');

const csv = (rows: (string | number)[][]): string => rows.map((r) => r.join(',')).join('\n') + '\n';

// The same small dataset in every layout: 3 series x 4 steps; attributes isp (categorical), tier
// (continuous, constant per series); features traffic (continuous), proto (categorical, varies).
const SERIES = [
  { isp: 'Verizon', tier: 100, traffic: [0.5, 1.5, 2.5, 3.5], proto: ['tcp', 'udp', 'tcp', 'tcp'] },
  { isp: 'Charter', tier: 50, traffic: [1, 2, 3, 4], proto: ['udp', 'udp', 'udp', 'tcp'] },
  { isp: 'Verizon', tier: 25.5, traffic: [10, 0, 5, 7], proto: ['tcp', 'tcp', 'tcp', 'tcp'] },
];
const STEPS = 4;

function longRows(): (string | number)[][] {
  const rows: (string | number)[][] = [];
  SERIES.forEach((s, id) => {
    for (let t = 0; t < STEPS; t++) rows.push([id, t, s.isp, s.tier, s.traffic[t], s.proto[t]]);
  });
  return rows;
}

/** Long rows in a scrambled order: series interleaved and steps out of order. */
function shuffledLongRows(): (string | number)[][] {
  const rows = longRows();
  const order = [0, 5, 10, 3, 1, 9, 6, 2, 11, 4, 8, 7];
  return order.map((i) => rows[i]);
}

function chunkedCsv(): string {
  return csv([['isp', 'tier', 'traffic', 'proto'], ...longRows().map((r) => r.slice(2))]);
}

function wideCsv(): string {
  const header = ['isp', 'tier', ...Array.from({ length: STEPS }, (_, t) => `traffic_${t}`), ...Array.from({ length: STEPS }, (_, t) => `proto[${t}]`)];
  return csv([header, ...SERIES.map((s) => [s.isp, s.tier, ...s.traffic, ...s.proto])]);
}

/** What must agree across layouts: columns (less where they came from) and series (less time stamps). */
function comparable(dataset: Dataset) {
  const column = ({ wideColumns: _w, ...rest }: Dataset['features'][number]) => rest;
  return {
    attributes: dataset.attributes.map(column),
    features: dataset.features.map(column),
    maxLength: dataset.schema.maxLength,
    series: dataset.series.map(({ times: _t, ...rest }) => rest).sort((a, b) => a.id.localeCompare(b.id)),
  };
}

describe('CSV parsing', () => {
  test('quoted fields keep embedded delimiters, quotes and newlines; line numbers count the embedded newline', async () => {
    const lines = ['id,t,label,bw', '1,0,"plain",1.5', '1,1,"comma, inside",2.5', '1,2,"say ""hi""",3.5', '1,3,"two\nlines",4.5', '2,0,"x",5', '2,1,"y",abc'];
    const file = write('quoted.csv', lines.join('\n') + '\n');
    const good = write('quoted-good.csv', lines.slice(0, 6).join('\n') + '\n2,1,"y",6\n');
    const { dataset } = await readDataset(good, { idColumn: 'id', timeColumn: 't', features: ['label', 'bw'] });
    assert.deepEqual(
      featureRows(dataset.series[0]).map((f) => f[0]),
      ['plain', 'comma, inside', 'say "hi"', 'two\nlines'],
    );
    assert.deepEqual(featureRows(dataset.series[1]), [
      ['x', 5],
      ['y', 6],
    ]);

    // The bad cell is on data row 6; the header is line 1 and the quoted newline adds one: line 8.
    const schema = (await inspectFile(good, { idColumn: 'id', timeColumn: 't', features: ['label', 'bw'] })).schema;
    await rejects(readDataset(file, { schema }), [/line 8/, /column 'bw'/, /'abc' is not a number/], { row: 8, column: 'bw' });
  });

  test('the tokenizer gives the same records whatever the chunk boundaries (quotes, CRLF, escaped quotes)', () => {
    const text = 'a,b,c\r\n"x, y","say ""hi""\r\nagain",3\r\n\r\n,,\n"",z,"end"';
    const parse = (chunkSize: number) => {
      const records: [string[], number][] = [];
      const tokenizer = new CsvTokenizer(',', (fields, line) => records.push([fields.slice(), line]));
      for (let i = 0; i < text.length; i += chunkSize) tokenizer.push(text.slice(i, i + chunkSize));
      tokenizer.end();
      return records;
    };
    const expected: [string[], number][] = [
      [['a', 'b', 'c'], 1],
      [['x, y', 'say "hi"\r\nagain', '3'], 2],
      [['', '', ''], 5],
      [['', 'z', 'end'], 6],
    ];
    for (const size of [1, 2, 3, 5, 7, 1000]) assert.deepEqual(parse(size), expected, `chunk size ${size}`);
  });

  test('UTF-8 byte order mark is not part of the first column name', async () => {
    const plain = write('plain.csv', chunkedCsv());
    const bom = write('bom.csv', '\uFEFF' + chunkedCsv());
    const a = await readDataset(plain, { chunkSize: STEPS });
    const b = await readDataset(bom, { chunkSize: STEPS });
    assert.equal(b.dataset.attributes[0].name, 'isp');
    assert.deepEqual(b.dataset, { ...a.dataset });
  });

  test('delimiter sniffing: semicolon, tab (.txt and .tsv) and pipe read the same as comma', async () => {
    const comma = chunkedCsv();
    const reference = (await readDataset(write('comma.csv', comma), { chunkSize: STEPS })).dataset;
    for (const [name, delimiter] of [
      ['semi.csv', ';'],
      ['tab.txt', '\t'],
      ['tab.tsv', '\t'],
      ['pipe.csv', '|'],
    ]) {
      const file = write(name, comma.replaceAll(',', delimiter));
      const { dataset } = await readDataset(file, { chunkSize: STEPS });
      assert.deepEqual(dataset, reference, `${name} differs`);
    }
    // A quoted comma inside a semicolon file does not fool the sniffer.
    const tricky = write('tricky.csv', 'isp;tier;traffic;proto\n"A, Inc";1;2;x\n"A, Inc";1;3;y\n');
    const { dataset } = await readDataset(tricky, { chunkSize: 2 });
    assert.equal(dataset.series[0].attributes[0], 'A, Inc');
  });

  test('CRLF line endings and blank lines are handled; line numbers still match the file', async () => {
    const text = 'id,t,v\r\n1,0,1\r\n\r\n1,1,2\r\n1,2,oops\r\n' + Array.from({ length: 30 }, (_, i) => `2,${i},${i}`).join('\r\n');
    const file = write('crlf.csv', text);
    // 'oops' sits on line 5 (line 3 is blank).
    await rejects(readDataset(file, { idColumn: 'id', timeColumn: 't' }), [/line 5/, /'oops' is not a number/], { row: 5, column: 'v' });
  });

  test('an unclosed quote and a short row are errors naming the line', async () => {
    await rejects(readDataset(write('unclosed.csv', 'id,v\n1,2\n1,"open\n1,3\n'), { idColumn: 'id' }), [/line 3/, /never closed/], { row: 3 });
    await rejects(readDataset(write('short.csv', 'id,v,w\n1,2,3\n1,2\n'), { idColumn: 'id' }), [/line 3/, /2 fields but the header has 3/], { row: 3 });
  });
});

describe('layouts', () => {
  test('long (scrambled rows, time column), chunked and wide give the same Dataset', async () => {
    const long = write('long.csv', csv([['id', 't', 'isp', 'tier', 'traffic', 'proto'], ...shuffledLongRows()]));
    const fromLong = await readDataset(long, { idColumn: 'id', timeColumn: 't' });
    const fromChunks = await readDataset(write('chunks.csv', chunkedCsv()), { chunkSize: STEPS });
    const fromWide = await readDataset(write('wide.csv', wideCsv()));

    assert.deepEqual(fromLong.dataset.schema.layout, { kind: 'long', idColumn: 'id', timeColumn: 't' });
    assert.deepEqual(fromChunks.dataset.schema.layout, { kind: 'long-chunked', chunkSize: STEPS });
    assert.deepEqual(fromWide.dataset.schema.layout, { kind: 'wide' });
    assert.deepEqual(comparable(fromLong.dataset), comparable(fromChunks.dataset));
    assert.deepEqual(comparable(fromWide.dataset), comparable(fromChunks.dataset));

    // And it is the data that was written, with roles and kinds inferred.
    const d = fromLong.dataset;
    assert.deepEqual(
      d.attributes.map((c) => [c.name, c.kind, c.role]),
      [
        ['isp', 'categorical', 'attribute'],
        ['tier', 'continuous', 'attribute'],
      ],
    );
    assert.deepEqual(
      d.features.map((c) => [c.name, c.kind, c.role]),
      [
        ['traffic', 'continuous', 'feature'],
        ['proto', 'categorical', 'feature'],
      ],
    );
    assert.deepEqual(d.attributes[0].categories, ['Charter', 'Verizon']);
    assert.deepEqual([d.attributes[1].min, d.attributes[1].max], [25.5, 100]);
    assert.deepEqual(d.features[1].categories, ['tcp', 'udp']);
    SERIES.forEach((s, id) => {
      const series = d.series.find((x) => x.id === String(id))!;
      assert.deepEqual(series.attributes, [s.isp, s.tier]);
      assert.deepEqual(
        featureRows(series),
        s.traffic.map((x, t) => [x, s.proto[t]]),
      );
      // Stored as columns: numbers in a Float64Array, labels in a string array, one entry per step.
      assert.equal(series.length, s.traffic.length);
      assert.ok(series.features[0] instanceof Float64Array);
      assert.deepEqual(series.features[1], s.proto);
      assert.deepEqual(Array.from(series.times!), [0, 1, 2, 3]);
    });
    // Long series come in order of first appearance.
    assert.deepEqual(
      d.series.map((s) => s.id),
      ['0', '1', '2'],
    );
    assert.deepEqual(fromWide.dataset.features[0].wideColumns, ['traffic_0', 'traffic_1', 'traffic_2', 'traffic_3']);
  });

  test('wide schema round trip: wideColumns in the schema JSON read back the same Dataset', async () => {
    const file = write('wide-rt.csv', wideCsv());
    const { schema } = await inspectFile(file);
    const schemaFile = write('wide.schema.json', JSON.stringify(schema));
    const viaSchema = await readDataset(file, { schema: loadSchemaFile(schemaFile) });
    assert.deepEqual(viaSchema.dataset, (await readDataset(file)).dataset);
    assert.deepEqual(schema.columns.find((c) => c.name === 'proto')!.wideColumns, ['proto[0]', 'proto[1]', 'proto[2]', 'proto[3]']);
  });

  test('series whose rows are consecutive: steps out of order are sorted; a time-like column that repeats leaves the file order', async () => {
    // Each series' rows are together (no row order array is made until a series needs sorting).
    const sorted = await readDataset(write('consecutive.csv', 'id,step,v\nA,2,30\nA,0,10\nA,1,20\nB,0,1\nB,1,2\n'), { idColumn: 'id' });
    assert.deepEqual(
      sorted.dataset.series.map((s) => [Array.from(s.times!), Array.from(s.features[0] as Float64Array)]),
      [
        [
          [0, 1, 2],
          [10, 20, 30],
        ],
        [
          [0, 1],
          [1, 2],
        ],
      ],
    );
    // 't' is out of order in A (sorted, then put back) and repeats in B: not the time column, rows as in the file.
    const kept = await readDataset(write('repeats.csv', 'id,t,v\nA,2,30\nA,0,10\nA,1,20\nB,0,1\nB,0,2\n'), { idColumn: 'id' });
    assert.ok(kept.report.warnings.some((w) => /column 't' looks like time but repeats within series 'B'/.test(w)));
    assert.deepEqual(
      kept.dataset.series.map((s) => s.features.map((f) => Array.from(f as Float64Array))),
      [
        [
          [2, 0, 1],
          [30, 10, 20],
        ],
        [
          [0, 0],
          [1, 2],
        ],
      ],
    );
  });

  test('a column listed as a feature is not taken for the time column', async () => {
    const text = 'id,step,v\nA,0,1\nA,1,2\nB,0,3\nB,1,4\n';
    const inferred = await readDataset(write('step.csv', text), { idColumn: 'id' });
    assert.equal(inferred.dataset.schema.layout.kind === 'long' && inferred.dataset.schema.layout.timeColumn, 'step');
    const forced = await readDataset(write('step2.csv', text), { idColumn: 'id', features: ['step', 'v'] });
    assert.deepEqual(
      forced.dataset.features.map((c) => c.name),
      ['step', 'v'],
    );
    assert.equal(forced.dataset.series[0].times, undefined);
  });

  test('free text with more distinct values than can be categories is ignored, or an error when asked for', async () => {
    const lines = ['id,t,v,note'];
    for (let i = 0; i < 51_000; i++) lines.push(`${Math.floor(i / 10)},${i % 10},${(i * 37) % 101},run ${i} fine`);
    const file = write('freetext.csv', lines.join('\n'));
    const inspection = await inspectFile(file);
    assert.equal(inspection.schema.columns.find((c) => c.name === 'note')!.role, 'ignore');
    assert.ok(inspection.warnings.some((w) => /'note' has more than 50,000 distinct text values/.test(w)));
    await rejects(readDataset(file, { features: ['v', 'note'] }), [/'note' has more than 50,000 distinct text values/], { column: 'note' });
  });

  test('wide rows may end early: trailing empty steps shorten that series', async () => {
    const text = 'id,isp,v_1,v_2,v_3\na,X,1,2,3\nb,Y,4,,\n';
    const { dataset } = await readDataset(write('wide-short.csv', text));
    assert.deepEqual(
      dataset.series.map((s) => [s.id, s.length]),
      [
        ['a', 3],
        ['b', 1],
      ],
    );
    assert.deepEqual(
      dataset.series.map((s) => s.features[0].length),
      [3, 1],
    );
    assert.deepEqual(dataset.schema.layout, { kind: 'wide', idColumn: 'id' });
  });

  test('ISO date time column: rows are sorted by it and times are given back as written', async () => {
    const text = 'id,when,v\nA,2024-01-03,3\nA,2024-01-01,1\nA,2024-01-02T00:00:00Z,2\nB,2024-01-01,5\nB,2024-01-02,6\n';
    const { dataset } = await readDataset(write('dates.csv', text), { idColumn: 'id' });
    assert.deepEqual(dataset.schema.layout, { kind: 'long', idColumn: 'id', timeColumn: 'when' });
    assert.deepEqual(dataset.series[0].times, ['2024-01-01', '2024-01-02T00:00:00Z', '2024-01-03']);
    assert.deepEqual(featureRows(dataset.series[0]), [[1], [2], [3]]);
  });

  test('no id, no chunk size and no numbered columns: an error saying what to pass', async () => {
    await rejects(readDataset(write('nolayout.csv', 'a,b\n1,2\n3,4\n')), [/series id column/, /chunk size/, /columns are: a, b/]);
  });
});

describe('Parquet and Arrow', () => {
  // Long data with a missing traffic value (null / empty cell) and ISO timestamps.
  const stamps = ['2024-03-01T00:00:00.000Z', '2024-03-01T01:00:00.000Z', '2024-03-01T02:00:00.000Z', '2024-03-01T03:00:00.000Z'];
  const rows = longRows().map((r, i) => ({
    id: Number(r[0]),
    ts: stamps[Number(r[1])],
    isp: String(r[2]),
    tier: Number(r[3]),
    traffic: i === 5 ? null : Number(r[4]),
    proto: String(r[5]),
  }));

  function arrowTable(): Table {
    return new Table({
      id: vectorFromArray(
        rows.map((r) => r.id),
        new Int32(),
      ),
      ts: vectorFromArray(
        rows.map((r) => new Date(r.ts)),
        new TimestampMillisecond(),
      ),
      isp: vectorFromArray(
        rows.map((r) => r.isp),
        new Dictionary(new Utf8(), new Int32()),
      ),
      tier: vectorFromArray(
        rows.map((r) => r.tier),
        new Float64(),
      ),
      traffic: vectorFromArray(
        rows.map((r) => r.traffic),
        new Float64(),
      ),
      proto: vectorFromArray(
        rows.map((r) => r.proto),
        new Utf8(),
      ),
    });
  }
  const csvText = () => csv([['id', 'ts', 'isp', 'tier', 'traffic', 'proto'], ...rows.map((r) => [r.id, r.ts, r.isp, r.tier, r.traffic ?? '', r.proto])]);
  const options: ReadOptions = { idColumn: 'id', timeColumn: 'ts' };

  test('Parquet (ZSTD and uncompressed), Arrow IPC file and stream read the same as CSV', async () => {
    const fromCsv = await readDataset(write('typed.csv', csvText()), options);
    assert.equal(fromCsv.report.missingInterpolated, 1);
    // Row 5 is series 1 step 1: traffic interpolated between 1 and 3.
    assert.equal(fromCsv.dataset.series[1].features[0][1], 2);

    const ipcStream = tableToIPC(arrowTable(), 'stream');
    const zstd = new parquetWasm.WriterPropertiesBuilder().setCompression(parquetWasm.Compression.ZSTD).build();
    const plain = new parquetWasm.WriterPropertiesBuilder().setCompression(parquetWasm.Compression.UNCOMPRESSED).build();
    const files = [
      write('typed-zstd.parquet', parquetWasm.writeParquet(parquetWasm.Table.fromIPCStream(ipcStream), zstd)),
      write('typed-plain.parquet', parquetWasm.writeParquet(parquetWasm.Table.fromIPCStream(ipcStream), plain)),
      write('typed.arrow', tableToIPC(arrowTable(), 'file')),
      write('typed.feather', tableToIPC(arrowTable(), 'file')),
      write('typed.ipc', ipcStream),
    ];
    for (const file of files) {
      const { dataset, report } = await readDataset(file, options);
      assert.deepEqual(dataset, fromCsv.dataset, `${path.basename(file)} differs from the CSV`);
      assert.equal(report.missingInterpolated, 1);
    }
  });

  test('Parquet and Arrow errors name the 0-based record index', async () => {
    const t = arrowTable();
    const file = write('attr.parquet', parquetWasm.writeParquet(parquetWasm.Table.fromIPCStream(tableToIPC(t, 'stream'))));
    // proto varies within series 0 (records 0..3): forced to be an attribute it must fail at record 1.
    await rejects(readDataset(file, { ...options, attributes: ['proto'], features: ['traffic'] }), [/series '0'/, /'tcp' on record 0 \(0-based\)/, /'udp' on record 1 \(0-based\)/], {
      row: 1,
      column: 'proto',
    });
    const arrow = write('attr.arrow', tableToIPC(t, 'file'));
    await rejects(readDataset(arrow, { ...options, attributes: ['proto'], features: ['traffic'] }), [/record 1 \(0-based\)/], { row: 1 });
  });

  test('a Parquet file with no records is an error', async () => {
    const empty = new Table({ id: vectorFromArray([], new Int32()), v: vectorFromArray([], new Float64()) });
    const file = write('empty.parquet', parquetWasm.writeParquet(parquetWasm.Table.fromIPCStream(tableToIPC(empty, 'stream'))));
    await rejects(readDataset(file, { idColumn: 'id' }), [/no records/]);
  });
});

describe('MBA data', () => {
  test('inference on fcc_mba.csv with chunks of 56: kinds, roles, categories, case warning', async () => {
    const inspection = await inspectFile(MBA, { chunkSize: 56 });
    const roles = Object.fromEntries(inspection.schema.columns.map((c) => [c.name, `${c.kind}/${c.role}`]));
    assert.deepEqual(roles, {
      isp: 'categorical/attribute',
      technology: 'categorical/attribute',
      state: 'categorical/attribute',
      traffic_byte_counter: 'continuous/feature',
      ping_loss_rate: 'continuous/feature',
    });
    assert.equal(inspection.series, 600);
    assert.deepEqual(inspection.lengths, { min: 56, max: 56, mean: 56 });
    const state = inspection.schema.columns.find((c) => c.name === 'state')!;
    assert.equal(state.categories!.length, 47);
    assert.ok(state.categories!.includes('AL') && state.categories!.includes('Al'), 'case variants are not merged');
    assert.deepEqual(inspection.schema.columns.find((c) => c.name === 'technology')!.categories, ['Cable', 'DSL', 'Fiber', 'Satellite']);
    const caseWarning = inspection.warnings.find((w) => w.includes("column 'state'") && w.includes('differ only by case'));
    assert.ok(caseWarning, `no case warning in ${JSON.stringify(inspection.warnings)}`);
    assert.match(caseWarning!, /'AL' \(\d+ rows\) \/ 'Al'/);
    const loss = inspection.stats.find((s) => s.name === 'ping_loss_rate')!;
    assert.equal(loss.count, 33600);
    assert.ok(loss.min === 0 && loss.max! <= 1);
    assert.match(formatSchemaSummary(inspection), /traffic_byte_counter\s+continuous\s+feature/);
  });

  test('fcc_mba.csv loads as 600 series x 56 steps with the named attributes and features', async () => {
    const { dataset, report } = await readDataset(MBA, {
      chunkSize: 56,
      attributes: ['isp', 'technology', 'state'],
      features: ['traffic_byte_counter', 'ping_loss_rate'],
    });
    assert.equal(dataset.series.length, 600);
    assert.ok(dataset.series.every((s) => s.length === 56 && s.features.every((c) => c.length === 56) && s.attributes.length === 3));
    assert.deepEqual(
      dataset.series.slice(0, 3).map((s) => s.id),
      ['0', '1', '2'],
    );
    assert.equal(report.rows, 33600);
    // Check against the file's own text: row 56*k+t is series k step t.
    const lines = fs.readFileSync(MBA, 'utf8').split('\n');
    for (const [k, t] of [
      [0, 0],
      [1, 3],
      [599, 55],
    ]) {
      const cells = lines[1 + 56 * k + t].split(',');
      const s = dataset.series[k];
      assert.deepEqual(featureRows(s)[t], [Number(cells[0]), Number(cells[1])]);
      assert.deepEqual(s.attributes, [cells[2], cells[3], cells[4].trim()]);
    }
  });

  test('train.csv: long layout with --id series_id --time step', async () => {
    const { dataset } = await readDataset(MBA_TRAIN, { idColumn: 'series_id', timeColumn: 'step' });
    assert.equal(dataset.series.length, 480);
    assert.ok(dataset.series.every((s) => s.length === 56 && s.features.every((c) => c.length === 56)));
    assert.ok(dataset.series.every((s) => s.times!.every((x, t) => x === t)));
    const firstId = fs.readFileSync(MBA_TRAIN, 'utf8').split('\n')[1].split(',')[0];
    assert.equal(dataset.series[0].id, firstId);
    assert.equal(new Set(dataset.series.map((s) => s.id)).size, 480);
    assert.deepEqual(
      dataset.attributes.map((c) => c.name),
      ['isp', 'technology', 'state'],
    );
  });
});

describe('schema JSON', () => {
  test('round trip: inspectFile schema -> JSON file -> loadSchemaFile -> readDataset gives the same Dataset', async () => {
    const options: ReadOptions = { idColumn: 'series_id', timeColumn: 'step' };
    const { schema } = await inspectFile(MBA_TRAIN, options);
    const schemaFile = path.join(dir, 'train.schema.json');
    fs.writeFileSync(schemaFile, JSON.stringify(schema, null, 2));
    const loaded = loadSchemaFile(schemaFile);
    assert.deepEqual(loaded, schema);
    const viaSchema = await readDataset(MBA_TRAIN, { schema: loaded });
    const viaOptions = await readDataset(MBA_TRAIN, options);
    assert.deepEqual(viaSchema.dataset, viaOptions.dataset);
    assert.deepEqual(viaSchema.dataset.schema, schema);
  });

  test('a schema overrides inference: roles and kinds as declared', async () => {
    const { schema } = await inspectFile(MBA_TRAIN, { idColumn: 'series_id', timeColumn: 'step' });
    const edited: Schema = structuredClone(schema);
    edited.columns = edited.columns.map((c) => (c.name === 'technology' ? { name: c.name, kind: c.kind, role: 'ignore' } : c));
    const ping = edited.columns.find((c) => c.name === 'ping_loss_rate')!;
    Object.assign(ping, { kind: 'categorical', min: undefined, max: undefined });
    delete ping.min;
    delete ping.max;
    const file = path.join(dir, 'edited.schema.json');
    fs.writeFileSync(file, JSON.stringify(edited));
    const { dataset } = await readDataset(MBA_TRAIN, { schema: loadSchemaFile(file) });
    assert.deepEqual(
      dataset.attributes.map((c) => c.name),
      ['isp', 'state'],
    );
    assert.equal(dataset.features[1].kind, 'categorical');
    assert.equal(typeof dataset.series[0].features[1][0], 'string');
    assert.ok(dataset.features[1].categories!.includes('0.0'));
  });

  test('schema file problems: unknown fields, bad kinds, inconsistent layout', () => {
    const base = {
      version: 1,
      layout: { kind: 'long', idColumn: 'id' },
      columns: [
        { name: 'id', kind: 'id', role: 'id' },
        { name: 'v', kind: 'continuous', role: 'feature' },
      ],
      maxLength: 10,
      longSeries: 'split',
      missing: 'interpolate',
    };
    const load = (schema: unknown) => () => loadSchemaFile(write('s.json', JSON.stringify(schema)));
    assert.doesNotThrow(load(base));
    assert.throws(load({ ...base, colums: [] }), /unknown field 'colums'/);
    assert.throws(load({ ...base, columns: [base.columns[0], { name: 'v', kind: 'continuous', role: 'feature', rol: 'x' }] }), /columns\[1\] \('v'\): unknown field 'rol'/);
    assert.throws(load({ ...base, columns: [base.columns[0], { name: 'v', kind: 'number', role: 'feature' }] }), /columns\[1\] \('v'\)\.kind: must be one of/);
    assert.throws(load({ ...base, layout: { kind: 'long', idColumn: 'series' } }), /layout\.idColumn: 'series' must be listed in columns/);
    assert.throws(load({ ...base, version: 2 }), /version: must be 1/);
    assert.throws(
      () => loadSchemaFile(write('bad.json', '{"version": 1,')),
      (e: unknown) => e instanceof DataError && /not valid JSON/.test(e.message),
    );
  });

  test('a schema naming columns the file lacks: error listing the file columns', async () => {
    const file = write('few.csv', 'id,v\n1,2\n1,3\n');
    const schema = validSchemaFor(['id', 'v', 'bw']);
    await rejects(readDataset(file, { schema }), [/schema names column 'bw'/, /file's columns are: id, v/], { column: 'bw' });
  });

  test('a label outside the schema categories is an error naming row and column', async () => {
    const file = write('cats.csv', 'id,p\n1,tcp\n1,udp\n1,icmp\n');
    const schema: Schema = {
      ...validSchemaFor(['id']),
      columns: [
        { name: 'id', kind: 'id', role: 'id' },
        { name: 'p', kind: 'categorical', role: 'feature', categories: ['tcp', 'udp'] },
      ],
    };
    await rejects(readDataset(file, { schema }), [/line 4/, /column 'p'/, /'icmp' is not one of the schema's categories/], { row: 4, column: 'p' });
  });
});

/** A minimal long-layout schema: first name is the id, the rest continuous features. */
function validSchemaFor(names: string[]): Schema {
  return {
    version: 1,
    layout: { kind: 'long', idColumn: names[0] },
    columns: [{ name: names[0], kind: 'id', role: 'id' }, ...names.slice(1).map((name) => ({ name, kind: 'continuous' as const, role: 'feature' as const }))],
    maxLength: 100,
    longSeries: 'split',
    missing: 'interpolate',
  };
}

describe('validation errors', () => {
  test('missing columns named in options: error listing the file columns', async () => {
    const file = write('cols.csv', 'id,v\n1,2\n');
    await rejects(readDataset(file, { idColumn: 'series' }), [/'series' is not in the file/, /columns are: id, v/], { column: 'series' });
    await rejects(readDataset(file, { idColumn: 'id', features: ['v', 'bw'] }), [/'bw' is not in the file/, /columns are: id, v/], { column: 'bw' });
  });

  test('text in a numeric column: row, column, value and the fix', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => [Math.floor(i / 10), i % 10, i * 1.5]);
    rows[15][2] = 'abc' as unknown as number; // data row 16 = line 17
    const file = write('text.csv', csv([['id', 't', 'bw'], ...rows]));
    const message = /line 17, column 'bw': 'abc' is not a number; fix the value/;
    await rejects(readDataset(file, { idColumn: 'id', timeColumn: 't' }), [message], { row: 17, column: 'bw' });
    const schema = validSchemaFor(['id', 'bw']);
    await rejects(readDataset(file, { schema }), [message, /declare the column categorical in the schema/], { row: 17, column: 'bw' });
  });

  test('an attribute that varies inside a series: names the series, both values and rows', async () => {
    const file = write('vary.csv', 'id,t,isp,v\nA,0,X,1\nA,1,X,2\nB,0,Y,3\nB,1,Z,4\n');
    await rejects(readDataset(file, { idColumn: 'id', timeColumn: 't', attributes: ['isp'], features: ['v'] }), [/column 'isp' is an attribute/, /series 'B' has 'Y' on line 4 and 'Z' on line 5/], {
      row: 5,
      column: 'isp',
    });
  });

  test('duplicate time stamps in a series', async () => {
    const file = write('dup.csv', 'id,t,v\nA,0,1\nA,1,2\nB,0,3\nA,1,4\n');
    await rejects(readDataset(file, { idColumn: 'id', timeColumn: 't' }), [/series 'A' has time '1' twice, on line 3 and line 5/], { row: 5, column: 't' });
  });

  test('empty input: no bytes, or a header only', async () => {
    await rejects(readDataset(write('empty.csv', '')), [/empty/]);
    await rejects(readDataset(write('header.csv', 'id,t,v\n'), { idColumn: 'id' }), [/header but no data rows/]);
    await rejects(readDataset(write('blank.csv', 'id,t,v\n\n\n'), { idColumn: 'id' }), [/header but no data rows/]);
  });

  test('series longer than maxLength are split or truncated, counted and warned', async () => {
    const rows = [...Array.from({ length: 7 }, (_, t) => ['A', t, t]), ...Array.from({ length: 3 }, (_, t) => ['B', t, 10 + t])];
    const file = write('longseries.csv', csv([['id', 't', 'v'], ...rows]));
    const split = await readDataset(file, { idColumn: 'id', timeColumn: 't', maxLength: 3 });
    assert.deepEqual(
      split.dataset.series.map((s) => [s.id, s.length, s.features[0].length]),
      [
        ['A#0', 3, 3],
        ['A#1', 3, 3],
        ['A#2', 1, 1],
        ['B', 3, 3],
      ],
    );
    assert.deepEqual(featureRows(split.dataset.series[1]), [[3], [4], [5]]);
    assert.deepEqual(Array.from(split.dataset.series[1].times!), [3, 4, 5]);
    assert.equal(split.report.seriesSplit, 1);
    assert.equal(split.report.series, 4);
    assert.ok(split.report.warnings.some((w) => /1 series longer than 3 steps were split into 3 pieces/.test(w)));

    const cut = await readDataset(file, { idColumn: 'id', timeColumn: 't', maxLength: 3, longSeries: 'truncate' });
    assert.deepEqual(
      cut.dataset.series.map((s) => [s.id, s.length, s.features[0].length]),
      [
        ['A', 3, 3],
        ['B', 3, 3],
      ],
    );
    assert.equal(cut.report.seriesTruncated, 1);
    assert.ok(cut.report.warnings.some((w) => /truncated/.test(w)));
  });

  test('missing feature values: interpolated (linear, edges copied, categorical carried) or rows dropped', async () => {
    const text = 'id,t,v,p\nA,0,,x\nA,1,2,NA\nA,2,NaN,y\nA,3,null,\nA,4,8,z\nA,5,,z\nB,0,1,q\nB,1,2,q\n';
    const file = write('missing.csv', text);
    const filled = await readDataset(file, { idColumn: 'id', timeColumn: 't' });
    assert.deepEqual(featureRows(filled.dataset.series[0]), [
      [2, 'x'],
      [2, 'x'],
      [4, 'y'],
      [6, 'y'],
      [8, 'z'],
      [8, 'z'],
    ]);
    assert.equal(filled.report.missingInterpolated, 6);
    assert.equal(filled.report.missingRowsDropped, 0);

    const dropped = await readDataset(file, { idColumn: 'id', timeColumn: 't', missing: 'drop' });
    assert.deepEqual(featureRows(dropped.dataset.series[0]), [[8, 'z']]);
    assert.deepEqual(Array.from(dropped.dataset.series[0].times!), [4]);
    assert.equal(dropped.report.missingRowsDropped, 5);
    assert.equal(dropped.report.missingInterpolated, 0);
  });

  test('a feature with no value at all in a series cannot be interpolated', async () => {
    const file = write('allmissing.csv', 'id,t,v,w\nA,0,,1\nA,1,,2\nB,0,1,3\nB,1,2,4\n');
    await rejects(readDataset(file, { idColumn: 'id', timeColumn: 't' }), [/series 'A' has no value at all for feature 'v'/], { column: 'v' });
  });

  test('a missing attribute value is an error naming the row (also for categorical attributes)', async () => {
    const file = write('missattr.csv', 'id,t,isp,v\nA,0,X,1\nA,1,,2\nB,0,Y,3\nB,1,Y,4\n');
    await rejects(readDataset(file, { idColumn: 'id', timeColumn: 't', attributes: ['isp'], features: ['v'] }), [/line 3, column 'isp' \(series 'A'\): the attribute value is missing/], {
      row: 3,
      column: 'isp',
    });
  });

  test('a chunk size that does not divide the row count is an error with the counts', async () => {
    const file = write('chunk.csv', 'v,w\n1,1\n2,2\n3,3\n4,4\n5,5\n');
    await rejects(readDataset(file, { chunkSize: 2 }), [/5 data rows is not a multiple of the chunk size 2/, /2 full chunks and 1 rows left over/]);
  });

  test('a row without a series id is an error', async () => {
    const file = write('noid.csv', 'id,v\nA,1\n,2\n');
    await rejects(readDataset(file, { idColumn: 'id' }), [/line 3/, /series id column 'id' is empty/], { row: 3, column: 'id' });
  });
});

/**
 * Full garbage collections without --expose-gc on the command line, so retained memory can be measured;
 * the pauses let V8 free the backing stores of dead typed arrays, which happens after the collection.
 */
async function collectGarbage(): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let k = 0; k < 3; k++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The JS heap, and all memory held: the heap plus typed-array backing stores, which live outside it. */
function memoryInUse(): { heap: number; all: number } {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heap: heapUsed, all: heapUsed + arrayBuffers };
}

describe('streaming', () => {
  test('a ~100 MB CSV is read with memory growth well below the file size; the Dataset keeps < 60 bytes per step', async () => {
    const file = path.join(dir, 'big.csv');
    const isps = ['Windstream Communications', 'Verizon Wireless', 'Charter Spectrum', 'Frontier Communications', 'CenturyLink'];
    const fd = fs.openSync(file, 'w');
    // A measurement export: 2 features and 3 attributes wanted, plus the columns such exports carry along.
    fs.writeSync(fd, 'series_id,step,traffic,ping_loss,isp,technology,state,rtt_ms,jitter_ms,dns_ms,upload_bytes,download_bytes,probe_host,test_server,client_ip,city,firmware,note\n');
    let bytes = 0;
    let series = 0;
    while (bytes < 100e6) {
      let block = '';
      for (let k = 0; k < 40; k++, series++) {
        const attrs = `${isps[series % 5]},Fiber,MN`;
        for (let t = 0; t < 56; t++) {
          const x = ((series * 7919 + t * 104729) % 1000003) / 1000003;
          block +=
            `${series},${t},${x.toFixed(10)},${t % 17 === 0 ? x.toFixed(6) : '0.0'},${attrs},` +
            `${(20 + 30 * x).toFixed(3)},${(x * 4).toFixed(4)},${(5 + x).toFixed(3)},${Math.round(x * 1e7)},${Math.round(x * 9e7)},` +
            `probe-${series % 97}.example.net,server-${t % 5}.measure.example.org,10.${series % 256}.${t}.${(series * 7) % 256},` +
            `Oklahoma City,whitebox-fw-2.4.${series % 9}-stable,"scheduled run, completed without retries; upload and download ok"\n`;
        }
      }
      fs.writeSync(fd, block);
      bytes += block.length;
    }
    fs.closeSync(fd);
    const size = fs.statSync(file).size;

    // Peak heap, and peak memory with typed-array stores, sampled while reading (the reader yields between
    // chunks); heap and all memory retained after full GCs.
    const measure = async <T>(work: () => Promise<T>) => {
      await collectGarbage();
      const before = memoryInUse();
      const peak = { ...before };
      const sample = () => {
        const now = memoryInUse();
        peak.heap = Math.max(peak.heap, now.heap);
        peak.all = Math.max(peak.all, now.all);
      };
      const timer = setInterval(sample, 10);
      const result = await work();
      clearInterval(timer);
      sample();
      await collectGarbage();
      const after = memoryInUse();
      return {
        result,
        peakGrowth: peak.heap - before.heap,
        retained: after.heap - before.heap,
        peakGrowthAll: peak.all - before.all,
        retainedAll: after.all - before.all,
      };
    };
    const mb = (x: number) => `${(x / 1e6).toFixed(1)} MB`;

    const inspected = await measure(() => inspectFile(file, { idColumn: 'series_id', timeColumn: 'step' }));
    assert.equal(inspected.result.series, series);
    assert.ok(inspected.peakGrowth < 0.4 * size, `inspect: heap peaked at +${mb(inspected.peakGrowth)} for a ${mb(size)} file`);
    assert.ok(inspected.retainedAll < 0.05 * size, `inspect: memory kept +${mb(inspected.retainedAll)} for a ${mb(size)} file`);

    const read = await measure(() => readDataset(file, { idColumn: 'series_id', timeColumn: 'step', attributes: ['isp', 'technology', 'state'], features: ['traffic', 'ping_loss'] }));
    const steps = read.result.dataset.series.reduce((n, x) => n + x.length, 0);
    assert.equal(read.result.dataset.series.length, series);
    assert.equal(steps, series * 56);
    assert.ok(read.result.dataset.series.every((x) => x.features.every((column) => column instanceof Float64Array)));
    // What stays is the Dataset itself: 8 bytes per step per feature in Float64Array columns, the times
    // (a number per step) and a few hundred bytes per series; nothing proportional to the file's text or
    // unused columns (a row of this file is about 260 bytes; one array per step cost about 90 bytes).
    const perStep = read.retainedAll / steps;
    assert.ok(read.peakGrowth < 0.4 * size, `read: heap peaked at +${mb(read.peakGrowth)} for a ${mb(size)} file`);
    assert.ok(read.retainedAll < 0.2 * size, `read: memory kept +${mb(read.retainedAll)} for a ${mb(size)} file`);
    assert.ok(perStep < 60, `read: ${perStep.toFixed(1)} bytes kept per step (heap and typed arrays)`);
    // For scale: a 1 GB MBA-shaped file (two continuous features, ~37-byte rows) has about 27 M steps.
    const mbaSteps = 27e6;
    console.log(
      `streaming: ${mb(size)}, ${series} series, ${steps} steps; inspectFile heap peak +${mb(inspected.peakGrowth)} ` +
        `(with typed arrays +${mb(inspected.peakGrowthAll)}), kept +${mb(inspected.retainedAll)}; readDataset heap peak ` +
        `+${mb(read.peakGrowth)} (with typed arrays +${mb(read.peakGrowthAll)}), kept +${mb(read.retainedAll)} ` +
        `(${perStep.toFixed(1)} bytes per step: heap ${(read.retained / steps).toFixed(1)}, typed arrays ` +
        `${((read.retainedAll - read.retained) / steps).toFixed(1)}; 27 M steps of this shape would keep ${mb(perStep * mbaSteps)})`,
    );
  });
});

test('reading reports progress that rises to the whole file, in every format', async () => {
  const columns = { attributes: ['isp', 'technology', 'state'], features: ['traffic_byte_counter', 'ping_loss_rate'] };
  const { dataset } = await readDataset(MBA, { chunkSize: 56, ...columns });
  const { writeDataset } = await import('../core/export/index.ts');
  const expected = { csv: ['bytes', fs.statSync(MBA).size], parquet: ['rows', 600 * 56], arrow: ['record batches', 1] } as const;
  for (const format of ['csv', 'parquet', 'arrow'] as const) {
    const file = format === 'csv' ? MBA : path.join(dir, `progress.${format}`);
    if (format !== 'csv') await writeDataset(dataset, file);
    const calls: Array<[number, number, string]> = [];
    // the exported copies carry the series id and step columns
    const options: ReadOptions = format === 'csv' ? { chunkSize: 56, ...columns } : { idColumn: 'series_id', timeColumn: 'step', ...columns };
    await readDataset(file, options, (done, total, unit) => calls.push([done, total, unit]));
    assert.ok(calls.length > 0, `${format}: progress reported`);
    const [unit, total] = expected[format];
    assert.ok(
      calls.every(([, t, u]) => t === total && u === unit),
      `${format}: ${JSON.stringify(calls.slice(0, 3))}`,
    );
    assert.ok(
      calls.every(([d], i) => i === 0 || d >= calls[i - 1][0]),
      `${format}: rising`,
    );
    assert.equal(calls.at(-1)![0], total, `${format}: ends at the whole file`);
  }
});

test('an attribute of a few whole numbers is taken for codes (categorical, said why); --categorical/--continuous force a kind', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-codes-'));
  const file = path.join(dir, 'motes.csv');
  const lines = ['id,step,temp,mote,year,count'];
  for (let s = 0; s < 30; s++) for (let t = 0; t < 10; t++) lines.push(`s${s},${t},${(20 + Math.sin(t + s)).toFixed(2)},${(s % 4) + 1},${2000 + (s % 25)},${(s + t) % 3}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const inferred = await readDataset(file, {});
  const kindOf = (d: typeof inferred.dataset, name: string) => d.schema.columns.find((c) => c.name === name);
  assert.deepEqual([kindOf(inferred.dataset, 'mote')!.kind, kindOf(inferred.dataset, 'mote')!.categories], ['categorical', ['1', '2', '3', '4']]);
  assert.ok(inferred.report.warnings.some((w) => /column 'mote' holds only 4 distinct whole numbers and is constant within each series: taken as a categorical attribute/.test(w)));
  assert.equal(kindOf(inferred.dataset, 'year')!.kind, 'continuous', '25 distinct years are amounts');
  assert.equal(kindOf(inferred.dataset, 'count')!.kind, 'continuous', 'a feature of few whole numbers stays continuous');
  const inspected = await inspectFile(file, {});
  assert.ok(inspected.warnings.some((w) => /column 'count' holds only 3 distinct whole numbers; if they are codes rather than amounts, list it as categorical/.test(w)));
  assert.ok(
    inspected.warnings.some((w) => /column 'mote' .* taken as a categorical attribute/.test(w)),
    'inspect says so too',
  );

  const forced = await readDataset(file, { continuous: ['mote'], categorical: ['count', 'year'] });
  assert.deepEqual(
    ['mote', 'count', 'year'].map((n) => kindOf(forced.dataset, n)!.kind),
    ['continuous', 'categorical', 'categorical'],
  );
  assert.equal(kindOf(forced.dataset, 'year')!.categories!.length, 25);
  await assert.rejects(readDataset(file, { categorical: ['nope'] }), /the categorical column 'nope' is not in the file/);
  await assert.rejects(readDataset(file, { categorical: ['mote'], continuous: ['mote'] }), /listed both as categorical and as continuous/);
  await assert.rejects(readDataset(file, { continuous: ['id'] }), /series id or time column/);
  await assert.rejects(readDataset(file, { continuous: ['temp'], categorical: ['x'] }), /'x' is not in the file/);
  fs.writeFileSync(file, 'id,step,temp,kind\na,0,1.5,x\na,1,2.5,x\n');
  await assert.rejects(readDataset(file, { continuous: ['kind'] }), /'x' is not a number/);
});
