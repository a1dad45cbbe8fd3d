// A JavaScript reader of hnswlib's index file (hnswalg.h saveIndex/loadIndex, hnswlib 0.8), used to
// check the store's base HNSW file *before* the native code searches it. hnswlib trusts its file: a
// wrong entry point, max level, element count, neighbour id or level makes searches read outside
// its buffers and the process segfaults (uncatchable). Everything native code later indexes with is
// checked here, so a damaged or forged file is an IndexError ("rebuild"), never a crash. Loading
// alone (loadIndex) follows no link: it reads and allocates what the header says, so the snapshot
// lets hnswlib load the file once the header matched the manifest, while the rest is checked (and
// hashed on another thread); the graph is used only after both passed. Labels are
// stable passage ids (any value below the passage table's length, each at most once) and elements
// may carry hnswlib's deleted mark (an incremental fold marks removed passages deleted and reuses
// their slots). The file is read in order, level 0 in chunks of elements, so it is never held whole
// in memory (~1.7 GB at 1M rows).
//
// Layout (little-endian, size_t = 8 bytes, tableint = uint32):
//   header (96 bytes): offsetLevel0, maxElements, count, sizeDataPerElement, labelOffset, offsetData
//   (size_t each), maxLevel (int32), entryPoint (uint32), maxM, maxM0, M (size_t), mult (double),
//   efConstruction (size_t)
//   level 0, count × sizeDataPerElement: [links: uint16 count, uint8 flags, uint8 | maxM0 × uint32]
//   [vector: dims × float32][label: size_t]
//   then per element: uint32 linkListSize, then linkListSize bytes = level × [uint32 count | maxM × uint32]

export const HNSW_HEADER_BYTES = 96;

export interface HnswHeader {
  offsetLevel0: number;
  maxElements: number;
  count: number;
  sizeDataPerElement: number;
  labelOffset: number;
  offsetData: number;
  maxLevel: number;
  entryPoint: number;
  maxM: number;
  maxM0: number;
  m: number;
  mult: number;
  efConstruction: number;
}

/** What the manifest records of the HNSW file, to compare with its header. */
export interface HnswSummary {
  elements: number;
  maxElements: number;
  entryPoint: number;
  maxLevel: number;
  m: number;
  efConstruction: number;
}

export class HnswFormatError extends Error {}

/** A size_t field as a safe integer; anything above 2^53 is treated as damage. */
function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new HnswFormatError(`a header field at byte ${at} is out of range`);
  return Number(v);
}

export function readHnswHeader(buf: Buffer): HnswHeader {
  if (buf.length < HNSW_HEADER_BYTES) throw new HnswFormatError(`the file is shorter than its header (${buf.length} bytes)`);
  return {
    offsetLevel0: u64(buf, 0),
    maxElements: u64(buf, 8),
    count: u64(buf, 16),
    sizeDataPerElement: u64(buf, 24),
    labelOffset: u64(buf, 32),
    offsetData: u64(buf, 40),
    maxLevel: buf.readInt32LE(48),
    entryPoint: buf.readUInt32LE(52),
    maxM: u64(buf, 56),
    maxM0: u64(buf, 64),
    m: u64(buf, 72),
    mult: buf.readDoubleLE(80),
    efConstruction: u64(buf, 88),
  };
}

export function summarizeHnsw(h: HnswHeader): HnswSummary {
  return { elements: h.count, maxElements: h.maxElements, entryPoint: h.entryPoint, maxLevel: h.maxLevel, m: h.m, efConstruction: h.efConstruction };
}

const DELETED_MARK = 1;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface HnswContents {
  /** Labels of the elements not marked deleted, ascending. */
  live: Int32Array;
  /** How many elements carry the deleted mark. */
  deleted: number;
  /** Label → element number in the file (-1: none), and where element i's vector starts: vectorAt + i × stride. */
  elementOf: Int32Array;
  vectorAt: number;
  stride: number;
}

/** What a check is given: the manifest's view of the file. */
export interface HnswExpected {
  dimensions: number;
  summary: HnswSummary;
  /** Every label must be below it (the passage table's length). */
  labelLimit: number;
}

/**
 * The file's bytes in order, one range at a time: `read(at, length)` returns those bytes (a
 * 4-byte-aligned Buffer, valid until the next call). Every byte of the file is read exactly once,
 * in order, so a caller can hash what it is handed.
 */
export type HnswReader = (at: number, length: number) => Promise<Buffer>;

/** Level-0 elements checked per read (~16 MB at 384 dimensions). */
const ELEMENTS_PER_READ = 8192;

