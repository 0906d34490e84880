/**
 * Column stores: what import keeps of a file while reading it. One typed array per column (numbers as
 * Float64, labels as Int32 codes into an interned label list), never row objects, so memory grows with
 * rows x stored columns x 4-12 bytes rather than with the text of the file.
 */
import { detach, isMissingText, parseIsoDate, parseNumber } from './values.ts';
import { decimalsOf, decimalsOfNumber } from './precision.ts';
import { ByteLabelIndex } from './byte-labels.ts';
import { IS_NUMBER, NEEDS_TEXT, NumberScan, scanNumber } from './number-bytes.ts';

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
export const TEXT_SETTLES = 100;

/** Codes that are not label indexes. */
export const MISSING_CODE = -1;
export const NUMBER_CODE = -2;

const FIRST_CAPACITY = 1 << 16;

/** Whole numbers below this are looked up by value when written plainly (see internSmallInteger). */
const SMALL_INTEGERS = 1 << 16;

/** A store writing into a slot (see StoreSlots) needed more room than the slot has. */
class SlotFullError extends Error {
  constructor() {
    super('a column store filled its slot');
  }
}

/**
 * Where a store writes when several threads read one file (read-csv-parallel.ts): views of shared memory,
 * one row per line break of the stretch of file the store reads, at that stretch's place in the column.
 */
export interface StoreSlots {
  numbers?: Float64Array;
  codes?: Int8Array | Int16Array;
}

/**
 * What a store read from one stretch of a file, for merging with the stretches before and after it
 * (store-merge.ts): its counts and labels, where its numbers and codes are, and when (in labels interned)
 * its first text and date cells came, which decides the caps of an automatic column across stretches.
 */
export interface StorePiece {
  rows: number;
  missing: number;
  numeric: number;
  dates: number;
  text: number;
  firstText?: CellRef;
  firstDate?: CellRef;
  firstNumber?: CellRef;
  maxDecimals: number;
  labels: string[];
  labelCounts: number[];
  labelsDropped: boolean;
  tooManyLabels: boolean;
  /** Text cells before the first number or date (all of them when there is none). */
  textBeforeValue: number;
  /** Labels interned before the first text-or-date cell, and before the first date cell (-1: no such cell). */
  labelsBeforeText: number;
  labelsBeforeDate: number;
  /** Numbers were kept to the end (an automatic column lets them go after TEXT_SETTLES text cells). */
  numbersKept: boolean;
  /** The codes: null when none were kept, 'slot' when in the slot given, else an array of their own. */
  codes: CodeArray | 'slot' | null;
}

/**
 * A growable typed array. The CSV reader reserves the row count it expects (from the file's size and the
 * bytes per row so far, with room to spare), so the array is allocated once: pages a generous estimate
 * never touches are never resident, and `finish()` hands out a view of exactly `length` values, no copy.
 * Without a reservation (or past it) the capacity grows by half, copying.
 */
export class GrowableF64 {
  private data: Float64Array = new Float64Array(0);
  length = 0;
  /** Writing into a slot of shared memory (see StoreSlots): its size is fixed, and going past it an error. */
  private fixed = false;

  /** Values written into `slot` (a view of shared memory sized by the reader), never moved elsewhere. */
  static over(slot: Float64Array): GrowableF64 {
    const g = new GrowableF64();
    g.data = slot;
    g.fixed = true;
    return g;
  }

  push(x: number): void {
    if (this.length === this.data.length) this.reserve(Math.max(FIRST_CAPACITY, Math.ceil(this.length * 1.5)));
    this.data[this.length++] = x;
  }

  reserve(capacity: number): void {
    if (capacity <= this.data.length) return;
    if (this.fixed) throw new SlotFullError();
    const data = new Float64Array(capacity);
    data.set(this.data.subarray(0, this.length));
    this.data = data;
  }

  at(i: number): number {
    return this.data[i];
  }

