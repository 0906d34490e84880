/**
 * Bytes -> text for the CSV reader: what the first bytes say about the file (a byte order mark, the NUL
 * pattern of UTF-16 without one, a binary file, a compressed or columnar file named .csv), then a
 * streaming decoder that refuses invalid UTF-8 instead of replacing it with U+FFFD. One look at the
 * first KB and one validation per chunk (simdutf's `isUtf8`): no copy of the file.
 */
import { isUtf8 } from 'node:buffer';
import { DataError } from './types.ts';

export type TextEncoding = 'utf-8' | 'latin-1';

/** A decoder fed the file's chunks in order. `bad` is set when the chunk holds invalid UTF-8: `text` is then what came before it. */
export interface ChunkDecoder {
  /** What the file was read as, for messages ('UTF-8', 'UTF-16LE', ...). */
  readonly name: string;
  decode(bytes: Buffer): { text: string; bad?: number[] };
  /** The end of the file: text held back, or the bytes of a sequence the file ended inside. */
  end(): { text: string; bad?: number[] };
  /** As decode, but the text as UTF-8 bytes (for UTF-8 input: the valid bytes themselves, no copy). */
  decodeBytes(bytes: Buffer): { bytes: Buffer; bad?: number[] };
  endBytes(): { bytes: Buffer; bad?: number[] };
}

/** decodeBytes/endBytes for decoders that produce text: the text encoded as UTF-8. */
function viaText(decoder: Omit<ChunkDecoder, 'decodeBytes' | 'endBytes'>): ChunkDecoder {
  const bytesOf = (piece: { text: string; bad?: number[] }) => ({ bytes: Buffer.from(piece.text, 'utf8'), ...(piece.bad ? { bad: piece.bad } : {}) });
  return { ...decoder, decodeBytes: (bytes) => bytesOf(decoder.decode(bytes)), endBytes: () => bytesOf(decoder.end()) };
}

/** How much of the file's start is looked at to tell text from binary. */
const PROBE_BYTES = 1024;