/**
 * Checks the header against the manifest's summary and the file's size: after it passes, the file's
 * allocations (elements, capacity, layout) are the manifest's, so hnswlib may start loading it
 * while the rest is checked. Throws HnswFormatError.
 */
export function checkHnswHeader(head: Buffer, fileSize: number, expected: HnswExpected): HnswHeader {
  const h = readHnswHeader(head);
  const want = expected.summary;
  const dim = expected.dimensions;
  const fail = (msg: string): never => {
    throw new HnswFormatError(msg);
  };
  if (h.count !== want.elements) fail(`it holds ${h.count} elements, the manifest says ${want.elements}`);
  if (h.maxElements !== want.maxElements) fail(`its capacity is ${h.maxElements}, the manifest says ${want.maxElements}`);
  if (h.entryPoint !== want.entryPoint) fail(`its entry point is ${h.entryPoint}, the manifest says ${want.entryPoint}`);
  if (h.maxLevel !== want.maxLevel) fail(`its top level is ${h.maxLevel}, the manifest says ${want.maxLevel}`);
  if (h.m !== want.m || h.maxM !== want.m || h.maxM0 !== 2 * want.m)
    fail(`its link sizes (M ${h.m}, ${h.maxM}, ${h.maxM0}) disagree with the manifest (M ${want.m})`);
  if (h.efConstruction !== want.efConstruction) fail(`its efConstruction is ${h.efConstruction}, the manifest says ${want.efConstruction}`);
  if (!(Math.abs(h.mult - 1 / Math.log(h.m)) < 1e-9)) fail("its level multiplier is damaged");
  if (h.count < 1 || h.count > h.maxElements) fail(`its element count ${h.count} is out of range`);
  if (h.maxLevel < 0 || h.maxLevel > 64) fail(`its top level ${h.maxLevel} is out of range`);
  if (h.entryPoint >= h.count) fail(`its entry point ${h.entryPoint} is not one of its ${h.count} elements`);
  const linksLevel0 = h.maxM0 * 4 + 4;
  if (h.offsetLevel0 !== 0 || h.offsetData !== linksLevel0 || h.labelOffset !== linksLevel0 + dim * 4 || h.sizeDataPerElement !== linksLevel0 + dim * 4 + 8) {
    fail(`its element layout does not fit ${dim}-dimensional vectors`);
  }
  if (fileSize < HNSW_HEADER_BYTES + h.count * h.sizeDataPerElement) fail("it is shorter than its elements");
  return h;
}

/**
 * Checks the whole file against the manifest's summary and against itself, reading it in order
 * (level 0 in chunks, then the upper levels whole: they are small), so it is never held whole in
 * memory. Returns the labels it holds. Throws HnswFormatError.
 */
export async function checkStoreHnswStream(
  read: HnswReader,
  fileSize: number,
  expected: HnswExpected,
  header?: HnswHeader,
  /** The first element with a non-finite vector (or -1) when the caller scanned the vectors itself (our addon, while loading). */
  nonFinite?: number,
): Promise<HnswContents> {
  // A caller that passes the checked header has read its bytes already.
  const h = header ?? checkHnswHeader(await read(0, HNSW_HEADER_BYTES), fileSize, expected);
  const fail = (msg: string): never => {
    throw new HnswFormatError(msg);
  };
  const level0End = HNSW_HEADER_BYTES + h.count * h.sizeDataPerElement;
  const elementOf = new Int32Array(expected.labelLimit).fill(-1);
  const live = new Int32Array(h.count);
  const level0 = { elementOf, live, liveCount: 0, deleted: 0 };
  for (let first = 0; first < h.count; first += ELEMENTS_PER_READ) {
    const n = Math.min(ELEMENTS_PER_READ, h.count - first);
    checkLevel0(await read(HNSW_HEADER_BYTES + first * h.sizeDataPerElement, n * h.sizeDataPerElement), first, n, h, expected, level0, nonFinite === undefined);
  }
  if (nonFinite !== undefined && nonFinite >= 0) fail(`element ${nonFinite} holds a vector that is not a number`);
  const { liveCount, deleted } = level0;

  // The upper levels: per element a uint32 size, then its links; read whole (a few MB at 1M elements).
  const upper = await read(level0End, fileSize - level0End);
  const sizeLinks = h.maxM * 4 + 4;
  const levels = new Int32Array(h.count);
  const upperAt = new Float64Array(h.count);
  let at = 0;
  for (let i = 0; i < h.count; i++) {
    if (at + 4 > upper.length) fail("it ends inside its upper levels");
    const size = upper.readUInt32LE(at);
    at += 4;
    if (size % sizeLinks !== 0) fail(`element ${i} has a damaged link list size`);
    const level = size / sizeLinks;
    if (level > h.maxLevel) fail(`element ${i} sits above the top level`);
    if (at + size > upper.length) fail("it ends inside its upper levels");
    levels[i] = level;
    upperAt[i] = at;
    at += size;
  }
  if (at !== upper.length) fail(`it has ${upper.length - at} bytes more than its elements need`);
  if (levels[h.entryPoint] !== h.maxLevel) fail(`its entry point is on level ${levels[h.entryPoint]}, not on the top level ${h.maxLevel}`);
  for (let i = 0; i < h.count; i++) {
    for (let l = 1; l <= levels[i]!; l++) {
      const block = upperAt[i]! + (l - 1) * sizeLinks;
      const n = upper.readUInt16LE(block);
      if (n > h.maxM) fail(`element ${i} has ${n} neighbours on level ${l}, more than ${h.maxM}`);
      for (let k = 0; k < n; k++) {
        const id = upper.readUInt32LE(block + 4 + k * 4);
        if (id >= h.count || levels[id]! < l) fail(`element ${i} links on level ${l} to ${id}, which is not on that level`);
      }
    }
  }
  return { live: live.slice(0, liveCount).sort(), deleted, elementOf, vectorAt: HNSW_HEADER_BYTES + h.offsetData, stride: h.sizeDataPerElement };
}

