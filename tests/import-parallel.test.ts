// CSV read by several threads (read-csv-parallel.ts) against the same file read in one: every store, the
// lines of the rows, the inspection and the Dataset must be the same, with the file cut into many small
// pieces so that the pieces, the workers and the merge are all used. Files the pieces cannot read as
// pieces (a quoted newline over a cut, a bad record) fall back to one thread and say the same.
// Fixtures: import-mix.csv (25 series of long rows: labels quoted with commas and "" escapes, a quoted
// newline, missing cells spelled every way, numbers with exponents, signs and blanks, ISO dates, blank
// lines, CRLF then LF line ends) and import-mix-decimal-comma.csv (';'-delimited, decimal commas, a quoted
// ';' and non-ASCII letters in labels).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { countDistinctNumbers, LABEL_CAP, TEXT_LABEL_CAP, TEXT_SETTLES, type ColumnStore } from '../core/data/columns.ts';
import { inspectFile, readDataset } from '../core/data/index.ts';
import type { ReadOptions } from '../core/data/options.ts';
import { planFromHeader } from '../core/data/plan.ts';
import { readCsvTable } from '../core/data/read-csv.ts';
import { readCsvParallel, tuneParallelCsv, type ParallelCsvTuning } from '../core/data/read-csv-parallel.ts';
import type { ColumnTable } from '../core/data/table.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const MIX = path.join(fixtures, 'import-mix.csv');
const DECIMAL_COMMA = path.join(fixtures, 'import-mix-decimal-comma.csv');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-parallel-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Many threads and small pieces: a 25 KB file is cut in about 50. */
const MANY_PIECES = { threads: 3, pieceBytes: 512, minBytes: 0 };
/** The same, every piece read by a worker (this thread, starting first, would read most of a small file). */
const WORKERS_ONLY = { ...MANY_PIECES, mainReads: false };

function inPieces<T>(work: () => Promise<T>, tuning: Partial<ParallelCsvTuning> = MANY_PIECES): Promise<T> {
  const undo = tuneParallelCsv(tuning);
  return work().finally(undo);
}

function inOneThread<T>(work: () => Promise<T>): Promise<T> {
  const undo = tuneParallelCsv({ threads: 1 });
  return work().finally(undo);
}

const planFor = (file: string) => (names: string[]) => planFromHeader(file, names, {}, 'inspect').modes;

/** What a store shows the rest of import (codes as numbers: their array type may differ). */
function visible(s: ColumnStore) {
  const { mode, rows, missing, numeric, dates, text, firstText, firstDate, firstNumber, labels, labelCounts, maxDecimals, labelsDropped, tooManyLabels } = s;
  return {
    ...{ mode, rows, missing, numeric, dates, text, firstText, firstDate, firstNumber, labels, labelCounts, maxDecimals, labelsDropped, tooManyLabels },
    numbers: s.numbers && Array.from(s.numbers),
    codes: s.codes && Array.from(s.codes),
    distinct: s.distinct(),
  };
}

function assertSameTable(actual: ColumnTable, expected: ColumnTable): void {
  assert.deepEqual([actual.names, actual.rows, actual.warnings, actual.delimiter], [expected.names, expected.rows, expected.warnings, expected.delimiter]);
  actual.stores.forEach((store, j) => assert.deepEqual(visible(store), visible(expected.stores[j]), `column '${actual.names[j]}'`));
  for (let r = 0; r < expected.rows; r++) assert.equal(actual.rowNumber(r), expected.rowNumber(r), `line of row ${r}`);
}

/** The file read in pieces (asserting it was: not the one-thread fallback) and in one thread. */
async function bothWays(file: string, tuning: Partial<ParallelCsvTuning>) {
  const pieces = await inPieces(() => readCsvParallel(file, planFor(file)), tuning);
  assert.ok(pieces, `${path.basename(file)} read in pieces`);
  const one = await inOneThread(() => readCsvTable(file, planFor(file)));
  return { pieces, one };
}

