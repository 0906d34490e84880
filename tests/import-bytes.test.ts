// The CSV reader's byte paths against the string code they replace: numbers scanned from bytes vs
// parseNumber/decimalsOf (Number() underneath), the byte tokenizer vs CsvTokenizer at every chunk size, and
// a store fed bytes vs one fed text.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvTokenizer } from '../core/data/csv.ts';
import { ByteCsvTokenizer, ByteFieldTooLongError, ByteUnclosedQuoteError, type ByteRecord } from '../core/data/csv-bytes.ts';
import { ColumnStore, countDistinctNumbers, type StoreMode } from '../core/data/columns.ts';
import { IS_NUMBER, NEEDS_TEXT, NumberScan, scanNumber } from '../core/data/number-bytes.ts';
import { decimalsOf } from '../core/data/precision.ts';
import { parseNumber } from '../core/data/values.ts';

/** The string path's answer: NaN when not a number, else value and decimals. */
function reference(text: string): { value: number; decimals: number } | null {
  const x = parseNumber(text);
  return Number.isNaN(x) ? null : { value: x, decimals: decimalsOf(text) };
}

function scanned(text: string): { value: number; decimals: number } | null | 'text' {
  const bytes = Buffer.from(`#${text}#`, 'utf8'); // an offset and neighbours, as in a chunk
  const r = scanNumber(bytes, 1, bytes.length - 1);
  if (r === NEEDS_TEXT) return 'text';
  return r === IS_NUMBER ? { value: NumberScan.value, decimals: NumberScan.decimals } : null;
}

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('numbers from bytes', () => {
  const cases = [
    '0',
    '-0',
    '+0',
    '+5',
    '-5',
    '.5',
    '5.',
    '-.5',
    '+.5e3',
    '1e400',
    '-1e400',
    '1e-400',
    '1.5e-400',
    '1e308',
    '1.7976931348623157e308',
    '1.7976931348623159e308',
    '5e-324',
    '2.2250738585072014e-308',
    '0.1',
    '0.30000000000000004',
    '123456789012345',
    '1234567890123456',
    '12345678901234567890',
    '9007199254740993',
    '1e22',
    '1e23',
    '123e-22',
    '123e-23',
    '3.14159',
    '  12.50  ',
    '\t7\t',
    '1.5\t',
    '2E3',
    '2e+3',
    '2e-3',
    '1.25e1',
    '007',
    '0.000001234',
    '1.000000000000000000001',
    `${'9'.repeat(400)}`,
    `0.${'3'.repeat(2000)}`,
    `${'1'.repeat(3000)}e-2990`,
    '',
    ' ',
    '.',
    '-',
    '+',
    'e5',
    '1e',
    '1e+',
    '1.2.3',
    '--1',
    '+-1',
    '- 1',
    '1 2',
    '0x10',
    'Infinity',
    '-Infinity',
    'NaN',
    '1_000',
    '1,5',
    'abc',
    '12a',
  ];

  test('value and decimals agree with parseNumber/decimalsOf (Number()) on edge cases', () => {
    for (const text of cases) {
      const got = scanned(text);
      const want = reference(text);
      assert.notEqual(got, 'text', `${JSON.stringify(text)} is ASCII`);
      if (want === null) assert.equal(got, null, `${JSON.stringify(text)} is not a number`);
      else {
        assert.ok(got && got !== 'text', `${JSON.stringify(text)} is a number`);
        assert.ok(Object.is(got.value, want.value), `${JSON.stringify(text)}: ${got.value} vs ${want.value}`);
        assert.equal(got.decimals, want.decimals, `decimals of ${JSON.stringify(text)}`);
      }
    }
  });

  test('1e400 is not a number, -0 keeps its sign, non-ASCII goes to the string path', () => {
    assert.equal(scanned('1e400'), null);
    const zero = scanned('-0');
    assert.ok(zero && zero !== 'text' && Object.is(zero.value, -0));
    assert.equal(scanned('\u00a05'), 'text');
    assert.equal(scanned('5\u00a0'), 'text');
    assert.equal(scanned('5é'), 'text');
  });

  test('random numbers in many notations agree with Number()', () => {
    const rand = random(7);
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join('');
    for (let k = 0; k < 20000; k++) {
      const sign = ['', '-', '+'][Math.floor(rand() * 3)];
      const int = digits(Math.floor(rand() * 20));
      const frac = rand() < 0.6 ? `.${digits(Math.floor(rand() * 20))}` : '';
      const exp = rand() < 0.3 ? `${rand() < 0.5 ? 'e' : 'E'}${['', '-', '+'][Math.floor(rand() * 3)]}${Math.floor(rand() * 330)}` : '';
      const text = `${sign}${int}${frac}${exp}`;
      const want = reference(text);
      const got = scanned(text);
      if (want === null) assert.equal(got, null, text);
      else {
        assert.ok(got && got !== 'text', text);
        assert.ok(Object.is(got.value, want.value), `${text}: ${got.value} vs ${want.value}`);
        assert.equal(got.decimals, want.decimals, text);
      }
      const shortest = String(rand() * 10 ** Math.floor(rand() * 40 - 20));
      const again = scanned(shortest);
      assert.ok(again && again !== 'text' && Object.is(again.value, Number(shortest)), shortest);
    }
  });
});

