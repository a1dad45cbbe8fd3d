// Deletion marks of one segment: a bitset over its local doc ids. Segments never change; deleting
// a doc marks it here until a merge drops it (the Lucene way). Stored as its own small buffer so an
// update rewrites only this, not the segment.

const MAGIC = 0x4c444243; // "CBDL" little-endian
const HEADER_BYTES = 12;

export class Deletions {
  private constructor(
    readonly docCount: number,
    private readonly bits: Uint8Array,
    private marked: number,
  ) {}

  static empty(docCount: number): Deletions {
    return new Deletions(docCount, new Uint8Array(Math.ceil(docCount / 8)), 0);
  }

  get count(): number {
    return this.marked;
  }

  /** The marks themselves, a bit per doc (for the native search: read, never changed through it). */
  get bitset(): Uint8Array {
    return this.bits;
  }

  has(doc: number): boolean {
    return (this.bits[doc >>> 3]! & (1 << (doc & 7))) !== 0;
  }

  /** Marks `doc` deleted; false when it already was. */
  add(doc: number): boolean {
    if (!Number.isInteger(doc) || doc < 0 || doc >= this.docCount) throw new RangeError(`doc ${doc} is not in this segment (0..${this.docCount - 1})`);
    if (this.has(doc)) return false;
    this.bits[doc >>> 3]! |= 1 << (doc & 7);
    this.marked++;
    return true;
  }

  clone(): Deletions {
    return new Deletions(this.docCount, this.bits.slice(), this.marked);
  }

  toBuffer(): Buffer {
    const buf = Buffer.alloc(HEADER_BYTES + this.bits.length);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(this.docCount, 4);
    buf.writeUInt32LE(this.marked, 8);
    buf.set(this.bits, HEADER_BYTES);
    return buf;
  }

  /** Reads deletion marks for a segment of `docCount` docs; throws on anything that does not fit. */
  static fromBuffer(buf: Uint8Array, docCount: number): Deletions {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (buf.byteLength < HEADER_BYTES || view.getUint32(0, true) !== MAGIC) throw new Error("the deletion marks are damaged or not citebot deletion marks");
    if (view.getUint32(4, true) !== docCount) throw new Error(`the deletion marks are for a segment of ${view.getUint32(4, true)} docs, not ${docCount}`);
    const bytes = Math.ceil(docCount / 8);
    if (buf.byteLength !== HEADER_BYTES + bytes)
      throw new Error(`the deletion marks are truncated or damaged (${buf.byteLength} bytes, expected ${HEADER_BYTES + bytes})`);
    const bits = new Uint8Array(buf.subarray(HEADER_BYTES));
    let marked = 0;
    for (let i = 0; i < bits.length; i++) {
      let b = bits[i]!;
      if (i === bits.length - 1 && docCount % 8) b &= (1 << (docCount % 8)) - 1;
      while (b) {
        marked += b & 1;
        b >>>= 1;
      }
    }
    if (marked !== view.getUint32(8, true)) throw new Error("the deletion marks are damaged (count mismatch)");
    return new Deletions(docCount, bits, marked);
  }
}
