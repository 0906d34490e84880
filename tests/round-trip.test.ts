/**
 * The round trip keeps what users gave: import -> train a few iterations (native engine) -> generate ->
 * export CSV and Parquet -> read back gives the time column in its own type, units and format, the
 * columns in the input's order, numbers at the input's precision and categorical codes as codes. Plus the
 * rules underneath: the time pattern (start, step, months) and the precision of exported numbers.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { generateToFile } from '../core/api/generate.ts';
import { startTraining } from '../core/api/training.ts';
import { formatSchemaSummary, inspectFile, readDataset, validateSchema, type ReadOptions } from '../core/data/index.ts';
import { decimalsOf, roundForExport } from '../core/data/precision.ts';
import { addMonths, describeStep, formatLike, inferTimePattern, timesOf, type SeriesStamps } from '../core/data/time-pattern.ts';
import type { Dataset } from '../core/data/types.ts';
import { writeDataset } from '../core/export/index.ts';
import { withTimes } from '../core/train/run-folder.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-round-trip-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A deterministic pseudo-random stream, so the files are the same at every run. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

const header = (text: string) => text.split('\n')[0].split(',');
const stamps = (xs: number[]): SeriesStamps => ({ length: xs.length, at: (t) => xs[t] });
const day = 86_400_000;

/**
 * Monthly panel: reordered columns (the id is not first, the time column is in the middle), a `date` time
 * column with first-of-month dates, money with 2 decimals, a rate with 3, a sector code declared categorical.
 */