  /** The values as one array of exactly `length` (a view of the reserved one). */
  finish(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** Label codes as stored: the narrowest signed type that holds the column's largest code. */
export type CodeArray = Int8Array | Int16Array | Int32Array;

/**
 * Label codes, grown like GrowableF64, in 1 byte a cell while a column has at most 127 labels (most
 * attributes), 2 up to 32,767 (series ids), else 4: codes are most of what a file of few labels keeps,
 * and every byte kept is also a byte the reader must write (first touches of memory are slow).
 * Widening copies the codes so far once per step.
 */
export class GrowableCodes {
  private data: CodeArray = new Int8Array(0);
  /** The largest code `data`'s type holds. */
  private limit = 127;
  length = 0;
  /** As GrowableF64's: the capacity is a slot's. */
  private fixed = false;
  /** The codes are in the slot given to `over` (false once they widened past its type into memory of their own). */
  inSlot = false;

  /** Codes written into `slot` while they fit its type; wider ones move to an array of the slot's length. */
  static over(slot: Int8Array | Int16Array): GrowableCodes {
    const g = new GrowableCodes();
    g.data = slot;
    g.limit = slot instanceof Int8Array ? 127 : 32767;
    g.fixed = true;
    g.inSlot = true;
    return g;
  }

  push(code: number): void {
    if (code > this.limit) this.widen(code);
    if (this.length === this.data.length) this.reserve(Math.max(FIRST_CAPACITY, Math.ceil(this.length * 1.5)));
    this.data[this.length++] = code;
  }

  reserve(capacity: number): void {
    if (capacity <= this.data.length) return;
    if (this.fixed) throw new SlotFullError();
    const data = this.make(capacity);
    data.set(this.data.subarray(0, this.length));
    this.data = data;
  }

  finish(): CodeArray {
    return this.data.subarray(0, this.length);
  }

  private widen(code: number): void {
    this.limit = code > 32767 ? 2 ** 31 - 1 : 32767;
    const data = this.make(this.data.length);
    data.set(this.data.subarray(0, this.length));
    this.data = data;
    this.inSlot = false;
  }

  private make(n: number): CodeArray {
    return this.limit === 127 ? new Int8Array(n) : this.limit === 32767 ? new Int16Array(n) : new Int32Array(n);
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
  private codeBuf: GrowableCodes | null;
  /** Interned labels in first-seen order (set by finish()); `labelCounts[i]` counts cells holding label i. */
  labels: string[] = [];
  labelCounts: number[] = [];
  /** The labels by their UTF-8 bytes, which give their codes: CSV cells are interned without a string. */
  private byteIndex = new ByteLabelIndex();
  /** Labels interned as text (text cells, Parquet and Arrow strings): their strings, and codes by string. */
  private texts: (string | undefined)[] = [];
  private textIndex = new Map<string, number>();
  /** The most decimals a number cell was written with (typed numbers: their shortest form's); see precision.ts. */
  maxDecimals = 0;
  /** True once an auto column stopped keeping labels (too many distinct numbers, or text labels). */
  labelsDropped = false;
  /** True when labels were dropped because there were more than TEXT_LABEL_CAP distinct text values. */
  tooManyLabels = false;

  /** First-occurrence marks for StorePiece (set once each, when the first such cell comes). */
  private textBeforeValue = -1;
  private labelsBeforeText = -1;
  private labelsBeforeDate = -1;

  constructor(
    mode: StoreMode,
    private readonly slots?: StoreSlots,
  ) {
    this.mode = mode;
    this.numberBuf = keepsNumbers(mode) ? (slots?.numbers ? GrowableF64.over(slots.numbers) : new GrowableF64()) : null;
    // A time column's codes start with its first date or text cell: numeric stamps need none.
    this.codeBuf = mode === 'auto' || mode === 'label' ? this.newCodes() : null;
  }

  private newCodes(): GrowableCodes {
    return this.slots?.codes ? GrowableCodes.over(this.slots.codes) : new GrowableCodes();
  }

  /** Numbers per row: NaN where missing or not a number (ISO dates hold epoch ms). Null if not kept. */
  numbers: Float64Array | null = null;
  /** Label code per row (MISSING_CODE where missing, NUMBER_CODE for a time column's numbers). Null if not kept. */
  codes: CodeArray | null = null;

  /** Room for `rows` cells in total, allocated now (see GrowableF64): the reader's estimate. */
  reserve(rows: number): void {
    this.reserved = rows;
    this.numberBuf?.reserve(rows);
    this.codeBuf?.reserve(rows);
  }

  private reserved = 0;

  /**
   * A time column's first label (a date, or text): from here on it keeps codes; the rows before are all
   * numbers or missing, so their codes follow from the numbers.
   */
  private startTimeCodes(): void {
    const codes = this.newCodes();
    codes.reserve(this.reserved);
    for (let r = 0; r < this.rows; r++) codes.push(Number.isNaN(this.numberBuf!.at(r)) ? MISSING_CODE : NUMBER_CODE);
    this.codeBuf = codes;
  }

  /** Reading is over: settle the arrays `numbers` and `codes`. */
  finish(): void {
    this.labels = Array.from({ length: this.byteIndex.size }, (_, code) => this.texts[code] ?? this.byteIndex.text(code));
    this.numbers = this.numberBuf ? this.numberBuf.finish() : null;
    this.codes = this.codeBuf ? this.codeBuf.finish() : null;
    this.codesInSlot = this.codeBuf?.inSlot ?? false;
    this.numberBuf = null;
    this.codeBuf = null;
  }

  private codesInSlot = false;

  /** What this store read, after finish(), for store-merge.ts (see StorePiece). */
  piece(): StorePiece {
    const { rows, missing, numeric, dates, text, firstText, firstDate, firstNumber, maxDecimals, labels, labelCounts, labelsDropped, tooManyLabels } = this;
    return {
      rows,
      missing,
      numeric,
      dates,
      text,
      firstText,
      firstDate,
      firstNumber,
      maxDecimals,
      labels,
      labelCounts,
      labelsDropped,
      tooManyLabels,
      textBeforeValue: this.textBeforeValue < 0 ? text : this.textBeforeValue,
      labelsBeforeText: this.labelsBeforeText,
      labelsBeforeDate: this.labelsBeforeDate,
      numbersKept: this.numbers !== null,
      codes: this.codes === null ? null : this.codesInSlot ? 'slot' : this.codes,
    };
  }

  /** A store made of merged pieces (store-merge.ts): reading is over, only the reading side is used. */
  static merged(mode: StoreMode, fields: MergedFields): ColumnStore {
    const store = new ColumnStore(mode);
    store.numberBuf = null;
    store.codeBuf = null;
    Object.assign(store, fields);
    if (fields.tooManyLabels) store.distinctCount = TEXT_LABEL_CAP + 1;
    return store;
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
      if (!this.firstDate) this.noteFirstDate(detach(text));
      return this.pushLabel(text, ms);
    }
    this.countText();
    if (!this.firstText) this.noteFirstText(detach(text));
    this.pushLabel(text, NaN);
  }

  /**
   * A cell as UTF-8 bytes [start, end), as read from CSV: the same as pushText of its text, without
   * building the string for numbers, missing cells and labels seen before. Anything unusual (non-ASCII
   * bytes around a number or a missing token, a possible date) goes to pushText.
   */
  pushBytes(bytes: Uint8Array, start: number, end: number): void {
    const repeat = this.repeatCode;
    if (repeat >= 0 && this.byteIndex.holds(repeat, bytes, start, end)) return this.repeatLabel(repeat);
    if (end - start <= 16 && isMissingBytes(bytes, start, end)) return this.pushMissing();
    if (this.mode === 'label') {
      if (end - start <= 48 && mayHoldUnicodeBlank(bytes, start, end)) return this.pushText(utf8(bytes, start, end));
      return this.pushLabelBytes(bytes, start, end, NaN);
    }
    // NOT_NUMBER means every byte is ASCII (else NEEDS_TEXT): no Unicode blank can make it a missing token.
    const scan = scanNumber(bytes, start, end);
    if (scan === IS_NUMBER) return this.pushScannedNumber(bytes, start, end);
    if (scan === NEEDS_TEXT || mayBeDate(bytes, start, end)) return this.pushText(utf8(bytes, start, end));
    this.countText();
    if (!this.firstText) this.noteFirstText(utf8(bytes, start, end));
    this.pushLabelBytes(bytes, start, end, NaN);
  }

  /** One more text cell. Plainly a text column after TEXT_SETTLES of them: numbers would only cost 8 bytes a cell (labelAt/numberAt still work). */
  private countText(): void {
    this.text++;
    if (this.mode === 'auto' && this.numberBuf && this.text === TEXT_SETTLES && this.numeric === 0 && this.dates === 0) {
      this.letGo('numbers');
      this.onLetGo?.('numbers');
    }
  }

  /**
   * A label whose bytes took pushBytes' text-label path (label columns, text in automatic ones), or -1.
   * That path depends on the bytes alone, so a cell of the same bytes (an attribute or series id, row after
   * row in long data) takes it again without being looked at: repeatLabel.
   */
  private repeatCode = -1;

  private repeatLabel(code: number): void {
    if (this.mode === 'auto') this.countText();
    this.numberBuf?.push(NaN);
    this.codeBuf!.push(code);
    this.labelCounts[code]++;
    this.rows++;
  }

  /** pushParsedNumber for a number scanned from bytes (its value and decimals in NumberScan). */
  private pushScannedNumber(bytes: Uint8Array, start: number, end: number): void {
    const x = NumberScan.value;
    this.numeric++;
    if (NumberScan.decimals > this.maxDecimals) this.maxDecimals = NumberScan.decimals;
    if (!this.firstNumber) this.noteFirstNumber(utf8(bytes, start, end));
    this.numberBuf?.push(x);
    if (this.codeBuf && this.mode === 'time') this.codeBuf.push(NUMBER_CODE);
    else if (this.codeBuf) {
      this.codeBuf.push(NumberScan.canonical && x < SMALL_INTEGERS ? this.internSmallInteger(x, bytes, start, end) : this.internBytes(bytes, start, end));
      if (this.mode === 'auto' && this.byteIndex.size > LABEL_CAP && this.text === 0 && this.dates === 0) this.dropLabels();
    }
    this.rows++;
  }

  private pushLabelBytes(bytes: Uint8Array, start: number, end: number, x: number): void {
    if (this.mode === 'time' && !this.codeBuf) this.startTimeCodes();
    this.numberBuf?.push(x);
    const codes = this.codeBuf;
    if (codes) {
      const code = this.internBytes(bytes, start, end);
      codes.push(code);
      // A time column's codes start late (startTimeCodes): no repeats there.
      if (code >= 0 && this.mode !== 'time') this.repeatCode = code;
    }
    this.rows++;
  }

  /** Codes + 1 of the whole numbers 0 .. SMALL_INTEGERS - 1 written as String() writes them (0: not seen). */
  private smallCodes: Int32Array | null = null;

  /** internBytes for a whole number written as String() writes it: found by its value (time steps, codes). */
  private internSmallInteger(x: number, bytes: Uint8Array, start: number, end: number): number {
    this.smallCodes ??= new Int32Array(SMALL_INTEGERS);
    const known = this.smallCodes[x];
    if (known > 0) {
      this.labelCounts[known - 1]++;
      return known - 1;
    }
    const code = this.internBytes(bytes, start, end);
    if (code >= 0 && this.smallCodes) this.smallCodes[x] = code + 1;
    return code;
  }

  /** intern() by bytes, building no string. */
  private internBytes(bytes: Uint8Array, start: number, end: number): number {
    let code = this.byteIndex.find(bytes, start, end);
    if (code < 0) {
      code = this.newLabel(bytes, start, end, undefined);
      if (code === MISSING_CODE) return code;
    }
    this.labelCounts[code]++;
    return code;
  }

  /** A typed number, as read from Parquet/Arrow. */
  pushNumber(x: number): void {
    if (Number.isNaN(x)) return this.pushMissing();
    this.pushParsedNumber(x, this.codeBuf || this.mode === 'time' ? String(x) : '');
  }

  /** A typed date/timestamp, as read from Parquet/Arrow. */
  pushDate(ms: number): void {
    if (Number.isNaN(ms)) return this.pushMissing();
    const text = new Date(ms).toISOString();
    this.dates++;
    if (!this.firstDate) this.noteFirstDate(text);
    this.pushLabel(text, ms);
  }

  private noteFirstText(value: string): void {
    this.firstText = { row: this.rows, value };
    if (this.labelsBeforeText < 0) this.labelsBeforeText = this.byteIndex.size;
  }

  private noteFirstDate(value: string): void {
    this.firstDate = { row: this.rows, value };
    if (this.labelsBeforeText < 0) this.labelsBeforeText = this.byteIndex.size;
    this.labelsBeforeDate = this.byteIndex.size;
    if (this.textBeforeValue < 0) this.textBeforeValue = this.text;
  }

  private noteFirstNumber(value: string): void {
    this.firstNumber = { row: this.rows, value };
    if (this.textBeforeValue < 0) this.textBeforeValue = this.text;
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
    if (!this.firstNumber) this.noteFirstNumber(detach(text));
    if (this.mode === 'label') return this.pushLabel(text, x);
    this.numberBuf?.push(x);
    if (this.codeBuf && this.mode === 'time') {
      // A numeric time stamp is given back as a number: no label needed.
      this.codeBuf.push(NUMBER_CODE);
    } else if (this.codeBuf) {
      const code = this.intern(text);
      this.codeBuf?.push(code);
      if (this.mode === 'auto' && this.byteIndex.size > LABEL_CAP && this.text === 0 && this.dates === 0) {
        this.dropLabels();
      }
    }
    this.rows++;
  }

  /** A label cell; `x` is its number (NaN for text, epoch ms for dates). */
  private pushLabel(text: string, x: number): void {
    if (this.mode === 'time' && !this.codeBuf) this.startTimeCodes();
    this.numberBuf?.push(x);
    if (this.codeBuf) {
      const code = this.intern(text);
      this.codeBuf?.push(code);
    }
    this.rows++;
  }

  private intern(text: string): number {
    let code = this.textIndex.get(text);
    if (code === undefined) {
      const bytes = Buffer.from(text, 'utf8');
      code = this.byteIndex.find(bytes, 0, bytes.length);
      const own = detach(text);
      if (code < 0) {
        code = this.newLabel(bytes, 0, bytes.length, own);
        if (code === MISSING_CODE) return code;
      }
      this.textIndex.set(own, code);
    }
    this.labelCounts[code]++;
    return code;
  }

  /** Add a label (its string when known); MISSING_CODE when that makes too many for an automatic column. */
  private newLabel(bytes: Uint8Array, start: number, end: number, text: string | undefined): number {
    const code = this.byteIndex.size;
    this.byteIndex.add(bytes, start, end, code);
    this.texts.push(text);
    this.labelCounts.push(0);
    if (this.mode === 'auto' && code >= TEXT_LABEL_CAP && this.dates === 0) {
      this.tooManyLabels = true;
      this.dropLabels();
      return MISSING_CODE;
    }
    return code;
  }

  private dropLabels(): void {
    if (this.tooManyLabels) this.distinctCount = this.byteIndex.size;
    this.letGo('labels');
    this.onLetGo?.('labels');
  }

  /** Called when this store lets its labels or numbers go by itself (past a cap, or plainly text). */
  onLetGo?: (what: 'labels' | 'numbers') => void;

  /**
   * Keep no labels (or numbers) from here on: another reader of the same column, one that read the
   * file's start, let them go (see csv-pieces.ts), so whatever this one kept would be dropped when merging.
   */
  letGo(what: 'labels' | 'numbers'): void {
    if (what === 'numbers') {
      this.numberBuf = null;
      return;
    }
    this.codeBuf = null;
    this.repeatCode = -1;
    this.smallCodes = null;
    this.labelCounts = [];
    this.texts = [];
    this.textIndex = new Map();
    this.byteIndex = new ByteLabelIndex();
    this.labelsDropped = true;
  }

  /** True when a cell of rows [from, to) is missing (isMissing over a range, in one call). */
  anyMissing(from: number, to: number): boolean {
    const codes = this.codes;
    if (codes) {
      for (let r = from; r < to; r++) if (codes[r] === MISSING_CODE) return true;
      return false;
    }
    const numbers = this.numbers;
    if (!numbers) throw new Error(`column store in '${this.mode}' mode keeps no values`);
    for (let r = from; r < to; r++) if (Number.isNaN(numbers[r])) return true;
    return false;
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
    return countDistinctNumbers(numbers, this.maxDecimals);
  }
}

/** What store-merge.ts settles for a merged store. */
export type MergedFields = Pick<
  ColumnStore,
  'rows' | 'missing' | 'numeric' | 'dates' | 'text' | 'firstText' | 'firstDate' | 'firstNumber' | 'maxDecimals' | 'labels' | 'labelCounts' | 'labelsDropped' | 'tooManyLabels' | 'numbers' | 'codes'
>;

const keepsNumbers = (mode: StoreMode) => mode === 'auto' || mode === 'number' || mode === 'time';

/** Distinct numbers kept in a hash set up to this many (a 2^23-slot table, 64 MB); past it, a sorted copy. */
const DISTINCT_SET_CAP = 1 << 22;

/** The widest range of whole numbers counted in a bitmap (16 MB of bits). */
const GRID_BITS = 2 ** 27;
/** Whole numbers up to this magnitude are exact after scaling (a product's error stays under 0.5). */
const GRID_MAGNITUDE = 2 ** 51;

/**
 * Distinct non-NaN values (0 and -0 are one). When every value was written with at most `decimals`
 * decimals (a store's maxDecimals) and they span a modest range, a bitmap over that range's grid (fast:
 * it fits in the cache); else a hash set: time linear in the rows and memory in the distinct values, which
 * for most columns (time steps, rounded measurements) are far fewer than the rows.
 */
export function countDistinctNumbers(numbers: Float64Array, decimals = -1): number {
  const onGrid = decimals >= 0 ? countDistinctOnGrid(numbers, decimals) : -1;
  return onGrid >= 0 ? onGrid : countDistinctHashed(numbers);
}

/**
 * Each value written with at most `decimals` decimals is the double nearest k / 10^decimals for a whole k,
 * and Math.round(value * 10^decimals) gives k back exactly while |k| < 2^51; distinct values have distinct
 * k. So the k are marked in a bitmap from the smallest to the largest. -1 when the range is too wide.
 */
function countDistinctOnGrid(numbers: Float64Array, decimals: number): number {
  if (decimals > 22) return -1;
  const scale = 10 ** decimals;
  let min = Infinity;
  let max = -Infinity;
  for (let r = 0; r < numbers.length; r++) {
    const x = numbers[r];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (min > max) return 0; // all missing
  const lo = Math.round(min * scale);
  const hi = Math.round(max * scale);
  if (!(Math.abs(lo) < GRID_MAGNITUDE && Math.abs(hi) < GRID_MAGNITUDE && hi - lo < GRID_BITS)) return -1;
  const bits = new Int32Array(Math.floor((hi - lo) / 32) + 1);
  let count = 0;
  for (let r = 0; r < numbers.length; r++) {
    const x = numbers[r];
    if (Number.isNaN(x)) continue;
    const k = Math.round(x * scale) - lo;
    const word = k >>> 5;
    const bit = 1 << (k & 31);
    if ((bits[word] & bit) === 0) {
      bits[word] |= bit;
      count++;
    }
  }
  return count;
}

function countDistinctHashed(numbers: Float64Array): number {
  let table = new Float64Array(1024).fill(NaN);
  let mask = table.length - 1;
  let count = 0;
  const bits = new Float64Array(1);
  const words = new Int32Array(bits.buffer);
  for (let r = 0; r < numbers.length; r++) {
    let x = numbers[r];
    if (Number.isNaN(x)) continue; // missing
    if (x === 0) x = 0; // -0 counts as 0
    bits[0] = x;
    let h = Math.imul(words[0] ^ Math.imul(words[1], 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const y = table[slot];
      if (Number.isNaN(y)) {
        table[slot] = x;
        count++;
        break;
      }
      if (y === x) break;
    }
    if (count * 2 > table.length) {
      if (count > DISTINCT_SET_CAP) return countDistinctSorted(numbers);
      const old = table;
      table = new Float64Array(old.length * 2).fill(NaN);
      mask = table.length - 1;
      for (let k = 0; k < old.length; k++) {
        const y = old[k];
        if (Number.isNaN(y)) continue;
        bits[0] = y;
        let g = Math.imul(words[0] ^ Math.imul(words[1], 0x9e3779b1), 0x85ebca6b);
        g ^= g >>> 15;
        let slot = g & mask;
        while (!Number.isNaN(table[slot])) slot = (slot + 1) & mask;
        table[slot] = y;
      }
    }
  }
  return count;
}

function countDistinctSorted(numbers: Float64Array): number {
  const present = new Float64Array(numbers.length);
  let n = 0;
  for (let r = 0; r < numbers.length; r++) if (!Number.isNaN(numbers[r])) present[n++] = numbers[r];
  const sorted = present.subarray(0, n).sort();
  let count = 0;
  for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) count++;
  return count;
}

const utf8 = (bytes: Uint8Array, start: number, end: number) => Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');

/**
 * Does a short cell hold a byte that may start a Unicode blank (U+00A0, U+1680, U+2000-U+3000, U+FEFF:
 * lead bytes C2, E1, E2, E3, EF)? Such a cell could be a missing token that String.trim() sees through,
 * so pushText reads it. Labels in most scripts (é is C3 A9, Cyrillic D0/D1, CJK E4-E9) stay on bytes.
 */
function mayHoldUnicodeBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b >= 0xc2 && (b === 0xc2 || b === 0xe1 || b === 0xe2 || b === 0xe3 || b === 0xef)) return true;
  }
  return false;
}

