// One immutable keyword segment: a term dictionary, postings in typed arrays (per term: ascending
// local doc ids + term frequencies), doc lengths and doc labels (the caller's passage ids). Built
// from texts, merged from segments minus deleted docs, and stored as one binary buffer that is
// opened in place (typed-array views, no parsing) after checking every offset it will follow.
import { crc32 } from "node:zlib";
import { analyze } from "./analyze.js";
import type { Deletions } from "./deletions.js";
import { TermDictionary, termOrder } from "./dictionary.js";

export const SEGMENT_MAGIC = 0x574b4243; // "CBKW" little-endian
export const SEGMENT_VERSION = 1;
const HEADER_BYTES = 32;
/** Term frequencies are stored in one byte; higher counts saturate (BM25 is flat there anyway). */
export const MAX_TF = 255;
/** Doc lengths (in terms) are stored in two bytes. */
export const MAX_LENGTH = 65535;

export class SegmentError extends Error {}

export interface SegmentParts {
  /** Caller's id of each doc, strictly ascending. */
  labels: Uint32Array;
  /** Terms per doc (capped at MAX_LENGTH). */
  lengths: Uint16Array;
  dictionary: TermDictionary;
  /** Term t's postings are postDocs/postTf[postStart[t], postStart[t + 1]). */
  postStart: Uint32Array;
  postDocs: Uint32Array;
  postTf: Uint8Array;
}

/** Growable Uint32 list (build-time forward lists). */
class U32List {
  data = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

export class Segment implements SegmentParts {
  readonly labels: Uint32Array;
  readonly lengths: Uint16Array;
  readonly dictionary: TermDictionary;
  readonly postStart: Uint32Array;
  readonly postDocs: Uint32Array;
  readonly postTf: Uint8Array;
  /** Sum of doc lengths. */
  readonly totalLength: number;

  constructor(parts: SegmentParts) {
    this.labels = parts.labels;
    this.lengths = parts.lengths;
    this.dictionary = parts.dictionary;
    this.postStart = parts.postStart;
    this.postDocs = parts.postDocs;
    this.postTf = parts.postTf;
    let total = 0;
    for (let i = 0; i < this.lengths.length; i++) total += this.lengths[i]!;
    this.totalLength = total;
  }

  get docCount(): number {
    return this.labels.length;
  }

  get termCount(): number {
    return this.dictionary.count;
  }

  get postingCount(): number {
    return this.postDocs.length;
  }