/** Records as [fields, line] from the byte tokenizer fed `text` in chunks of `size` bytes. */
function byteRecords(text: string, size: number, maxField?: number): [string[], number][] {
  const records: [string[], number][] = [];
  const cell = (r: ByteRecord, k: number) => (r.inScratch[k] ? r.scratch : r.bytes).toString('utf8', r.start[k], r.end[k]);
  const tokenizer = new ByteCsvTokenizer(',', (r, line) => records.push([Array.from({ length: r.count }, (_, k) => cell(r, k)), line]), maxField);
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += size) tokenizer.push(Buffer.from(bytes.subarray(i, i + size)));
  tokenizer.end();
  return records;
}

function stringRecords(text: string): [string[], number][] {
  const records: [string[], number][] = [];
  const tokenizer = new CsvTokenizer(',', (fields, line) => records.push([fields.slice(), line]));
  tokenizer.push(text);
  tokenizer.end();
  return records;
}

describe('byte tokenizer', () => {
  test('the same records and lines as CsvTokenizer, at every chunk size', () => {
    const texts = [
      'a,b,c\r\n"x, y","say ""hi""\r\nagain",3\r\n\r\n,,\n"",z,"end"',
      'a,b\n1,2\n',
      'a,b\r1,2\r\r3,4',
      'a,"b"x,c\n"q""",""""\n"a\rb","c\r\nd"\n\n\n',
      'ü,ß\n"é,è",日本\n',
      'a\n\n\nb\r\n\r\nc',
      'x,y\n"""",""',
      'a,b\n"1"2,3\n',
    ];
    for (const text of texts) {
      const want = stringRecords(text);
      for (const size of [1, 2, 3, 4, 5, 7, 11, 64, 100000]) assert.deepEqual(byteRecords(text, size), want, `${JSON.stringify(text)} in chunks of ${size}`);
    }
  });

  test('random CSV text agrees with CsvTokenizer', () => {
    const rand = random(11);
    const pieces = ['a', 'bc', '1.5', ',', ',', '"', '""', '\n', '\r\n', '\r', 'é', ' ', 'x"y'];
    for (let k = 0; k < 2000; k++) {
      let text = Array.from({ length: Math.floor(rand() * 40) }, () => pieces[Math.floor(rand() * pieces.length)]).join('');
      // balance quotes so most texts end outside a quoted field
      if ((text.split('"').length - 1) % 2 === 1) text += '"';
      let want: [string[], number][] | Error;
      try {
        want = stringRecords(text);
      } catch (error) {
        want = error as Error;
      }
      for (const size of [1, 3, 8]) {
        if (want instanceof Error) assert.throws(() => byteRecords(text, size), ByteUnclosedQuoteError, JSON.stringify(text));
        else assert.deepEqual(byteRecords(text, size), want, `${JSON.stringify(text)} in chunks of ${size}`);
      }
    }
  });

  test('an unclosed quote names its line; an over-long cell is refused with its line and field', () => {
    assert.throws(
      () => byteRecords('a,b\n1,2\n3,"open\nmore\n', 4),
      (e: unknown) => e instanceof ByteUnclosedQuoteError && e.line === 3,
    );
    assert.throws(
      () => byteRecords(`a,b\n1,${'x'.repeat(5000)}\n`, 512, 4096),
      (e: unknown) => e instanceof ByteFieldTooLongError && e.line === 2 && e.field === 1,
    );
    assert.throws(
      () => byteRecords(`a,b\n1,"${'x'.repeat(50000)}`, 512, 4096),
      (e: unknown) => e instanceof ByteFieldTooLongError && e.line === 2 && e.field === 1,
    );
    // 3,000 two-byte characters are 6,000 bytes but 3,000 characters: within a 4,096-character limit
    assert.equal(byteRecords(`a,b\n1,${'é'.repeat(3000)}\n`, 512, 4096)[1][0][1].length, 3000);
  });
});