describe('CSV read in pieces by several threads', () => {
  test('quotes, missing values, categories, blank lines, CRLF, numbers with exponents and blanks: the same stores and lines', async () => {
    for (const tuning of [MANY_PIECES, WORKERS_ONLY]) {
      const { pieces, one } = await bothWays(MIX, tuning);
      assertSameTable(pieces, one);
    }
    // With a byte order mark, and without a line break after the last record.
    const text = fs.readFileSync(MIX);
    const bom = path.join(dir, 'bom.csv');
    fs.writeFileSync(bom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]));
    const unterminated = path.join(dir, 'unterminated.csv');
    fs.writeFileSync(unterminated, text.subarray(0, text.length - 1));
    for (const file of [bom, unterminated]) {
      const { pieces, one } = await bothWays(file, WORKERS_ONLY);
      assertSameTable(pieces, one);
    }
    const one = await inOneThread(() => readCsvTable(MIX, planFor(MIX)));
    assert.ok(one.rows > 500);
    // what the fixture holds, so that the comparison means something
    const byName = (name: string) => one.stores[one.names.indexOf(name)];
    assert.ok(byName('traffic').missing > 0 && byName('traffic').maxDecimals === 6);
    assert.ok(byName('isp').labels.includes('The "Best" ISP') && byName('isp').labels.includes('Comcast, Inc.'));
    assert.ok(byName('note').labels.includes('two\nlines'));
    assert.ok(byName('when').dates > 0);
    assert.notEqual(one.rowNumber(one.rows - 1), one.rows + 1, 'blank lines and a quoted newline shift the lines');
  });

  test('two files read in pieces at once (their pieces take turns on this thread) come out as read alone', async () => {
    const [mix, comma] = await inPieces(() => Promise.all([readCsvParallel(MIX, planFor(MIX)), readCsvParallel(DECIMAL_COMMA, planFor(DECIMAL_COMMA))]));
    assertSameTable(mix!, await inOneThread(() => readCsvTable(MIX, planFor(MIX))));
    assertSameTable(comma!, await inOneThread(() => readCsvTable(DECIMAL_COMMA, planFor(DECIMAL_COMMA))));
  });

  test('decimal commas of a ;-delimited file: the same stores and warnings', async () => {
    const { pieces, one } = await bothWays(DECIMAL_COMMA, WORKERS_ONLY);
    assertSameTable(pieces, one);
    assert.ok(one.warnings.some((w) => /'price' writes numbers with a decimal comma/.test(w)));
    assert.ok(one.stores[3].numeric > 0 && one.stores[3].maxDecimals === 2);
  });

  test('inspection and Dataset are the same as from one thread', async () => {
    for (const [file, options] of [
      [MIX, { idColumn: 'id', timeColumn: 'step' }],
      [MIX, { idColumn: 'id', timeColumn: 'step', missing: 'drop', maxLength: 10 }],
      [DECIMAL_COMMA, { idColumn: 'id', timeColumn: 't' }],
    ] as [string, ReadOptions][]) {
      const inspected = await inPieces(() => inspectFile(file, options));
      assert.deepEqual(inspected, await inOneThread(() => inspectFile(file, options)));
      const read = await inPieces(() => readDataset(file, options), WORKERS_ONLY);
      const expected = await inOneThread(() => readDataset(file, options));
      assert.deepEqual(read.report, expected.report);
      assert.deepEqual(read.dataset.schema, expected.dataset.schema);
      assert.deepEqual(read.dataset.series, expected.dataset.series);
    }
  });

  test('the caps of an automatic column decided as one reader decides them, wherever in the file they fall', async () => {
    // Per column, cells that cross the caps in different pieces: distinct numbers past LABEL_CAP with and
    // without text first, text past TEXT_LABEL_CAP, TEXT_SETTLES text cells before numbers, a date first.
    const rows = TEXT_LABEL_CAP + 2000;
    const columns: [string, (r: number) => string][] = [
      ['many', (r) => String((r % 20000) / 4)], // past LABEL_CAP distinct numbers, no text: labels dropped
      ['textFirst', (r) => (r === 5 ? 'oops' : String((r % 20000) / 4))], // text before the cap: labels kept
      ['freeText', (r) => `t${r}`], // past TEXT_LABEL_CAP distinct text labels
      ['textThenNumbers', (r) => (r < TEXT_SETTLES + 5 ? `w${r % 3}` : String(r % 7))], // plainly text first: numbers dropped
      ['dateFirst', (r) => (r === 0 ? '2024-01-01' : `x${r}`)], // a date first: labels and numbers kept, later pieces all text
      ['lateLabels', (r) => (r < 2000 ? 'a' : `L${r % 3000}`)], // one label at first (1-byte codes), then 3,001
    ];
    const file = path.join(dir, 'caps.csv');
    const lines = Array.from({ length: rows }, (_, r) => columns.map(([, cell]) => cell(r)).join(','));
    fs.writeFileSync(file, `${columns.map(([name]) => name).join(',')}\n${lines.join('\n')}\n`);
    const pieces = await inPieces(() => readCsvParallel(file, planFor(file)), { ...WORKERS_ONLY, pieceBytes: 64 << 10 });
    assert.ok(pieces, 'read in pieces');
    const one = await inOneThread(() => readCsvTable(file, planFor(file)));
    assertSameTable(pieces, one);
    const [many, textFirst, freeText, textThenNumbers, dateFirst, lateLabels] = one.stores;
    assert.deepEqual(
      [many.labelsDropped, textFirst.labelsDropped, freeText.tooManyLabels, textThenNumbers.numbers, dateFirst.labels.length, dateFirst.numbers?.length, lateLabels.labels.length],
      [true, false, true, null, rows, rows, 3001],
    );
    assert.ok(many.labels.length === 0 && textFirst.labels.length > LABEL_CAP);

    // Numbers first, then pieces that start with text: such a piece lets its numbers go (plainly text there)
    // while the whole file keeps them. With no number in the piece there were none to keep; with a later
    // number there the pieces cannot be merged, and the file is read in one thread.
    for (const [name, cell, merged] of [
      ['late-text.csv', (r: number) => (r < 1000 ? String(r % 5) : `w${r % 3}`), true],
      ['late-number.csv', (r: number) => (r < 1000 ? String(r % 5) : r % 500 === 499 ? '7' : `w${r % 3}`), false],
    ] as const) {
      const late = path.join(dir, name);
      fs.writeFileSync(late, `x\n${Array.from({ length: 30000 }, (_, r) => cell(r)).join('\n')}\n`);
      assert.equal((await inPieces(() => readCsvParallel(late, planFor(late)), { ...MANY_PIECES, pieceBytes: 16 << 10 })) !== null, merged, name);
      const lateTable = await inPieces(() => readCsvTable(late, planFor(late)));
      assertSameTable(lateTable, await inOneThread(() => readCsvTable(late, planFor(late))));
      assert.ok(lateTable.stores[0].numbers);
    }
  });

  test('a quoted newline over a cut, a bad record or invalid UTF-8 in a late piece: read in one thread, with its errors', async () => {
    const body = Array.from({ length: 400 }, (_, r) => `s${r % 7},${r},${(r * 0.37).toFixed(2)},"a note"`);
    const header = 'id,step,x,note';
    const quoted = path.join(dir, 'quoted.csv');
    // a long quoted field with newlines spans several 512-byte pieces
    fs.writeFileSync(quoted, [header, ...body.slice(0, 200), `s1,999,1.5,"${'line\n'.repeat(400)}"`, ...body.slice(200)].join('\n'));
    const planned = planFor(quoted);
    assert.equal(await inPieces(() => readCsvParallel(quoted, planned)), null, 'a cut inside quotes is noticed');
    assertSameTable(await inPieces(() => readCsvTable(quoted, planned)), await inOneThread(() => readCsvTable(quoted, planned)));

    const broken = path.join(dir, 'broken.csv');
    fs.writeFileSync(broken, [header, ...body.slice(0, 350), 's1,1000,2.5', ...body.slice(350)].join('\n'));
    const invalid = path.join(dir, 'invalid.csv');
    fs.writeFileSync(invalid, Buffer.concat([Buffer.from([header, ...body.slice(0, 350)].join('\n')), Buffer.from('\ns1,1001,2.5,caf\xe9\n', 'latin1'), Buffer.from(body.slice(350).join('\n'))]));
    for (const file of [broken, invalid]) {
      const error = await inPieces(() => readDataset(file, { idColumn: 'id' }), WORKERS_ONLY).catch((e: Error) => e);
      const expected = await inOneThread(() => readDataset(file, { idColumn: 'id' })).catch((e: Error) => e);
      assert.ok(expected instanceof Error && /line 35[23]/.test(expected.message), String(expected));
      assert.deepEqual(error, expected);
    }
  });
});

test('distinct numbers on the grid of their decimals equal the hash set, also past the grid', () => {
  let seed = 7;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (const [decimals, spread] of [
    [0, 50],
    [2, 100],
    [6, 3],
    [3, 1e6], // too wide for the bitmap: the hash set
    [12, 1e6], // past exact scaling: the hash set
  ]) {
    const numbers = Float64Array.from({ length: 20000 }, () => {
      const r = random();
      if (r < 0.05) return Number.NaN;
      if (r < 0.07) return -0;
      return Number(((random() - 0.5) * spread).toFixed(decimals));
    });
    assert.equal(countDistinctNumbers(numbers, decimals), countDistinctNumbers(numbers), `${decimals} decimals, spread ${spread}`);
  }
  assert.equal(countDistinctNumbers(new Float64Array([Number.NaN, Number.NaN]), 2), 0);
});
