/**
 * Hostile input on real files: other encodings (UTF-16 with and without a byte order mark, UTF-32,
 * Latin-1, invalid UTF-8), decimal commas, binary data named .csv, numbers beyond float range, extreme
 * outliers, huge cells and categories, and the size of a generation against the free disk.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspectFile, readDataset } from '../core/data/index.ts';
import { rejects, tempFiles } from './fixtures/data-files.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dgBin = path.join(repo, 'bin', 'dg.js');

const { dir, write } = tempFiles('dg-hostile-');

/** Two series of four steps: city (attribute, with a non-ASCII name), load (continuous feature). */
const TEXT = ['id,city,load', 'a,Zürich,1.5', 'a,Zürich,2.5', 'a,Zürich,3', 'a,Zürich,4.25', 'b,Genève,10', 'b,Genève,11', 'b,Genève,12.5', 'b,Genève,9'].join('\r\n') + '\r\n';

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  for (let i = 0; i < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1], le[i]];
  return le;
}

async function assertReadsTheCities(file: string, options = {}) {
  const { dataset } = await readDataset(file, { idColumn: 'id', ...options });
  assert.deepEqual(
    dataset.attributes.map((c) => c.name),
    ['city'],
  );
  assert.deepEqual(
    dataset.features.map((c) => [c.name, c.kind]),
    [['load', 'continuous']],
  );
  assert.deepEqual(
    dataset.series.map((s) => s.attributes[0]),
    ['Zürich', 'Genève'],
  );
  assert.deepEqual(Array.from(dataset.series[1].features[0] as Float64Array), [10, 11, 12.5, 9]);
}