describe('column store fed bytes', () => {
  test('the same store as pushText for every kind of cell and mode', () => {
    const cells = [
      '1',
      '2.50',
      '-0',
      'NA',
      'nan',
      ' NULL ',
      '',
      '  ',
      '\u00a0NA',
      'abc',
      'é',
      '2024-01-31',
      ' 2024-01-31T12:00Z',
      '1e400',
      '0x10',
      '3',
      '+4',
      '.5',
      '\u00a07',
      'Na',
      'nulL',
      'b',
      'abc',
    ];
    for (const mode of ['auto', 'number', 'label', 'time', 'count'] as StoreMode[]) {
      const a = new ColumnStore(mode);
      const b = new ColumnStore(mode);
      for (let k = 0; k < 300; k++) {
        const text = cells[k % cells.length];
        a.pushText(text);
        const bytes = Buffer.from(`,${text},`, 'utf8');
        b.pushBytes(bytes, 1, bytes.length - 1);
      }
      a.finish();
      b.finish();
      const visible = (s: ColumnStore) => {
        const { rows, missing, numeric, dates, text, firstText, firstDate, firstNumber, labels, labelCounts, maxDecimals, labelsDropped, tooManyLabels, numbers, codes } = s;
        return { rows, missing, numeric, dates, text, firstText, firstDate, firstNumber, labels, labelCounts, maxDecimals, labelsDropped, tooManyLabels, numbers, codes, distinct: s.distinct() };
      };
      assert.deepEqual(visible(b), visible(a), `mode ${mode}`);
    }
  });

  test('labels dropped past the caps (distinct numbers, free text) the same way from bytes', () => {
    for (const make of [(k: number) => String(k / 4), (k: number) => `t${k}`]) {
      const a = new ColumnStore('auto');
      const b = new ColumnStore('auto');
      for (let k = 0; k < 52000; k++) {
        const text = make(k);
        a.pushText(text);
        const bytes = Buffer.from(text, 'utf8');
        b.pushBytes(bytes, 0, bytes.length);
      }
      a.finish();
      b.finish();
      assert.deepEqual([b.labelsDropped, b.tooManyLabels, b.labels.length, b.numbers, b.codes, b.distinct()], [a.labelsDropped, a.tooManyLabels, a.labels.length, a.numbers, a.codes, a.distinct()]);
      assert.ok(a.labelsDropped);
    }
  });

  test('codes widen from 1 to 2 to 4 bytes as labels pass 127 and 32,767, keeping every row', () => {
    const store = new ColumnStore('label');
    const texts = Array.from({ length: 45000 }, (_, k) => `L${(k * 7919) % 40000}`);
    texts.push('', 'L5');
    for (const text of texts) {
      const bytes = Buffer.from(text, 'utf8');
      store.pushBytes(bytes, 0, bytes.length);
    }
    store.finish();
    assert.ok(store.codes instanceof Int32Array);
    assert.equal(store.labels.length, 40000);
    texts.forEach((text, r) => assert.equal(store.labelAt(r), text));
    const few = new ColumnStore('label');
    for (const text of ['a', 'b', 'NA', 'a']) few.pushText(text);
    few.finish();
    assert.ok(few.codes instanceof Int8Array);
    assert.deepEqual([...few.codes], [0, 1, -1, 0]);
  });

  test('distinct numbers: a hash set, 0 and -0 one value, NaN not counted', () => {
    const numbers = new Float64Array([1, 2, 2, Number.NaN, 0, -0, 1.5, 1e300, -1e300, 1.5]);
    assert.equal(countDistinctNumbers(numbers), 6);
    const many = Float64Array.from({ length: 100000 }, (_, i) => (i % 30000) / 7);
    assert.equal(countDistinctNumbers(many), 30000);
  });
});
