// The small part of a snapshot, read and cross-checked: article metadata, the passage table, the
// delta vectors and the keyword segments. The snapshot adds the texts and the base HNSW; a write
// needs only this (an update never reads the big files it carries over).
import { CorpusWords } from "../../search/corpus-words.js";
import { Deletions } from "../../search/postings/deletions.js";
import { PostingsIndex } from "../../search/postings/engine.js";
import { Segment, type SegmentError } from "../../search/postings/segment.js";
import {
  ARTICLES,
  type ArticleRecord,
  CORPUS_WORDS,
  DELTA,
  float32View,
  IndexError,
  int32View,
  PASSAGES,
  ROW,
  readVerified,
  type StoreManifest,
  WHERE,
} from "./format.js";

export interface StoreState {
  dir: string;
  manifest: StoreManifest;
  records: ArticleRecord[];
  /** The passage table, ROW int32 per label (see format.ts). */
  table: Int32Array;
  delta: { labels: Int32Array; vectors: Float32Array };
  /** Label → row in the delta, for labels living there. */
  deltaRow: Map<number, number>;
  keywords: PostingsIndex;
  /** Article index → its live labels in sentence order. */
  byArticle: Int32Array[];
  /** The articles' words and names (undefined in a snapshot written before they were kept). */
  corpusWords?: CorpusWords;
}

const isStr = (s: unknown): s is string => typeof s === "string";
const isOptStr = (s: unknown) => s === undefined || typeof s === "string";
const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

export async function loadState(dir: string, m: StoreManifest): Promise<StoreState> {
  const damaged = (file: string, why: string) => new IndexError(`the index is damaged (${file}: ${why})`);

  let records: ArticleRecord[];
  try {
    records = JSON.parse((await readVerified(dir, m, ARTICLES)).toString("utf8")) as ArticleRecord[];
  } catch (err) {
    if (err instanceof IndexError) throw err;
    throw damaged(ARTICLES, (err as Error).message.split("\n")[0]!);
  }
  if (!Array.isArray(records) || records.length !== m.articles) throw damaged(ARTICLES, `not a list of ${m.articles} articles`);
  const ids = new Set<string>();
  for (const r of records) {
    const ok =
      r &&
      isStr(r.id) &&
      isStr(r.title) &&
      isStr(r.file) &&
      isStr(r.hash) &&
      isOptStr(r.date) &&
      isOptStr(r.source) &&
      isOptStr(r.url) &&
      isOptStr(r.byline) &&
      isCount(r.t) &&
      r.t < m.textFiles.length &&
      isCount(r.o) &&
      isCount(r.b) &&
      isCount(r.l) &&
      r.o + r.b <= m.files[m.textFiles[r.t]!]!.size;
    if (!ok) throw damaged(ARTICLES, "an article record is malformed");
    if (ids.has(r.id)) throw damaged(ARTICLES, `article id ${r.id} appears twice`);
    ids.add(r.id);
  }

  const tableBytes = await readVerified(dir, m, PASSAGES);
  if (tableBytes.length !== m.labels * ROW * 4) throw damaged(PASSAGES, `${tableBytes.length} bytes for ${m.labels} passages`);
  const table = int32View(tableBytes);
  const lists: number[][] = records.map(() => []);
  let live = 0;
  let inDelta = 0;
  for (let label = 0; label < m.labels; label++) {
    const o = label * ROW;
    const a = table[o]!;
    const where = table[o + 4]!;
    if (a === -1) {
      if (where !== WHERE.none && where !== WHERE.base) throw damaged(PASSAGES, `removed passage ${label} is still placed`);
      continue;
    }
    const r = records[a];
    const [n, start, end] = [table[o + 1]!, table[o + 2]!, table[o + 3]!];
    if (!r || n < 0 || start < 0 || end < start || end > r.l || (where !== WHERE.base && where !== WHERE.delta))
      throw damaged(PASSAGES, `passage ${label} is malformed or lies outside its article`);
    lists[a]!.push(label);
    live++;
    if (where === WHERE.delta) inDelta++;
  }
  if (live !== m.passages) throw damaged(PASSAGES, `${live} live passages, the manifest says ${m.passages}`);
  const byArticle = lists.map((l) => Int32Array.from(l).sort((x, y) => table[x * ROW + 1]! - table[y * ROW + 1]!));

  const deltaBytes = await readVerified(dir, m, DELTA);
  const count = deltaBytes.length >= 4 ? deltaBytes.readInt32LE(0) : -1;
  if (count < 0 || deltaBytes.length !== 4 + count * 4 * (1 + m.dimensions) || count !== inDelta)
    throw damaged(DELTA, `its size does not fit ${inDelta} vectors of ${m.dimensions} dimensions`);
  const labels = int32View(deltaBytes, 4, count);
  const vectors = float32View(deltaBytes, 4 + count * 4, count * m.dimensions);
  const deltaRow = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const label = labels[i]!;
    if (label < 0 || label >= m.labels || table[label * ROW + 4] !== WHERE.delta || table[label * ROW] === -1 || deltaRow.has(label))
      throw damaged(DELTA, `vector ${i} belongs to no passage of the delta`);
    deltaRow.set(label, i);
  }
  for (let i = 0; i < vectors.length; i++) if (!Number.isFinite(vectors[i]!)) throw damaged(DELTA, "a vector holds a value that is not a number");

  const segments: Segment[] = [];
  const dels: Array<Deletions | undefined> = [];
  for (const s of m.segments) {
    try {
      // The SHA-256 above covers the bytes; the segment's own CRC would only repeat it.
      const seg = Segment.open(await readVerified(dir, m, s.file), { checksum: false });
      segments.push(seg);
      dels.push(s.deletions ? Deletions.fromBuffer(await readVerified(dir, m, s.deletions), seg.docCount) : undefined);
    } catch (err) {
      if (err instanceof IndexError) throw err;
      throw damaged(s.file, (err as Error).message);
    }
  }
  let keywords: PostingsIndex;
  try {
    keywords = new PostingsIndex(segments, dels);
  } catch (err) {
    throw damaged("keyword segments", (err as SegmentError).message);
  }
  // Every live keyword doc is a live passage, and every live passage has one.
  segments.forEach((seg, si) => {
    for (let d = 0; d < seg.docCount; d++) {
      if (dels[si]?.has(d)) continue;
      const label = seg.labels[d]!;
      if (label >= m.labels || table[label * ROW] === -1) throw damaged(m.segments[si]!.file, `doc ${label} is not a live passage`);
    }
  });
  if (keywords.docCount !== live) throw damaged("keyword segments", `${keywords.docCount} docs for ${live} passages`);

  let corpusWords: CorpusWords | undefined;
  if (Object.hasOwn(m.files, CORPUS_WORDS)) {
    try {
      corpusWords = CorpusWords.fromBytes(await readVerified(dir, m, CORPUS_WORDS));
    } catch (err) {
      if (err instanceof IndexError) throw err;
      throw damaged(CORPUS_WORDS, (err as Error).message);
    }
  }

  return { dir, manifest: m, records, table, delta: { labels, vectors }, deltaRow, keywords, byArticle, corpusWords };
}
