/**
 * Column stores: what import keeps of a file while reading it. One typed array per column (numbers as
 * Float64, labels as Int32 codes into an interned label list), never row objects, so memory grows with
 * rows x stored columns x 4-12 bytes rather than with the text of the file.
 */
import { detach, isMissingText, parseIsoDate, parseNumber } from './values.ts';
import { decimalsOf, decimalsOfNumber } from './precision.ts';

/**
 * What a store keeps, decided from the header before any row is read:
 * - auto: inference pending; keeps numbers and labels (labels of an all-numeric column are dropped once it
 *   has more than LABEL_CAP distinct values: it is continuous then, and the labels would only cost memory).
 * - number: a declared continuous column: numbers only.
 * - label: a declared categorical or id column: labels only.
 * - time: numbers (plain numbers, or ISO dates as epoch ms) and labels (to give dates back as read).
 * - count: an ignored column: only counts of numbers, dates, text and missing cells, to name its kind.
 */
export type StoreMode = 'auto' | 'number' | 'label' | 'time' | 'count';

/** More distinct numbers than this, with no text, and an auto column stops keeping labels. */
export const LABEL_CAP = 10_000;
/**
 * More distinct labels than this in an auto column (free text, per-row strings) and it stops keeping them:
 * far too many to be categories, and keeping them would cost memory in proportion to the file.
 */
export const TEXT_LABEL_CAP = 50_000;

/** After this many text cells and no number or date, an auto column stops keeping numbers. */
const TEXT_SETTLES = 100;

/** Codes that are not label indexes. */
export const MISSING_CODE = -1;
export const NUMBER_CODE = -2;

const BLOCK = 1 << 16;

/**
 * A growable typed array kept as fixed 64K-element blocks while reading (no over-allocation, no copying
 * while it grows), merged into one array by `finish()` once reading is done.
 */
class BlockArray<T extends Float64Array | Int32Array> {
  private blocks: T[] = [];
  private merged: T | null = null;
  length = 0;
  constructor(private readonly make: (n: number) => T) {}

  push(x: number): void {
    const at = this.length & (BLOCK - 1);
    if (at === 0) this.blocks.push(this.make(BLOCK));
    this.blocks[this.blocks.length - 1][at] = x;
    this.length++;
  }

  /** One contiguous array of exactly `length` values; the blocks are released. */
  finish(): T {
    if (!this.merged) {
      const out = this.make(this.length);
      this.blocks.forEach((b, i) => out.set(b.subarray(0, Math.min(BLOCK, this.length - i * BLOCK)) as never, i * BLOCK));
      this.merged = out;
      this.blocks = [];
    }
    return this.merged;
  }
}

export class GrowableF64 extends BlockArray<Float64Array> {
  constructor() {
    super((n) => new Float64Array(n));
  }
}

export class GrowableI32 extends BlockArray<Int32Array> {
  constructor() {
    super((n) => new Int32Array(n));
  }
}

/** Where a cell came from, for error messages. */
export interface CellRef {
  row: number;
  value: string;
}

/** One column's values, appended cell by cell. `row` indexes are 0-based data rows. */
export class ColumnStore {
  readonly mode: StoreMode;
  rows = 0;
  /** Cell counts by what the cell held. */
  missing = 0;
  numeric = 0;
  dates = 0;
  text = 0;
  /** First cell of each sort, to name it in a message. */
  firstText?: CellRef;
  firstDate?: CellRef;
  firstNumber?: CellRef;
  private numberBuf: GrowableF64 | null;
  private codeBuf: GrowableI32 | null;
  /** Interned labels in first-seen order; `labelCounts[i]` counts cells holding label i. */
  labels: string[] = [];
  labelCounts: number[] = [];
  private labelIndex = new Map<string, number>();
  /** The most decimals a number cell was written with (typed numbers: their shortest form's); see precision.ts. */
  maxDecimals = 0;
  /** True once an auto column stopped keeping labels (too many distinct numbers, or text labels). */
  labelsDropped = false;
  /** True when labels were dropped because there were more than TEXT_LABEL_CAP distinct text values. */
  tooManyLabels = false;

  constructor(mode: StoreMode) {
    this.mode = mode;
    this.numberBuf = mode === 'auto' || mode === 'number' || mode === 'time' ? new GrowableF64() : null;
    this.codeBuf = mode === 'auto' || mode === 'label' || mode === 'time' ? new GrowableI32() : null;
  }

  /** Numbers per row: NaN where missing or not a number (ISO dates hold epoch ms). Null if not kept. */
  numbers: Float64Array | null = null;
  /** Label code per row (MISSING_CODE where missing, NUMBER_CODE for a time column's numbers). Null if not kept. */
  codes: Int32Array | null = null;

  /** Reading is over: settle the arrays `numbers` and `codes`. */
  finish(): void {
    this.numbers = this.numberBuf ? this.numberBuf.finish() : null;
    this.codes = this.codeBuf ? this.codeBuf.finish() : null;
    this.numberBuf = null;
    this.codeBuf = null;
  }