/**
 * Level-0 elements first … first + n - 1 (their bytes: `bytes`): flags, links, vector, label. A
 * plain loop apart from the async reader, so it is optimised as one (1M × 384 floats per open).
 */
function checkLevel0(
  bytes: Buffer,
  first: number,
  n: number,
  h: HnswHeader,
  expected: HnswExpected,
  out: { elementOf: Int32Array; live: Int32Array; liveCount: number; deleted: number },
  checkVectors: boolean,
): void {
  const fail = (msg: string): never => {
    throw new HnswFormatError(msg);
  };
  const dim = expected.dimensions;
  const { elementOf, live } = out;
  const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  const f32 = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  const stride = h.sizeDataPerElement >>> 2;
  const labelWord = h.labelOffset >>> 2;
  const dataWord = h.offsetData >>> 2;
  for (let k = 0; k < n; k++) {
    const i = first + k;
    const w = k * stride;
    const head = u32[w]!; // uint16 link count, uint8 flags, uint8 (zero)
    const n0 = head & 0xffff;
    const flags = (head >>> 16) & 0xff;
    if ((flags & ~DELETED_MARK) !== 0 || head >>> 24 !== 0) fail(`element ${i} has damaged flags`);
    if (n0 > h.maxM0) fail(`element ${i} has ${n0} neighbours, more than ${h.maxM0}`);
    for (let j = 0; j < n0; j++) if (u32[w + 1 + j]! >= h.count) fail(`element ${i} links to ${u32[w + 1 + j]}, beyond its ${h.count} elements`);
    // A NaN or an infinity anywhere makes the sum one (and an absurdly large vector overflows it: damage too).
    // Four sums: one would wait on each add (half the speed, 1M × 384 floats per open).
    if (checkVectors) {
      const v = w + dataWord;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let d = 0;
      for (; d + 4 <= dim; d += 4) {
        s0 += f32[v + d]!;
        s1 += f32[v + d + 1]!;
        s2 += f32[v + d + 2]!;
        s3 += f32[v + d + 3]!;
      }
      for (; d < dim; d++) s0 += f32[v + d]!;
      if (!Number.isFinite(s0 + s1 + s2 + s3)) fail(`element ${i} holds a vector that is not a number`);
    }
    const labelLow = u32[w + labelWord]!;
    const labelHigh = u32[w + labelWord + 1]!;
    if (labelHigh !== 0 || labelLow >= expected.labelLimit || elementOf[labelLow] !== -1) fail(`element ${i} has a damaged label`);
    elementOf[labelLow] = i;
    if (flags & DELETED_MARK) out.deleted++;
    else live[out.liveCount++] = labelLow;
  }
}

/** Checks a file held in memory (see checkStoreHnswStream). Throws HnswFormatError. */
export async function checkStoreHnsw(buf: Buffer, expected: HnswExpected): Promise<HnswContents> {
  // Word-aligned views need an aligned Buffer (the header and element size are multiples of 4).
  const bytes = buf.byteOffset % 4 === 0 ? buf : Buffer.from(buf);
  if (bytes.length < HNSW_HEADER_BYTES) readHnswHeader(bytes);
  return checkStoreHnswStream(
    async (at, length) => {
      // Every range a checked header promises lies inside the file; the upper levels are what is left.
      await yieldToLoop();
      return bytes.subarray(at, at + length);
    },
    bytes.length,
    expected,
  );
}