  /** Local doc id of `label`, or -1. */
  docOf(label: number): number {
    let lo = 0;
    let hi = this.labels.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.labels[mid]!;
      if (v === label) return mid;
      if (v < label) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** A segment of `texts`; doc i gets label labels[i] (default: i). Labels must ascend strictly. */
  static build(texts: string[], labels?: ArrayLike<number>): Segment {
    const n = texts.length;
    const labelArray = new Uint32Array(n);
    for (let i = 0; i < n; i++) labelArray[i] = labels ? labels[i]! : i;
    checkLabels(labelArray);
    const termIds = new Map<string, number>();
    const termList: string[] = [];
    const docStart = new Uint32Array(n + 1);
    const fwdTerm = new U32List();
    const fwdTf = new U32List();
    const lengths = new Uint16Array(n);
    const ids: number[] = [];
    for (let d = 0; d < n; d++) {
      const ts = analyze(texts[d]!);
      lengths[d] = Math.min(ts.length, MAX_LENGTH);
      ids.length = 0;
      for (const t of ts) {
        let id = termIds.get(t);
        if (id === undefined) {
          id = termList.length;
          termIds.set(t, id);
          termList.push(t);
        }
        ids.push(id);
      }
      ids.sort((a, b) => a - b);
      for (let i = 0; i < ids.length; ) {
        let j = i + 1;
        while (j < ids.length && ids[j] === ids[i]) j++;
        fwdTerm.push(ids[i]!);
        fwdTf.push(Math.min(j - i, MAX_TF));
        i = j;
      }
      docStart[d + 1] = fwdTerm.length;
    }
    return Segment.fromForward(labelArray, lengths, termList, docStart, fwdTerm.data, fwdTf.data);
  }

  /**
   * Inverts forward lists (doc d holds terms fwdTerm[docStart[d], docStart[d + 1]) with their
   * frequencies; ids index `termList`) into a segment with sorted terms and ascending postings.
   */
  private static fromForward(
    labels: Uint32Array,
    lengths: Uint16Array,
    termList: string[],
    docStart: Uint32Array,
    fwdTerm: Uint32Array,
    fwdTf: Uint32Array,
  ): Segment {
    const T = termList.length;
    const order = termOrder(termList);
    const newId = new Uint32Array(T);
    order.forEach((old, i) => {
      newId[old] = i;
    });
    const sorted = order.map((old) => termList[old]!);
    const n = labels.length;
    const P = docStart[n]!;
    const postStart = new Uint32Array(T + 1);
    for (let p = 0; p < P; p++) postStart[newId[fwdTerm[p]!]! + 1]!++;
    for (let t = 0; t < T; t++) postStart[t + 1]! += postStart[t]!;
    const fill = postStart.slice(0, T);
    const postDocs = new Uint32Array(P);
    const postTf = new Uint8Array(P);
    for (let d = 0; d < n; d++) {
      for (let p = docStart[d]!; p < docStart[d + 1]!; p++) {
        const t = newId[fwdTerm[p]!]!;
        const at = fill[t]!++;
        postDocs[at] = d;
        postTf[at] = fwdTf[p]!;
      }
    }
    return new Segment({ labels, lengths, dictionary: TermDictionary.fromSorted(sorted), postStart, postDocs, postTf });
  }

  /**
   * One segment holding every doc of `segments` not marked in `deletions[i]`, ordered by label:
   * byte for byte what `Segment.build` makes of the same live texts in label order.
   */
  static merge(segments: Segment[], deletions: Array<Deletions | undefined> = []): Segment {
    // Live docs of all segments, ordered by label.
    const live: Array<[label: number, seg: number, doc: number]> = [];
    segments.forEach((s, si) => {
      for (let d = 0; d < s.docCount; d++) if (!deletions[si]?.has(d)) live.push([s.labels[d]!, si, d]);
    });
    live.sort((a, b) => a[0] - b[0]);
    const n = live.length;
    const labels = new Uint32Array(n);
    const lengths = new Uint16Array(n);
    const newDoc = segments.map((s) => new Int32Array(s.docCount).fill(-1));
    live.forEach(([label, si, d], i) => {
      labels[i] = label;
      lengths[i] = segments[si]!.lengths[d]!;
      newDoc[si]![d] = i;
    });
    checkLabels(labels);
    // Union of terms, and the forward lists of the live docs.
    const termIds = new Map<string, number>();
    const termList: string[] = [];
    const segTermIds = segments.map((s) => {
      const map = new Uint32Array(s.termCount);
      for (let t = 0; t < s.termCount; t++) {
        const term = s.dictionary.term(t);
        let id = termIds.get(term);
        if (id === undefined) {
          id = termList.length;
          termIds.set(term, id);
          termList.push(term);
        }
        map[t] = id;
      }
      return map;
    });
    const docStart = new Uint32Array(n + 1);
    segments.forEach((s, si) => {
      for (let p = 0; p < s.postingCount; p++) {
        const nd = newDoc[si]![s.postDocs[p]!]!;
        if (nd >= 0) docStart[nd + 1]!++;
      }
    });
    for (let d = 0; d < n; d++) docStart[d + 1]! += docStart[d]!;
    const fill = docStart.slice(0, n);
    const fwdTerm = new Uint32Array(docStart[n]!);
    const fwdTf = new Uint32Array(docStart[n]!);
    const used = new Uint8Array(termList.length);
    segments.forEach((s, si) => {
      for (let t = 0; t < s.termCount; t++) {
        const id = segTermIds[si]![t]!;
        for (let p = s.postStart[t]!; p < s.postStart[t + 1]!; p++) {
          const nd = newDoc[si]![s.postDocs[p]!]!;
          if (nd < 0) continue;
          const at = fill[nd]!++;
          fwdTerm[at] = id;
          fwdTf[at] = s.postTf[p]!;
          used[id] = 1;
        }
      }
    });
    // Terms whose every doc was deleted disappear, as in a rebuild.
    const keep: number[] = [];
    const remap = new Uint32Array(termList.length);
    termList.forEach((_, id) => {
      if (used[id]) {
        remap[id] = keep.length;
        keep.push(id);
      }
    });
    for (let p = 0; p < fwdTerm.length; p++) fwdTerm[p] = remap[fwdTerm[p]!]!;
    return Segment.fromForward(
      labels,
      lengths,
      keep.map((id) => termList[id]!),
      docStart,
      fwdTerm,
      fwdTf,
    );
  }

  /**
   * The binary form, little-endian. Header (32 bytes): magic "CBKW", format version, doc count n,
   * term count T, posting count P, term bytes B, CRC-32 of everything after the header, 0. Then,
   * each padded to 4 bytes: labels u32[n], postStart u32[T+1], postDocs u32[P], term offsets
   * u32[T+1], doc lengths u16[n], term frequencies u8[P], term bytes u8[B] (UTF-8, sorted).
   */
  toBuffer(): Buffer {
    const n = this.docCount;
    const T = this.termCount;
    const P = this.postingCount;
    const B = this.dictionary.bytes.length;
    const layout = sectionLayout(n, T, P, B);
    const buf = Buffer.alloc(layout.total);
    const put = (off: number, arr: ArrayBufferView) => buf.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), off);
    put(layout.labels, this.labels);
    put(layout.postStart, this.postStart);
    put(layout.postDocs, this.postDocs);
    put(layout.termOffsets, this.dictionary.offsets);
    put(layout.lengths, this.lengths);
    put(layout.postTf, this.postTf);
    put(layout.termBytes, this.dictionary.bytes);
    buf.writeUInt32LE(SEGMENT_MAGIC, 0);
    buf.writeUInt32LE(SEGMENT_VERSION, 4);
    buf.writeUInt32LE(n, 8);
    buf.writeUInt32LE(T, 12);
    buf.writeUInt32LE(P, 16);
    buf.writeUInt32LE(B, 20);
    buf.writeUInt32LE(crc32(buf.subarray(HEADER_BYTES)), 24);
    return buf;
  }