  /** A cell of text, as read from CSV. */
  pushText(text: string): void {
    if (isMissingText(text)) return this.pushMissing();
    if (this.mode === 'label') return this.pushLabel(text, NaN);
    const x = parseNumber(text);
    if (!Number.isNaN(x)) return this.pushParsedNumber(x, text);
    const ms = parseIsoDate(text);
    if (!Number.isNaN(ms)) {
      this.dates++;
      if (!this.firstDate) this.firstDate = { row: this.rows, value: detach(text) };
      return this.pushLabel(text, ms);
    }
    this.text++;
    if (!this.firstText) this.firstText = { row: this.rows, value: detach(text) };
    if (this.mode === 'auto' && this.numberBuf && this.text === TEXT_SETTLES && this.numeric === 0 && this.dates === 0) {
      // Plainly a text column: numbers would only cost 8 bytes a cell (labelAt/numberAt still work).
      this.numberBuf = null;
    }
    this.pushLabel(text, NaN);
  }

  /** A typed number, as read from Parquet/Arrow. */
  pushNumber(x: number): void {
    if (Number.isNaN(x)) return this.pushMissing();
    this.pushParsedNumber(x, this.codeBuf ? String(x) : '');
  }

  /** A typed date/timestamp, as read from Parquet/Arrow. */
  pushDate(ms: number): void {
    if (Number.isNaN(ms)) return this.pushMissing();
    const text = new Date(ms).toISOString();
    this.dates++;
    if (!this.firstDate) this.firstDate = { row: this.rows, value: text };
    this.pushLabel(text, ms);
  }

  pushMissing(): void {
    this.missing++;
    this.numberBuf?.push(NaN);
    this.codeBuf?.push(MISSING_CODE);
    this.rows++;
  }

  private pushParsedNumber(x: number, text: string): void {
    this.numeric++;
    if (this.mode !== 'label') {
      const decimals = text === '' ? decimalsOfNumber(x) : decimalsOf(text);
      if (decimals > this.maxDecimals) this.maxDecimals = decimals;
    }
    if (!this.firstNumber) this.firstNumber = { row: this.rows, value: detach(text) };
    if (this.mode === 'label') return this.pushLabel(text, x);
    this.numberBuf?.push(x);
    if (this.codeBuf && this.mode === 'time') {
      // A numeric time stamp is given back as a number: no label needed.
      this.codeBuf.push(NUMBER_CODE);
    } else if (this.codeBuf) {
      const code = this.intern(text);
      this.codeBuf?.push(code);
      if (this.mode === 'auto' && this.labels.length > LABEL_CAP && this.text === 0 && this.dates === 0) {
        this.dropLabels();
      }
    }
    this.rows++;
  }

  /** A label cell; `x` is its number (NaN for text, epoch ms for dates). */
  private pushLabel(text: string, x: number): void {
    this.numberBuf?.push(x);
    if (this.codeBuf) {
      const code = this.intern(text);
      this.codeBuf?.push(code);
    }
    this.rows++;
  }

  private intern(text: string): number {
    let code = this.labelIndex.get(text);
    if (code === undefined) {
      code = this.labels.length;
      const own = detach(text);
      this.labelIndex.set(own, code);
      this.labels.push(own);
      this.labelCounts.push(0);
      if (this.mode === 'auto' && code >= TEXT_LABEL_CAP && this.dates === 0) {
        this.tooManyLabels = true;
        this.dropLabels();
        return MISSING_CODE;
      }
    }
    this.labelCounts[code]++;
    return code;
  }

  private dropLabels(): void {
    if (this.tooManyLabels) this.distinctCount = this.labels.length;
    this.codeBuf = null;
    this.labels = [];
    this.labelCounts = [];
    this.labelIndex = new Map();
    this.labelsDropped = true;
  }

  /** True when the cell at `row` is missing. */
  isMissing(row: number): boolean {
    if (this.codes) return this.codes[row] === MISSING_CODE;
    if (this.numbers) return Number.isNaN(this.numbers[row]);
    throw new Error(`column store in '${this.mode}' mode keeps no values`);
  }

  /** The label at `row` ('' when missing); numbers are given as written in the file. */
  labelAt(row: number): string {
    if (this.codes) {
      const code = this.codes[row];
      if (code >= 0) return this.labels[code];
      if (code === MISSING_CODE) return '';
    }
    const x = this.numbers![row];
    return Number.isNaN(x) ? '' : String(x);
  }

  /** The number at `row` (NaN when missing or not a number). */
  numberAt(row: number): number {
    return this.numbers ? this.numbers[row] : parseNumber(this.labelAt(row));
  }

  /** Count of distinct non-missing values (computed once). */
  distinct(): number {
    if (this.distinctCount === undefined) this.distinctCount = this.countDistinct();
    return this.distinctCount;
  }

  private distinctCount?: number;

  private countDistinct(): number {
    if (this.codes && this.mode !== 'time') return this.labels.length;
    const numbers = this.numbers;
    if (!numbers) return 0;
    const present = new Float64Array(numbers.length);
    let n = 0;
    for (let r = 0; r < numbers.length; r++) if (!Number.isNaN(numbers[r])) present[n++] = numbers[r];
    const sorted = present.subarray(0, n).sort();
    let count = 0;
    for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) count++;
    return count;
  }
}