describe('encodings', () => {
  test('UTF-8 with and without a byte order mark', async () => {
    await assertReadsTheCities(write('plain.csv', TEXT));
    await assertReadsTheCities(write('bom.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(TEXT)])));
  });

  test('UTF-16 LE and BE, with a byte order mark or recognized by the NUL pattern, are decoded', async () => {
    await assertReadsTheCities(write('le-bom.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(TEXT, 'utf16le')])));
    await assertReadsTheCities(write('be-bom.csv', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(TEXT)])));
    await assertReadsTheCities(write('le.csv', Buffer.from(TEXT, 'utf16le')));
    await assertReadsTheCities(write('be.csv', utf16be(TEXT)));
    // a file bigger than a read chunk: characters cut between chunks are put back together
    const many = `id,city,load\n${Array.from({ length: 20_000 }, (_, i) => `s${i >> 4},Zürich,${i % 16}`).join('\n')}\n`;
    const { dataset } = await readDataset(write('le-big.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(many, 'utf16le')])), { idColumn: 'id' });
    assert.equal(dataset.series.length, 1250);
    assert.ok(dataset.series.every((s) => s.attributes[0] === 'Zürich'));
  });

  test('UTF-32 is refused with the reason', async () => {
    const le = Buffer.alloc(TEXT.length * 4);
    for (let i = 0; i < TEXT.length; i++) le.writeUInt32LE(TEXT.codePointAt(i)!, i * 4);
    await rejects(readDataset(write('u32-bom.csv', Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), le])), { idColumn: 'id' }), [/UTF-32 text .*byte order mark/]);
    const e = await rejects(readDataset(write('u32.csv', le), { idColumn: 'id' }), [/looks like UTF-32 text/]);
    assert.match(e.hint!.text, /re-save it as UTF-8/);
  });

  test('invalid UTF-8 is refused with its line and what to do; Latin-1 is read when asked', async () => {
    const latin1 = write('latin1.csv', Buffer.from(TEXT, 'latin1'));
    const e = await rejects(readDataset(latin1, { idColumn: 'id' }), [/line 2: the file is not valid UTF-8 \(bytes 0xFC/, /Latin-1/], { row: 2 });
    assert.deepEqual(e.hint, { text: 're-save it as UTF-8 (in a spreadsheet: Save As, CSV UTF-8), or read it as Latin-1', option: 'encoding', value: 'latin-1' });
    await assertReadsTheCities(latin1, { encoding: 'latin-1' });
    // deep in a big file, on a chunk boundary or not: the line is exact
    const lines = ['id,city,load', ...Array.from({ length: 30_000 }, (_, i) => `s${i >> 4},Zurich,${i % 16}`)];
    lines[25_001] = 's1562,Z\u00fcrich,1';
    const bytes = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
    await rejects(readDataset(write('late.csv', bytes), { idColumn: 'id' }), [/line 25002: the file is not valid UTF-8/], { row: 25_002 });
    // a file that ends inside a multi-byte sequence
    await rejects(readDataset(write('cut.csv', Buffer.concat([Buffer.from('id,city,load\na,Z,1\na,Z'), Buffer.from([0xc3])])), { idColumn: 'id' }), [
      /line 3: the file is not valid UTF-8 \(bytes 0xC3\)/,
    ]);
    // the CLI names the flag
    const cli = spawnSync(process.execPath, [dgBin, 'inspect', latin1, '--id', 'id'], { encoding: 'utf8' });
    assert.equal(cli.status, 1);
    assert.match(cli.stderr, /line 2: the file is not valid UTF-8.*\nhint: .*or read it as Latin-1 \(--encoding latin-1\)\n$/);
    const ok = spawnSync(process.execPath, [dgBin, 'inspect', latin1, '--id', 'id', '--encoding', 'latin-1', '--json'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout).schema.columns.find((c: { name: string }) => c.name === 'city').categories, ['Genève', 'Zürich']);
  });

  test("';'-delimited numbers with decimal commas are read as numbers, with a warning naming the column", async () => {
    const rows = ['id;site;load;count'];
    for (let i = 0; i < 40; i++) rows.push(`s${i >> 2};"Lyon, FR";${(i * 0.37).toFixed(2).replace('.', ',')};${i}`);
    const file = write('semicolon.csv', rows.join('\n') + '\n');
    const inspection = await inspectFile(file, { idColumn: 'id' });
    const load = inspection.stats.find((s) => s.name === 'load')!;
    assert.equal(load.kind, 'continuous');
    assert.equal(load.max, 14.43);
    assert.ok(
      inspection.warnings.some((w) => /column 'load' writes numbers with a decimal comma/.test(w)),
      inspection.warnings.join('\n'),
    );
    assert.ok(!inspection.warnings.some((w) => /'count'|'site'/.test(w) && /decimal comma/.test(w)));
    const { dataset } = await readDataset(file, { idColumn: 'id' });
    assert.deepEqual(Array.from(dataset.series[0].features[dataset.features.findIndex((f) => f.name === 'load')] as Float64Array), [0, 0.37, 0.74, 1.11]);
    assert.equal(dataset.series[0].attributes[0], 'Lyon, FR');
    // a cell that is no decimal-comma number: in the first 64 KB, a warning that the column is text
    const mixed = [...rows, 's10;"Lyon, FR";1.234,5;3'];
    const warned = await inspectFile(write('semicolon-mixed.csv', mixed.join('\n') + '\n'), { idColumn: 'id' });
    assert.equal(warned.stats.find((s) => s.name === 'load')!.kind, 'categorical');
    assert.ok(
      warned.warnings.some((w) => /column 'load' mostly holds numbers with a decimal comma \(like 2,86\) but also '1\.234,5', so it is read as text categories/.test(w)),
      warned.warnings.join('\n'),
    );
    // later in the file, a bad cell of a numeric column, named
    const long = ['id;load', ...Array.from({ length: 8000 }, (_, i) => `s${i >> 4};${i % 16},5`), 's500;1.234,5'];
    await rejects(readDataset(write('semicolon-bad.csv', long.join('\n') + '\n'), { idColumn: 'id' }), [/line 8002, column 'load': '1\.234,5' is not a number/], { row: 8002, column: 'load' });
  });

  test('binary data and other formats under a .csv name are called what they are', async () => {
    const binary = Buffer.alloc(4096);
    for (let i = 0; i < binary.length; i++) binary[i] = (i * 7919) % 256;
    await rejects(readDataset(write('random.csv', binary)), [/looks like a binary file, not text \(\d+ NUL and \d+ other control bytes in its first 1024 bytes\)/]);
    await rejects(readDataset(write('zeros.csv', Buffer.alloc(100_000))), [/looks like a binary file/]);
    await rejects(readDataset(write('gz.csv', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]))), [/gzip-compressed/]);
    await rejects(readDataset(write('parquet.csv', Buffer.from('PAR1\x15\x04\x15'))), [/this is a Parquet file, not CSV text/]);
    await rejects(readDataset(write('sheet.csv', Buffer.from('PK\x03\x04\x14\x00\x06\x00'))), [/ZIP archive \(an Excel \.xlsx is one\)/]);
  });
});