  /**
   * Opens a segment from its binary form without copying (unless the buffer is misaligned).
   * Throws SegmentError when the buffer is truncated, damaged or not a segment. `checksum: false`
   * skips the CRC (the structural checks that keep every read in range always run).
   */
  static open(input: Uint8Array, opts: { checksum?: boolean } = {}): Segment {
    if (input.byteLength < HEADER_BYTES)
      throw new SegmentError(`the keyword segment is truncated (${input.byteLength} bytes, the header alone is ${HEADER_BYTES})`);
    // Typed-array views need 4-byte alignment; a pooled Buffer slice may not have it.
    const buf = input.byteOffset % 4 === 0 ? input : new Uint8Array(input);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (view.getUint32(0, true) !== SEGMENT_MAGIC) throw new SegmentError("this is not a citebot keyword segment (bad magic number)");
    const version = view.getUint32(4, true);
    if (version !== SEGMENT_VERSION) throw new SegmentError(`the keyword segment has format version ${version}; this citebot reads version ${SEGMENT_VERSION}`);
    const n = view.getUint32(8, true);
    const T = view.getUint32(12, true);
    const P = view.getUint32(16, true);
    const B = view.getUint32(20, true);
    const layout = sectionLayout(n, T, P, B);
    if (layout.total !== buf.byteLength) {
      throw new SegmentError(
        `the keyword segment is ${buf.byteLength < layout.total ? "truncated" : "longer than its header says"} (${buf.byteLength} bytes, expected ${layout.total})`,
      );
    }
    if (opts.checksum !== false && crc32(buf.subarray(HEADER_BYTES)) !== view.getUint32(24, true))
      throw new SegmentError("the keyword segment is damaged (checksum mismatch)");
    const u32 = (off: number, count: number) => new Uint32Array(buf.buffer, buf.byteOffset + off, count);
    const parts: SegmentParts = {
      labels: u32(layout.labels, n),
      postStart: u32(layout.postStart, T + 1),
      postDocs: u32(layout.postDocs, P),
      lengths: new Uint16Array(buf.buffer, buf.byteOffset + layout.lengths, n),
      postTf: new Uint8Array(buf.buffer, buf.byteOffset + layout.postTf, P),
      dictionary: new TermDictionary(new Uint8Array(buf.buffer, buf.byteOffset + layout.termBytes, B), u32(layout.termOffsets, T + 1)),
    };
    const problem = checkStructure(parts);
    if (problem) throw new SegmentError(`the keyword segment is damaged (${problem})`);
    return new Segment(parts);
  }
}

function sectionLayout(n: number, T: number, P: number, B: number) {
  const align = (x: number) => Math.ceil(x / 4) * 4;
  let at = HEADER_BYTES;
  const take = (bytes: number) => {
    const start = at;
    at += align(bytes);
    return start;
  };
  const labels = take(4 * n);
  const postStart = take(4 * (T + 1));
  const postDocs = take(4 * P);
  const termOffsets = take(4 * (T + 1));
  const lengths = take(2 * n);
  const postTf = take(P);
  const termBytes = take(B);
  return { labels, postStart, postDocs, termOffsets, lengths, postTf, termBytes, total: at };
}

function checkLabels(labels: Uint32Array): void {
  for (let i = 1; i < labels.length; i++) {
    if (labels[i]! <= labels[i - 1]!) throw new SegmentError(`doc labels must be unique and ascending (label ${labels[i]} after ${labels[i - 1]})`);
  }
}

/** Everything a reader follows: offsets monotone and in range, postings ascending, terms sorted. */
function checkStructure(p: SegmentParts): string | undefined {
  const n = p.labels.length;
  const T = p.dictionary.count;
  const P = p.postDocs.length;
  for (let i = 1; i < n; i++) if (p.labels[i]! <= p.labels[i - 1]!) return `doc labels out of order at ${i}`;
  const off = p.dictionary.offsets;
  if (off[0] !== 0 || off[T] !== p.dictionary.bytes.length) return "term offsets do not span the term bytes";
  for (let t = 0; t < T; t++) if (off[t + 1]! <= off[t]!) return `term offsets out of order at ${t}`;
  if (p.postStart[0] !== 0 || p.postStart[T] !== P) return "posting offsets do not span the postings";
  for (let t = 0; t < T; t++) {
    const s = p.postStart[t]!;
    const e = p.postStart[t + 1]!;
    if (e <= s) return `term ${t} has no postings or its offsets are out of order`;
    let prev = -1;
    for (let k = s; k < e; k++) {
      const d = p.postDocs[k]!;
      if (d <= prev || d >= n) return `posting ${k} of term ${t} names doc ${d} out of order or out of range`;
      if (p.postTf[k] === 0) return `posting ${k} has a zero term frequency`;
      prev = d;
    }
  }
  return p.dictionary.checkOrder();
}
