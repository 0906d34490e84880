/**
 * One file format for everything binary the project keeps (checkpoints, encoded datasets): a JSON header
 * and named float32/int32 arrays, written atomically so a crash or a cancel never leaves a torn file.
 *
 * Layout: "DGTF" | u32 version | u32 header bytes | header JSON (utf8) | zero pad to 8 | array data.
 */
import fs from 'node:fs';
import { writeFileAtomic } from './atomic-file.ts';

const MAGIC = 'DGTF';
const VERSION = 1;

export type ArrayData = Float32Array | Int32Array;

export interface StoredArray {
  name: string;
  shape: number[];
  data: ArrayData;
}

interface ArrayEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

export function writeTensorFile(file: string, meta: unknown, arrays: StoredArray[]): void {
  let offset = 0;
  const entries: ArrayEntry[] = arrays.map((a) => {
    const expected = a.shape.reduce((x, y) => x * y, 1);
    if (expected !== a.data.length) throw new Error(`array '${a.name}' has ${a.data.length} values but shape [${a.shape}] needs ${expected}`);
    const entry: ArrayEntry = { name: a.name, shape: a.shape, dtype: a.data instanceof Int32Array ? 'int32' : 'float32', offset, length: a.data.length };
    offset += a.data.byteLength;
    return entry;
  });
  const header = Buffer.from(JSON.stringify({ meta, arrays: entries }), 'utf8');
  const prefix = Buffer.alloc(12);
  prefix.write(MAGIC, 0, 'ascii');
  prefix.writeUInt32LE(VERSION, 4);
  prefix.writeUInt32LE(header.length, 8);
  const pad = Buffer.alloc((8 - ((12 + header.length) % 8)) % 8);
  const bodies = arrays.map((a) => new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
  writeFileAtomic(file, [prefix, header, pad, ...bodies]);
}

export function readTensorFile<Meta>(file: string): { meta: Meta; arrays: Map<string, StoredArray> } {
  const bytes = fs.readFileSync(file);
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== MAGIC) throw new Error(`${file} is not a DoppelGANger data file (bad magic)`);
  const version = bytes.readUInt32LE(4);
  if (version !== VERSION) throw new Error(`${file} has format version ${version}; this build reads version ${VERSION}`);
  const headerLength = bytes.readUInt32LE(8);
  const { meta, arrays } = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength)) as { meta: Meta; arrays: ArrayEntry[] };
  const start = 12 + headerLength + ((8 - ((12 + headerLength) % 8)) % 8);
  const out = new Map<string, StoredArray>();
  for (const e of arrays) {
    const begin = start + e.offset;
    const byteLength = e.length * 4;
    if (begin + byteLength > bytes.length) throw new Error(`${file} is truncated (array '${e.name}' runs past the end)`);
    // Copy into a fresh, aligned buffer: the file buffer's offset need not be 4-aligned.
    const copy = new Uint8Array(byteLength);
    copy.set(bytes.subarray(begin, begin + byteLength));
    const data = e.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
    out.set(e.name, { name: e.name, shape: e.shape, data });
  }
  return { meta, arrays: out };
}