const hex = (bytes: ArrayLike<number>) =>
  Array.from(bytes)
    .map((b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`)
    .join(' ');

const startsWith = (bytes: Buffer, ...prefix: number[]) => prefix.every((b, i) => bytes[i] === b);

/**
 * Choose the decoder from the file's first bytes (at least the first chunk). Throws a DataError for UTF-32,
 * binary data and files of another format under a CSV name.
 */
export function decoderFor(file: string, first: Buffer, encoding: TextEncoding = 'utf-8'): ChunkDecoder {
  const refuse = (what: string, fix: string) => new DataError(`${file}: ${what}`, file, undefined, undefined, { text: fix });
  const resave = 're-save it as UTF-8 (in a spreadsheet: Save As, CSV UTF-8), then read it again';
  if (startsWith(first, 0xff, 0xfe, 0, 0) || startsWith(first, 0, 0, 0xfe, 0xff)) {
    throw refuse('the file is UTF-32 text (it starts with a UTF-32 byte order mark), which is not read', resave);
  }
  if (startsWith(first, 0xef, 0xbb, 0xbf)) return encoding === 'latin-1' ? latin1Decoder(3) : utf8Decoder(3);
  if (startsWith(first, 0xff, 0xfe)) return utf16Decoder('utf-16le');
  if (startsWith(first, 0xfe, 0xff)) return utf16Decoder('utf-16be');
  if (startsWith(first, 0x50, 0x41, 0x52, 0x31)) throw refuse('this is a Parquet file, not CSV text', 'name it .parquet to read it as Parquet');
  if (startsWith(first, 0x41, 0x52, 0x52, 0x4f, 0x57, 0x31) || startsWith(first, 0xff, 0xff, 0xff, 0xff)) {
    throw refuse('this looks like an Arrow IPC file, not CSV text', 'name it .arrow to read it as Arrow');
  }
  if (startsWith(first, 0x1f, 0x8b)) throw refuse('this is a gzip-compressed file, not CSV text', 'decompress it first (gunzip), then read the .csv inside');
  if (startsWith(first, 0x50, 0x4b, 0x03, 0x04)) {
    throw refuse('this is a ZIP archive (an Excel .xlsx is one), not CSV text', 'unzip it, or export the sheet as CSV UTF-8 from the spreadsheet');
  }

  // No byte order mark: UTF-16 shows as a NUL in every other byte of ASCII text; binary data as NULs and
  // control bytes anywhere.
  const probe = first.subarray(0, Math.min(first.length, PROBE_BYTES) & ~3);
  const zeros = [0, 0, 0, 0];
  let controls = 0;
  for (let i = 0; i < probe.length; i++) {
    const b = probe[i];
    if (b === 0) zeros[i & 3]++;
    else if (b < 32 && b !== 9 && b !== 10 && b !== 13 && b !== 12 && b !== 27) controls++;
  }
  const quarter = probe.length / 4;
  const even = zeros[0] + zeros[2];
  const odd = zeros[1] + zeros[3];
  const many = (count: number, of: number) => count > 0.3 * of;
  const few = (count: number, of: number) => count <= 0.02 * of;
  if (probe.length >= 8) {
    if (many(zeros[1] + zeros[2] + zeros[3], 3 * quarter) && few(zeros[0], quarter) && zeros[1] + zeros[2] + zeros[3] > 0.8 * 3 * quarter) {
      throw refuse('the file looks like UTF-32 text (three NUL bytes after each character), which is not read', resave);
    }
    if (many(zeros[0] + zeros[1] + zeros[2], 3 * quarter) && few(zeros[3], quarter) && zeros[0] + zeros[1] + zeros[2] > 0.8 * 3 * quarter) {
      throw refuse('the file looks like UTF-32 text (three NUL bytes before each character), which is not read', resave);
    }
    if (many(odd, 2 * quarter) && few(even, 2 * quarter)) return utf16Decoder('utf-16le');
    if (many(even, 2 * quarter) && few(odd, 2 * quarter)) return utf16Decoder('utf-16be');
  }
  const nuls = even + odd;
  if (nuls > 0 || controls > 0.1 * probe.length) {
    throw refuse(
      `looks like a binary file, not text (${nuls} NUL and ${controls} other control bytes in its first ${probe.length} bytes)`,
      'choose the CSV export of the data, or a Parquet/Arrow file named .parquet/.arrow',
    );
  }
  return encoding === 'latin-1' ? latin1Decoder(0) : utf8Decoder(0);
}

function utf16Decoder(label: 'utf-16le' | 'utf-16be'): ChunkDecoder {
  // The byte order mark, if any, is dropped by TextDecoder itself.
  const decoder = new TextDecoder(label);
  return viaText({
    name: label.toUpperCase(),
    decode: (bytes) => ({ text: decoder.decode(bytes, { stream: true }) }),
    end: () => ({ text: decoder.decode() }),
  });
}

function latin1Decoder(skip: number): ChunkDecoder {
  let first = true;
  return viaText({
    name: 'Latin-1',
    decode(bytes) {
      const text = bytes.toString('latin1', first ? skip : 0);
      first = false;
      return { text };
    },
    end: () => ({ text: '' }),
  });
}

/** Length of the UTF-8 sequence a lead byte starts (0: not a lead byte). */
const sequenceLength = (b: number) => (b < 0x80 ? 1 : b < 0xc2 ? 0 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf5 ? 4 : 0);

/** The end of bytes[from, end)'s whole UTF-8 sequences: `end`, or where a sequence cut by it starts. */
export function wholeSequencesEnd(bytes: Uint8Array, from: number, end: number): number {
  let i = end - 1;
  while (i >= from && end - i < 4 && (bytes[i] & 0xc0) === 0x80) i--;
  return i >= from && sequenceLength(bytes[i]) > end - i ? i : end;
}

/** Where the first invalid sequence of `bytes` starts (its length if all valid). Only run on the error path. */
function firstInvalid(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceLength(bytes[i]);
    if (n === 0 || i + n > bytes.length || !isUtf8(bytes.subarray(i, i + n))) return i;
    i += n;
  }
  return bytes.length;
}

function utf8Decoder(skip: number): ChunkDecoder {
  let carry: Buffer | null = null;
  let first = true;
  /** The chunk's whole sequences (the bytes of one cut at its end wait in `carry`), and where it turns invalid. */
  const split = (chunk: Buffer): { whole: Buffer; invalidAt: number } => {
    let bytes: Buffer = first ? chunk.subarray(skip) : chunk;
    first = false;
    if (carry) {
      bytes = Buffer.concat([carry, bytes]);
      carry = null;
    }
    // A multi-byte sequence cut by the chunk's end waits for the next chunk.
    const end = wholeSequencesEnd(bytes, 0, bytes.length);
    if (end < bytes.length) carry = Buffer.from(bytes.subarray(end));
    const whole = bytes.subarray(0, end);
    return { whole, invalidAt: isUtf8(whole) ? -1 : firstInvalid(whole) };
  };
  return {
    name: 'UTF-8',
    decode(chunk) {
      const { whole, invalidAt: at } = split(chunk);
      if (at < 0) return { text: whole.toString('utf8') };
      return { text: whole.toString('utf8', 0, at), bad: Array.from(whole.subarray(at, at + 4)) };
    },
    end() {
      return carry ? { text: '', bad: Array.from(carry) } : { text: '' };
    },
    decodeBytes(chunk) {
      const { whole, invalidAt: at } = split(chunk);
      if (at < 0) return { bytes: whole };
      return { bytes: whole.subarray(0, at), bad: Array.from(whole.subarray(at, at + 4)) };
    },
    endBytes() {
      return carry ? { bytes: Buffer.alloc(0), bad: Array.from(carry) } : { bytes: Buffer.alloc(0) };
    },
  };
}

/** The message for invalid UTF-8 on `line`. */
export function invalidUtf8Error(file: string, line: number, bad: number[]): DataError {
  return new DataError(
    `${file}, line ${line}: the file is not valid UTF-8 (bytes ${hex(bad)}); it is probably in Latin-1 or Windows-1252 (for example from Excel), where 'ü' is one byte`,
    file,
    line,
    undefined,
    { text: 're-save it as UTF-8 (in a spreadsheet: Save As, CSV UTF-8), or read it as Latin-1', option: 'encoding', value: 'latin-1' },
  );
}