describe('numbers beyond float range and extreme outliers', () => {
  const rows = (load: (i: number) => string) => ['id,t,load', ...Array.from({ length: 40 }, (_, i) => `s${i >> 3},${i % 8},${load(i)}`)].join('\n') + '\n';

  test("1e400 is refused like 'inf', with file, row and column, when reading and inspecting", async () => {
    const file = write(
      'overflow.csv',
      rows((i) => (i === 17 ? '1e400' : String(i))),
    );
    await rejects(readDataset(file, { idColumn: 'id' }), [/line 19, column 'load': '1e400' is beyond the range of numbers \(about ±1\.8e308\), like 'inf'/], { row: 19, column: 'load' });
    await rejects(inspectFile(file, { idColumn: 'id' }), [/'1e400' is beyond the range/], { row: 19, column: 'load' });
    await rejects(
      readDataset(
        write(
          'overflow-neg.csv',
          rows((i) => (i === 3 ? '-2e308' : String(i))),
        ),
        { idColumn: 'id' },
      ),
      [/line 5, column 'load': '-2e308'/],
    );
    // the largest finite double still reads
    const { dataset } = await readDataset(
      write(
        'max.csv',
        rows((i) => (i === 3 ? '1.7976931348623157e308' : String(i))),
      ),
      { idColumn: 'id' },
    );
    assert.equal((dataset.series[0].features[0] as Float64Array)[3], Number.MAX_VALUE);
    // a column the options leave out is not checked
    const ignored = ['id,t,load,x', ...Array.from({ length: 40 }, (_, i) => `s${i >> 3},${i % 8},${i},1e999`)].join('\n') + '\n';
    const read = await readDataset(write('overflow-ignored.csv', ignored), { idColumn: 'id', features: ['load'] });
    assert.equal(read.dataset.series.length, 5);
  });

  test('Infinity in an Arrow float column is refused with its record and column', async () => {
    const { tableFromArrays, tableToIPC } = await import('apache-arrow');
    const table = tableFromArrays({ id: ['a', 'a', 'b', 'b'], load: Float64Array.from([1, 2, Number.POSITIVE_INFINITY, 4]) });
    await rejects(readDataset(write('inf.arrow', tableToIPC(table, 'file')), { idColumn: 'id' }), [/record 2 \(0-based\), column 'load': Infinity is beyond the range/], { row: 2, column: 'load' });
  });

  test('inspect flags an extreme outlier, naming the column and the row of the most extreme value', async () => {
    const inspect = async (load: (i: number) => string) => (await inspectFile(write('outlier.csv', rows(load)), { idColumn: 'id' })).warnings.filter((w) => /extreme value/.test(w));
    assert.deepEqual(await inspect((i) => String(i % 7)), []);
    assert.deepEqual(await inspect((i) => String(i * 1000)), [], 'a wide but ordinary spread');
    const [huge] = await inspect((i) => (i === 25 ? '1e300' : (i * 0.5).toFixed(1)));
    assert.match(huge, /column 'load' has an extreme value, 1e\+300 at line 27 \(beyond ±1e\+30\)/);
    const [far] = await inspect((i) => (i === 9 ? '-5e9' : String(10 + (i % 5))));
    assert.match(far, /column 'load' has an extreme value, -5000000000 at line 11 \(2\.5e\+9 interquartile ranges from the median 12\)/);
  });
});

