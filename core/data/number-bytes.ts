/**
 * Plain decimal numbers read straight from UTF-8 bytes, so the CSV reader builds no string for a numeric
 * cell. Same grammar and value as values.ts's parseNumber (a regex, then Number()) and the same decimals
 * as precision.ts's decimalsOf; tests/data-import.test.ts checks both against them.
 */

/** The cell needs the string path: it holds non-ASCII bytes (Unicode spaces count as blanks there). */
export const NEEDS_TEXT = -1;
/** The cell is not a plain decimal number (a label, a date, `1e400`, hex ...). */
export const NOT_NUMBER = 0;
/** The cell is a number: `NumberScan.value` and `NumberScan.decimals` hold it. */
export const IS_NUMBER = 1;

/** Decimals recorded at most (as in precision.ts). */
const MAX_DECIMALS = 100;

// 10^0 .. 10^22 are exact doubles: a mantissa below 2^53 times or over one of them is correctly rounded
// (Clinger's fast path), so the value equals Number()'s without building the string.
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** ASCII blanks that \s and Number() both skip. */
const isBlank = (c: number) => c === 32 || (c >= 9 && c <= 13);

/**
 * The result of the last scanNumber call (one object, reused: no allocation per cell). `canonical`: the
 * cell is digits only, without a leading zero (the way String() writes a whole number), so its value
 * alone tells which label it is.
 */
export const NumberScan = { value: 0, decimals: 0, canonical: false };

/**
 * Read bytes[start, end) as a plain decimal number (`^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$`).
 * Returns IS_NUMBER (value and decimals in NumberScan), NOT_NUMBER (also for numbers beyond float range,
 * which read as Infinity), or NEEDS_TEXT when a byte is not ASCII.
 */
export function scanNumber(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && isBlank(bytes[i])) i++;
  let last = end;
  while (last > i && isBlank(bytes[last - 1])) last--;
  if (i === last) return NOT_NUMBER; // blanks only
  const first = i;
  let negative = false;
  let c = bytes[i];
  if (c === 45 || c === 43) {
    negative = c === 45;
    i++;
  }
  // Mantissa digits: `mantissa` holds the first 15 significant ones exactly; more go to the slow path.
  let mantissa = 0;
  let significant = 0;
  let intDigits = 0;
  let fracDigits = 0;
  let dot = -1;
  while (i < last) {
    c = bytes[i];
    if (c >= 48 && c <= 57) {
      if (dot < 0) intDigits++;
      else fracDigits++;
      if (significant > 0 || c !== 48) significant++;
      if (significant <= 15) mantissa = mantissa * 10 + (c - 48);
    } else if (c === 46 && dot < 0) dot = i;
    else break;
    i++;
  }
  if (intDigits + fracDigits === 0) return firstNonAscii(bytes, start, end);
  let exponent = 0;
  let expEnd = -1;
  if (i < last && (bytes[i] === 101 || bytes[i] === 69)) {
    const e = i;
    i++;
    let expNegative = false;
    if (i < last && (bytes[i] === 45 || bytes[i] === 43)) {
      expNegative = bytes[i] === 45;
      i++;
    }
    const digitsFrom = i;
    while (i < last && bytes[i] >= 48 && bytes[i] <= 57) {
      exponent = exponent * 10 + (bytes[i] - 48);
      i++;
    }
    if (i === digitsFrom) return firstNonAscii(bytes, start, end);
    if (expNegative) exponent = -exponent;
    expEnd = e;
  }
  if (i !== last) return firstNonAscii(bytes, start, end);

  // Decimals as decimalsOf counts them: characters after the dot up to the exponent (or the cell's end,
  // trailing spaces only stripped), less the exponent.
  let fractionEnd = expEnd >= 0 ? expEnd : end;
  while (fractionEnd > start && bytes[fractionEnd - 1] === 32) fractionEnd--;
  const fraction = dot < 0 || dot > fractionEnd ? 0 : fractionEnd - dot - 1;
  NumberScan.decimals = expEnd < 0 ? fraction : Math.min(MAX_DECIMALS, Math.max(0, fraction - exponent));

  // mantissa x 10^scale, where scale moves the dot past the fraction digits and any integer digits
  // beyond the first 15 significant ones (only reached when significant <= 15, so none are dropped).
  const scale = exponent - fracDigits;
  let value: number;
  if (significant <= 15 && scale >= -22 && scale <= 22) {
    value = scale >= 0 ? mantissa * POW10[scale] : mantissa / POW10[-scale];
    if (negative) value = -value;
  } else {
    value = Number(latin1(bytes, first, last));
    if (value === Infinity || value === -Infinity) return NOT_NUMBER;
  }
  NumberScan.value = value;
  NumberScan.canonical = dot < 0 && expEnd < 0 && first === start && last === end && intDigits === end - start && (intDigits === 1 || bytes[start] !== 48);
  return IS_NUMBER;
}

/** NOT_NUMBER, unless a non-ASCII byte makes it the string path's call. */
function firstNonAscii(bytes: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) if (bytes[i] >= 0x80) return NEEDS_TEXT;
  return NOT_NUMBER;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}