function monthlyPanel(): string {
  const rand = random(7);
  const lines = ['revenue,sector,date,firm,margin'];
  for (let f = 0; f < 24; f++) {
    const sector = 1 + (f % 4);
    for (let m = 0; m < 8; m++) {
      const date = new Date(Date.UTC(2020, m, 1)).toISOString().slice(0, 10);
      lines.push(`${(100 + 50 * rand() + 10 * m).toFixed(2)},${sector},${date},firm-${f},${(0.1 + 0.2 * rand()).toFixed(3)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Yearly panel: `year` 1976..1984 as the time column (not named like time: given as an option), a whole-number feature. */
function yearlyPanel(): string {
  const rand = random(11);
  const lines = ['id,employees,year,sales'];
  for (let f = 0; f < 20; f++) {
    for (let y = 1976; y <= 1984; y++) lines.push(`c${f},${Math.round(100 + 400 * rand())},${y},${(1000 * rand()).toFixed(1)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Trains a few iterations on the native engine and generates n series into CSV and Parquet. */
async function roundTrip(name: string, content: string, options: ReadOptions, sampleLen: number, n = 16) {
  const file = path.join(dir, `${name}.csv`);
  fs.writeFileSync(file, content);
  const runDir = path.join(dir, `${name}-run`);
  await startTraining({ data: { file, options }, runDir, iterations: 4, batchSize: 8, sampleLen, engine: 'native', holdoutFraction: 0, seed: 3 });
  const csv = path.join(dir, `${name}-synthetic.csv`);
  const parquet = path.join(dir, `${name}-synthetic.parquet`);
  await generateToFile({ runDir, n, out: csv, seed: 5 });
  await generateToFile({ runDir, n, out: parquet, seed: 5 });
  return { file, csv, parquet };
}

/** Parquet column name -> physical type, from the file's own metadata. */
function parquetTypes(file: string): Record<string, string | undefined> {
  const bytes = fs.readFileSync(file);
  const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return Object.fromEntries(metadata.schema.slice(1).map((e) => [e.name, e.type]));
}

describe('round trip: import, train (native), generate, export, read back', () => {
  test('monthly dates, reordered columns, decimals and sector codes come back as given', async () => {
    const content = monthlyPanel();
    const file = path.join(dir, 'monthly-input.csv');
    fs.writeFileSync(file, content);
    // The sector code is declared categorical, as a person would in the written schema (through its JSON).
    const inspected = await inspectFile(file, { idColumn: 'firm' });
    const json = JSON.parse(JSON.stringify(inspected.schema));
    const sector = json.columns.find((c: { name: string }) => c.name === 'sector');
    Object.assign(sector, { kind: 'categorical', categories: ['1', '2', '3', '4'] });
    delete sector.min;
    delete sector.max;
    const schema = validateSchema(json, 'edited schema');
    assert.deepEqual(
      schema.columns.map((c) => c.name),
      ['revenue', 'sector', 'date', 'firm', 'margin'],
      "the schema keeps the input's column order",
    );
    assert.deepEqual(schema.columns.find((c) => c.name === 'date')!.time, { type: 'date', start: '2020-01-01', step: 1, unit: 'month' });
    assert.equal(schema.columns.find((c) => c.name === 'revenue')!.decimals, 2);
    assert.equal(schema.columns.find((c) => c.name === 'margin')!.decimals, 3);
    // inspect shows the dates as dates, not epoch milliseconds
    assert.match(formatSchemaSummary(inspected), /date\s+time\s+time\s+192\s+0\s+8\s+2020-01-01 \.\. 2020-08-01 \(step 1 month\)/);

    const { csv, parquet } = await roundTrip('monthly', content, { schema }, 4);
    const text = fs.readFileSync(csv, 'utf8');
    assert.deepEqual(header(text), ['firm', 'date', 'revenue', 'sector', 'margin'], 'id, time, then the input order');
    const months = ['2020-01-01', '2020-02-01', '2020-03-01', '2020-04-01', '2020-05-01', '2020-06-01', '2020-07-01', '2020-08-01'];
    const rows = text
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(','));
    assert.equal(rows.length, 16 * 8);
    rows.forEach((row, r) => {
      assert.equal(row[1], months[r % 8], 'dates continue the real pattern, written as the input wrote them');
      assert.match(row[2], /^\d+(\.\d{1,2})?$/, 'revenue at most 2 decimals');
      assert.match(row[3], /^[1-4]$/, 'sector codes as codes');
      assert.match(row[4], /^0(\.\d{1,3})?$/, 'margin at most 3 decimals');
    });

    const types = parquetTypes(parquet);
    assert.deepEqual(Object.keys(types), ['firm', 'date', 'revenue', 'sector', 'margin']);
    assert.equal(types.sector, 'INT32', 'integer category labels are written as integers');
    for (const back of [await readDataset(csv, { idColumn: 'firm' }), await readDataset(parquet, { idColumn: 'firm' })]) {
      const { dataset } = back;
      assert.deepEqual(
        dataset.schema.columns.map((c) => c.name),
        ['firm', 'date', 'revenue', 'sector', 'margin'],
      );
      assert.deepEqual(dataset.schema.columns.find((c) => c.name === 'date')!.time, { type: 'date', start: '2020-01-01', step: 1, unit: 'month' });
      assert.equal(dataset.series.length, 16);
      for (const series of dataset.series) assert.deepEqual(series.times, months);
      const sectorColumn = dataset.schema.columns.find((c) => c.name === 'sector')!;
      assert.equal(sectorColumn.kind, 'categorical', 'a few whole-number codes constant within each series read back as categories');
      assert.ok(sectorColumn.categories!.length > 0 && sectorColumn.categories!.every((c) => /^[1-4]$/.test(c)), `codes read back as whole numbers: ${sectorColumn.categories}`);
      assert.ok((dataset.schema.columns.find((c) => c.name === 'revenue')!.decimals ?? 99) <= 2);
    }
  });

  test('a year column as time comes back as years (integers, same start and step), not step numbers', async () => {
    const { csv, parquet } = await roundTrip('yearly', yearlyPanel(), { idColumn: 'id', timeColumn: 'year' }, 3);
    const text = fs.readFileSync(csv, 'utf8');
    assert.deepEqual(header(text), ['id', 'year', 'employees', 'sales']);
    const years = [1976, 1977, 1978, 1979, 1980, 1981, 1982, 1983, 1984];
    text
      .trim()
      .split('\n')
      .slice(1)
      .forEach((line, r) => {
        const [, year, employees, sales] = line.split(',');
        assert.equal(year, String(years[r % 9]));
        assert.match(employees, /^\d+$/, 'a whole-number column stays whole');
        assert.match(sales, /^\d+(\.\d)?$/, 'sales at most 1 decimal');
      });
    const types = parquetTypes(parquet);
    assert.deepEqual(Object.keys(types), ['id', 'year', 'employees', 'sales']);
    assert.equal(types.year, 'INT32');
    assert.equal(types.employees, 'INT32');
    assert.equal(types.sales, 'DOUBLE');
    const { dataset } = await readDataset(parquet, { idColumn: 'id', timeColumn: 'year' });
    assert.deepEqual(dataset.schema.columns.find((c) => c.name === 'year')!.time, { type: 'integer', start: 1976, step: 1 });
    for (const series of dataset.series) assert.deepEqual(Array.from(series.times!), years);
  });
});

describe('time pattern', () => {
  test('numbers: the most common start and step; whole numbers stay integers, others keep their decimals', () => {
    const years = inferTimePattern([stamps([1976, 1977, 1978]), stamps([1976, 1977]), stamps([1980, 1981, 1982, 1983])], 'number', () => '');
    assert.deepEqual(years, { type: 'integer', start: 1976, step: 1 });
    assert.deepEqual(timesOf(years!, 4), [1976, 1977, 1978, 1979]);
    const tenths = inferTimePattern([stamps([0.1, 0.2, 0.3]), stamps([0.1, 0.2])], 'number', () => '', 1);
    assert.deepEqual(tenths, { type: 'number', start: 0.1, step: 0.1, decimals: 1 });
    assert.deepEqual(timesOf(tenths!, 4), [0.1, 0.2, 0.3, 0.4], 'no binary noise (0.30000000000000004)');
    // a gap in one series does not change the common step
    assert.deepEqual(
      inferTimePattern([stamps([0, 5, 10, 20]), stamps([0, 5, 10])], 'number', () => ''),
      { type: 'integer', start: 0, step: 5 },
    );
  });

  test('dates: days and hours in milliseconds, months and years as calendar months, written in the input format', () => {
    const ms = (s: string) => Date.parse(s);
    const daily = inferTimePattern([stamps([ms('2024-02-27'), ms('2024-02-28'), ms('2024-02-29'), ms('2024-03-01')])], 'date', () => '2024-02-27', 0, true);
    assert.deepEqual(daily, { type: 'date', start: '2024-02-27', step: day, unit: 'ms' });
    assert.deepEqual(timesOf(daily!, 4), ['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01']);
    assert.equal(describeStep(daily!), '1 day');

    const yearly = inferTimePattern([stamps([ms('2019-07-01'), ms('2020-07-01'), ms('2021-07-01'), ms('2022-07-01')])], 'date', () => '2019-07-01', 0, true);
    assert.deepEqual(yearly, { type: 'date', start: '2019-07-01', step: 12, unit: 'month' });
    assert.equal(describeStep(yearly!), '1 year');
    assert.deepEqual(timesOf(yearly!, 2), ['2019-07-01', '2020-07-01']);

    const hourly = inferTimePattern([stamps([ms('2024-01-01T00:00:00Z'), ms('2024-01-01T06:00:00Z')])], 'date', () => '2024-01-01 00:00:00Z');
    assert.deepEqual(hourly, { type: 'datetime', start: '2024-01-01 00:00:00Z', step: 6 * 3_600_000, unit: 'ms' });
    assert.deepEqual(timesOf(hourly!, 5).slice(3), ['2024-01-01 18:00:00Z', '2024-01-02 00:00:00Z']);
    assert.equal(describeStep(hourly!), '6 hours');
  });

  test('formats and months: separators, seconds, fractions, offsets; month ends', () => {
    const at = Date.parse('2024-03-05T07:08:09.250Z');
    assert.equal(formatLike('2024-01-01', at), '2024-03-05');
    assert.equal(formatLike('2024-01-01T00:00', at), '2024-03-05T07:08');
    assert.equal(formatLike('2024-01-01 00:00:00', at), '2024-03-05 07:08:09');
    assert.equal(formatLike('2024-01-01T00:00:00.0Z', at), '2024-03-05T07:08:09.2Z');
    assert.equal(formatLike('2024-01-01T00:00:00.000000Z', at), '2024-03-05T07:08:09.250000Z');
    assert.equal(formatLike('2024-01-01T00:00:00+02:00', at), '2024-03-05T09:08:09+02:00', 'local time at the input offset');
    assert.equal(new Date(addMonths(Date.parse('2024-01-31'), 1)).toISOString().slice(0, 10), '2024-02-29');
    assert.equal(new Date(addMonths(Date.parse('2024-01-31'), 2)).toISOString().slice(0, 10), '2024-03-31');
  });

  test('generated series get the stamps of the schema pattern; without one, none', () => {
    const dataset = (time?: object): Dataset => ({
      schema: {
        version: 1,
        layout: { kind: 'long', idColumn: 'id', timeColumn: 'year' },
        columns: [
          { name: 'id', kind: 'id', role: 'id' },
          { name: 'year', kind: 'time', role: 'time', ...(time ? { time } : {}) } as never,
          { name: 'x', kind: 'continuous', role: 'feature', min: 0, max: 1 },
        ],
        maxLength: 3,
        longSeries: 'split',
        missing: 'interpolate',
      },
      attributes: [],
      features: [{ name: 'x', kind: 'continuous', role: 'feature', min: 0, max: 1 }],
      series: [3, 2].map((length, i) => ({ id: `s${i}`, attributes: [], length, features: [new Float64Array(length)] })),
    });
    const withPattern = withTimes(dataset({ type: 'integer', start: 1976, step: 2 }));
    assert.deepEqual(
      withPattern.series.map((s) => s.times),
      [
        [1976, 1978, 1980],
        [1976, 1978],
      ],
    );
    assert.equal(withTimes(dataset()).series[0].times, undefined);
  });
});

describe('precision', () => {
  test('decimals as written: plain, trailing zeros, exponents', () => {
    assert.equal(decimalsOf('12'), 0);
    assert.equal(decimalsOf('12.50'), 2);
    assert.equal(decimalsOf('-0.125'), 3);
    assert.equal(decimalsOf('1.5e-3'), 4);
    assert.equal(decimalsOf('2.5E3'), 0);
    assert.equal(decimalsOf('.5'), 1);
  });

  test("export rounds to the input's decimals, and float32 values to at most 9 significant digits", () => {
    assert.equal(roundForExport(12.345678912345, 2, true), 12.35);
    assert.equal(roundForExport(0.30000001192092896, undefined, true), 0.300000012, 'float32 noise cut at 9 digits');
    assert.equal(roundForExport(123456.78901234, 6, true), 123456.789, 'fewer than the decimals when float32 has fewer digits');
    assert.equal(roundForExport(0.1 + 0.2, undefined, false), 0.1 + 0.2, 'real values without recorded decimals are written exactly');
    assert.equal(roundForExport(1234567.891234, 6, false), 1234567.891234, "real values keep the input's decimals");
    assert.ok(Object.is(roundForExport(-0.001, 2, true), 0), 'rounding does not make -0');
    assert.ok(Number.isNaN(roundForExport(NaN, 2, true)));
  });

  test('CSV of a decoded dataset: at most 9 significant digits, fewer where the column had fewer decimals', async () => {
    const dataset: Dataset = {
      schema: {
        version: 1,
        layout: { kind: 'long', idColumn: 'id' },
        columns: [
          { name: 'id', kind: 'id', role: 'id' },
          { name: 'a', kind: 'continuous', role: 'feature', min: 0, max: 1, decimals: 2 },
          { name: 'b', kind: 'continuous', role: 'feature', min: 0, max: 1 },
        ],
        maxLength: 1,
        longSeries: 'split',
        missing: 'interpolate',
      },
      attributes: [],
      features: [
        { name: 'a', kind: 'continuous', role: 'feature', min: 0, max: 1, decimals: 2 },
        { name: 'b', kind: 'continuous', role: 'feature', min: 0, max: 1 },
      ],
      series: [{ id: 's', attributes: [], length: 1, features: [new Float64Array([Math.fround(0.123456789)]), new Float64Array([Math.fround(0.123456789)])] }],
      precision: 'float32',
    };
    const file = path.join(dir, 'precision.csv');
    await writeDataset(dataset, file);
    assert.equal(fs.readFileSync(file, 'utf8'), 'id,step,a,b\ns,0,0.12,0.123456791\n');
  });
});
