/**
 * Label codes looked up by a cell's UTF-8 bytes, so the CSV reader interns labels without building their
 * strings (a store makes each label's string once, when reading is over). Open addressing over FNV-1a
 * hashes; the labels' bytes sit in one growing arena. The label found last is tried first: in long data a
 * series id or an attribute repeats row after row.
 */
export class ByteLabelIndex {
  private arena = Buffer.allocUnsafe(1024);
  private used = 0;
  private offsets = new Int32Array(64);
  private lengths = new Int32Array(64);
  private hashes = new Int32Array(64);
  private count = 0;
  /** code + 1 per slot, 0 for an empty slot; a power of two at most half full. */
  private table = new Int32Array(128);
  private last = -1;

  /** Labels added. */
  get size(): number {
    return this.count;
  }

  /** The code of bytes[start, end), or -1 when not added yet. */
  find(bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    const last = this.last;
    if (last >= 0 && this.holds(last, bytes, start, end)) return last;
    const hash = hashOf(bytes, start, end);
    const mask = this.table.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.table[slot];
      if (entry === 0) return -1;
      const code = entry - 1;
      if (this.hashes[code] === hash && this.lengths[code] === length && this.sameBytes(code, bytes, start, length)) {
        this.last = code;
        return code;
      }
    }
  }

  /** Are bytes[start, end) label `code`'s? */
  holds(code: number, bytes: Uint8Array, start: number, end: number): boolean {
    const length = end - start;
    return this.lengths[code] === length && this.sameBytes(code, bytes, start, length);
  }

  /** Label `code` as a string. */
  text(code: number): string {
    return this.arena.toString('utf8', this.offsets[code], this.offsets[code] + this.lengths[code]);
  }

  /** Add bytes[start, end) as `code` (codes are added in order 0, 1, 2, ...; the caller checked find()). */
  add(bytes: Uint8Array, start: number, end: number, code: number): void {
    const length = end - start;
    if (code >= this.offsets.length) {
      this.offsets = grow(this.offsets);
      this.lengths = grow(this.lengths);
      this.hashes = grow(this.hashes);
    }
    if (this.used + length > this.arena.length) {
      const arena = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.used + length));
      this.arena.copy(arena, 0, 0, this.used);
      this.arena = arena;
    }
    this.arena.set(bytes.subarray(start, end), this.used);
    this.offsets[code] = this.used;
    this.lengths[code] = length;
    const hash = hashOf(bytes, start, end);
    this.hashes[code] = hash;
    this.used += length;
    this.count = code + 1;
    this.last = code;
    if (this.count * 2 > this.table.length) this.rehash();
    else this.place(code, hash);
  }

  private place(code: number, hash: number): void {
    const mask = this.table.length - 1;
    let slot = hash & mask;
    while (this.table[slot] !== 0) slot = (slot + 1) & mask;
    this.table[slot] = code + 1;
  }

  private rehash(): void {
    this.table = new Int32Array(this.table.length * 2);
    for (let code = 0; code < this.count; code++) this.place(code, this.hashes[code]);
  }

  private sameBytes(code: number, bytes: Uint8Array, start: number, length: number): boolean {
    const at = this.offsets[code];
    for (let k = 0; k < length; k++) if (this.arena[at + k] !== bytes[start + k]) return false;
    return true;
  }
}

function hashOf(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h;
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const out = new Int32Array(a.length * 2);
  out.set(a);
  return out;
}