describe('size guards', () => {
  test('an attribute with more categories than the limit is refused before the dataset is built, naming it and its count', async () => {
    const lines = ['id,t,router,load'];
    for (let s = 0; s < 10_001; s++) for (let t = 0; t < 2; t++) lines.push(`s${s},${t},r${s},${t}`);
    const file = write('categories.csv', lines.join('\n') + '\n');
    const e = await rejects(readDataset(file, { idColumn: 'id' }), [/the attribute 'router' has 10,001 categories, more than the 10,000 a model can encode/], { column: 'router' });
    assert.match(e.hint!.text, /role 'ignore'.*coarsen/);
    const inspection = await inspectFile(file, { idColumn: 'id' });
    assert.ok(
      inspection.warnings.some((w) => /'router' has 10,001 categories.*training would refuse it/.test(w)),
      inspection.warnings.join('\n'),
    );
    // left out, the rest reads
    const { dataset } = await readDataset(file, { idColumn: 'id', features: ['load'] });
    assert.equal(dataset.series.length, 10_001);
  });

  test('a cell longer than 64 KB is refused with its line and column, without reading it whole', async () => {
    const big = 'x'.repeat(70_000);
    await rejects(readDataset(write('long-cell.csv', `id,note,load\na,ok,1\na,${big},2\n`), { idColumn: 'id' }), [/line 3, column 'note': a cell longer than 64 KB/], { row: 3, column: 'note' });
    await rejects(readDataset(write('long-quoted.csv', `id,note,load\na,ok,1\na,"${big}\n${big}",2\n`), { idColumn: 'id' }), [/line 3, column 'note': a cell longer than 64 KB/]);
    // 50 MB on one line: refused as soon as 64 KB of the cell are read
    const started = performance.now();
    await rejects(readDataset(write('one-line.csv', `id,note\n${'y'.repeat(50 << 20)}`)), [/line 2, column 'id': a cell longer than 64 KB/]);
    assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
  });
});

describe('generation size', () => {
  test('dg generate -n 1e12 is refused before any work, with the estimate and the free space; a normal run logs its time and size', async () => {
    const { startTraining } = await import('../core/api/training.ts');
    const { generateToFile, estimateOutputBytes } = await import('../core/api/generate.ts');
    const { demoDataset } = await import('../core/data/demo.ts');
    const { writeDataset } = await import('../core/export/index.ts');
    const file = path.join(dir, 'lines.csv');
    await writeDataset(demoDataset({ series: 24, length: 12, seed: 5 }), file);
    const runDir = path.join(dir, 'run');
    await startTraining({ data: { file, options: { idColumn: 'line_id', timeColumn: 'hour' } }, runDir, iterations: 10, batchSize: 8, sampleLen: 4, engine: 'native', checkpointEvery: 10 });
    const out = path.join(dir, 'synthetic.csv');
    const started = performance.now();
    await assert.rejects(generateToFile({ runDir, n: 1e12, out }), (e: Error & { code?: string; hint?: { option?: string } }) => {
      assert.equal(e.code, 'invalid_argument');
      assert.match(e.message, /^1,000,000,000,000 series would write about [\d.]+ [TP]B \(12 steps per series\), but .* has [\d.]+ [KMGT]?B(ytes)? free$/);
      assert.equal(e.hint?.option, 'n');
      return true;
    });
    assert.ok(performance.now() - started < 1000, 'refused before generating');
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('synthetic')),
      [],
    );
    const cli = spawnSync(process.execPath, [dgBin, 'generate', runDir, '-n', '1000000000000', '--out', out], { encoding: 'utf8' });
    assert.equal(cli.status, 2, cli.stderr);
    assert.match(cli.stderr, /^dg: 1,000,000,000,000 series would write about .* free\nhint: generate fewer series \(about [\d,]+ fit\), or write to a disk with more room \(-n \d+\)\n$/);
    // the layout estimate is near the real size; several parts log the projected time and size
    const logs: string[] = [];
    const n = 90_000;
    const written = await generateToFile({ runDir, n, out }, { onLog: (m) => logs.push(m) });
    const size = fs.statSync(written.file).size;
    const estimate = estimateOutputBytes({ attributes: [{}, {}], features: [{}, {}], maxLength: 12 } as never, n, out);
    assert.ok(estimate > size / 3 && estimate < size * 3, `estimate ${estimate}, real ${size}`);
    assert.ok(
      logs.some((l) => /^90,000 series: about \d+ s and [\d.]+ MB \(from the first [\d,]+\)$/.test(l)),
      logs.join('\n'),
    );
  });
});