const isBlank = (c: number) => c === 32 || (c >= 9 && c <= 13);

/** isMissingText for ASCII bytes: empty, NA, NaN, null in any case, blanks around (non-ASCII: pushText decides). */
function isMissingBytes(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  let j = end;
  while (i < j && isBlank(bytes[i])) i++;
  while (j > i && isBlank(bytes[j - 1])) j--;
  const n = j - i;
  if (n === 0) return true;
  // Lower case by setting bit 5: only N/n give 110, A/a 97, U/u 117, L/l 108. (No closure here: tsx
  // wraps each one created per call in a costly __name().)
  const a = bytes[i] | 0x20;
  const b = bytes[i + 1] | 0x20;
  if (n === 2) return a === 110 && b === 97; // na
  if (n === 3) return a === 110 && b === 97 && (bytes[i + 2] | 0x20) === 110; // nan
  if (n === 4) return a === 110 && b === 117 && (bytes[i + 2] | 0x20) === 108 && (bytes[i + 3] | 0x20) === 108; // null
  return false;
}

/** Could the cell be an ISO date (4 digits and a dash after any blanks)? Only those go to parseIsoDate. */
function mayBeDate(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end && isBlank(bytes[i])) i++;
  if (end - i < 10) return false;
  for (let k = 0; k < 4; k++) if (bytes[i + k] < 48 || bytes[i + k] > 57) return false;
  return bytes[i + 4] === 45;
}
