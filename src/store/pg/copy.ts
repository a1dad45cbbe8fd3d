// Bulk loading with COPY … FROM STDIN (FORMAT binary): the rows travel to the server as one stream,
// with no statement per batch, and vectors go as their float32 values (pgvector's binary input)
// instead of being printed as 384 decimal numbers each and parsed back.
//
// The binary format (PostgreSQL docs, "COPY", Binary Format): a signature, flags and header
// extension length; per row a 16-bit field count and per field a 32-bit byte length and the type's
// binary send form, big-endian; a 16-bit -1 at the end. Field types must match the columns exactly.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
/** Bytes handed to the stream at a time. */
const CHUNK = 1 << 20;

/** Encodes rows in COPY's binary format into chunks of about CHUNK bytes. */
export class CopyEncoder {
  private buf = Buffer.allocUnsafe(2 * CHUNK);
  private at = 0;

  constructor() {
    SIGNATURE.copy(this.buf, 0);
    this.buf.writeInt32BE(0, 11); // flags
    this.buf.writeInt32BE(0, 15); // header extension length
    this.at = 19;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  /** Starts a row of `fields` fields. */
  row(fields: number): this {
    this.room(2);
    this.at = this.buf.writeInt16BE(fields, this.at);
    return this;
  }

  /** A bigint (a non-negative integer below 2^53). */
  int8(x: number): this {
    this.room(12);
    this.at = this.buf.writeInt32BE(8, this.at);
    this.at = this.buf.writeUInt32BE(Math.floor(x / 2 ** 32), this.at);
    this.at = this.buf.writeUInt32BE(x >>> 0, this.at);
    return this;
  }

  int4(x: number): this {
    this.room(8);
    this.at = this.buf.writeInt32BE(4, this.at);
    this.at = this.buf.writeInt32BE(x, this.at);
    return this;
  }

  text(s: string): this {
    const n = Buffer.byteLength(s);
    this.room(4 + n);
    this.at = this.buf.writeInt32BE(n, this.at);
    this.at += this.buf.write(s, this.at, "utf8");
    return this;
  }

  /** jsonb's binary form: version 1, then the JSON text. */
  jsonb(json: string): this {
    const n = Buffer.byteLength(json);
    this.room(5 + n);
    this.at = this.buf.writeInt32BE(n + 1, this.at);
    this.at = this.buf.writeUInt8(1, this.at);
    this.at += this.buf.write(json, this.at, "utf8");
    return this;
  }

  /** pgvector's binary form of values[from, from + dim): int16 dim, int16 0, dim float4. */
  vector(values: Float32Array, from: number, dim: number): this {
    this.room(8 + 4 * dim);
    this.at = this.buf.writeInt32BE(4 + 4 * dim, this.at);
    this.at = this.buf.writeInt16BE(dim, this.at);
    this.at = this.buf.writeInt16BE(0, this.at);
    for (let d = 0; d < dim; d++) this.at = this.buf.writeFloatBE(values[from + d]!, this.at);
    return this;
  }

  /** Whether a chunk is ready to hand over. */
  get full(): boolean {
    return this.at >= CHUNK;
  }

  /** The bytes encoded so far (a copy), and starts over. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.at));
    this.at = 0;
    return out;
  }

  /** The last bytes, with the end-of-data marker. */
  finish(): Buffer {
    this.room(2);
    this.at = this.buf.writeInt16BE(-1, this.at);
    return this.take();
  }
}

/**
 * Runs `COPY table (columns) FROM STDIN (FORMAT binary)` on `client`, the rows encoded by `rows`,
 * which calls encode once per row (a throw there aborts the COPY, and so the transaction).
 * Returns the number of rows copied.
 */
export async function copyRows<T>(
  client: pg.ClientBase,
  table: string,
  columns: string[],
  items: Iterable<T>,
  encode: (e: CopyEncoder, item: T) => void,
): Promise<number> {
  function* chunks(): Generator<Buffer> {
    const e = new CopyEncoder();
    for (const item of items) {
      encode(e, item);
      if (e.full) yield e.take();
    }
    yield e.finish();
  }
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN (FORMAT binary)`));
  await pipeline(Readable.from(chunks(), { objectMode: false }), stream);
  return stream.rowCount;
}
