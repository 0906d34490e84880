/**
 * Numbers at the precision the input had: import records the most decimals a column's values were written
 * with, export rounds to them (and values that went through the model's float32 to at most 9 significant
 * digits, float32's round-trip precision), so a column of prices in cents does not come back with 17 digits.
 */

/** Significant digits that tell any two float32 values apart: more only prints rounding noise. */
export const FLOAT32_DIGITS = 9;
/** Decimals recorded at most (what toFixed accepts, and far beyond float64's). */
const MAX_DECIMALS = 100;

/** Decimals a number was written with: '12.50' 2, '3' 0, '1.5e-3' 4, '2E3' 0; typed numbers by their shortest form. */
export function decimalsOf(text: string): number {
  const dot = text.indexOf('.');
  let e = text.indexOf('e');
  if (e < 0) e = text.indexOf('E');
  let end = e < 0 ? text.length : e;
  while (end > 0 && text.charCodeAt(end - 1) === 32) end--; // trailing spaces
  const fraction = dot < 0 || dot > end ? 0 : end - dot - 1;
  if (e < 0) return fraction;
  return Math.min(MAX_DECIMALS, Math.max(0, fraction - Number(text.slice(e + 1))));
}

/** Decimals of a typed (Parquet/Arrow) number: 0 for whole numbers, else its shortest round-trip form's. */
export const decimalsOfNumber = (x: number): number => (Number.isInteger(x) ? 0 : decimalsOf(String(x)));

/**
 * A value as export writes it: rounded to `decimals` when the column records them, then, for values
 * that went through float32, to at most 9 significant digits. Rounding never makes a -0.
 */
export function roundForExport(x: number, decimals: number | undefined, float32: boolean): number {
  if (!Number.isFinite(x)) return x;
  let y = x;
  if (decimals !== undefined && Math.abs(y) < 1e21) y = Number(y.toFixed(Math.min(MAX_DECIMALS, decimals)));
  if (float32) y = Number(y.toPrecision(FLOAT32_DIGITS));
  return y === 0 && y !== x ? 0 : y;
}
