// Bench child: LangChain.js's vector stores on the scale bench's rows (scripts/bench/rows.ts: the same
// 384-d vectors the embedded store serves), queried with the same precomputed question vectors.
// MemoryVectorStore (LangChain's in-memory store: exact cosine over every vector, in JS) and HNSWLib
// (hnswlib-node, LangChain's defaults: M 16, efConstruction 200, ef 10 raised to k).
//   node --import tsx bench/peer/store-peer.ts --n 100k --questions 200 [--hnsw yes] --result <file>
import { MemoryVectorStore } from "@langchain/classic/vectorstores/memory";
import { HNSWLib } from "@langchain/community/vectorstores/hnswlib";
import { Document } from "@langchain/core/documents";
import { Embeddings } from "@langchain/core/embeddings";
import { argValue, median, percentile, round, writeResult } from "../../scripts/bench/common.js";
import { articles, base, sizeOf } from "../../scripts/bench/rows.js";

/** Queries arrive as vectors: the embeddings class is never asked to embed. */
class PrecomputedOnly extends Embeddings {
  constructor() {
    super({});
  }
  embedDocuments(): Promise<number[][]> {
    throw new Error("the bench passes precomputed vectors");
  }
  embedQuery(): Promise<number[]> {
    throw new Error("the bench passes precomputed vectors");
  }
}

const n = sizeOf(argValue("--n") ?? "100k");
const questions = Number(argValue("--questions") ?? 200);
const k = 10;
const b = await base(questions);
const rows = articles(b, 0, n, 1);
const vectors: number[][] = [];
const docs: Document[] = [];
for (const r of rows)
  r.passages.forEach((p, i) => {
    vectors.push(Array.from(r.vectors.subarray(i * b.dim, (i + 1) * b.dim)));
    docs.push(new Document({ pageContent: p.text, metadata: { articleId: p.articleId, n: p.n } }));
  });
rows.length = 0;
const queries = Array.from({ length: questions }, (_, i) => Array.from(b.queryVectors.subarray(i * b.dim, (i + 1) * b.dim)));

async function measure(name: string, make: () => Promise<{ similaritySearchVectorWithScore(q: number[], k: number): Promise<unknown[]> }>, count: number) {
  const t0 = performance.now();
  const store = await make();
  const buildS = (performance.now() - t0) / 1000;
  for (const q of queries.slice(0, 5)) await store.similaritySearchVectorWithScore(q, k);
  const ms: number[] = [];
  for (const q of queries.slice(0, count)) {
    const t = performance.now();
    await store.similaritySearchVectorWithScore(q, k);
    ms.push(performance.now() - t);
  }
  return { name, buildS: round(buildS, 2), questions: ms.length, p50: round(median(ms), 3), p95: round(percentile(ms, 95), 3) };
}

const embeddings = new PrecomputedOnly();
// The exact scan costs tens of ms a question at 100k: 50 questions are plenty for its median.
const memory = await measure(
  "MemoryVectorStore",
  async () => {
    const s = new MemoryVectorStore(embeddings);
    await s.addVectors(vectors, docs);
    return s;
  },
  Math.min(50, questions),
);
// HNSWLib builds its graph point by point on one core (minutes at 100k here): only with --hnsw yes.
const hnsw =
  argValue("--hnsw") !== "yes"
    ? undefined
    : await measure(
        "HNSWLib",
        async () => {
          const s = new HNSWLib(embeddings, { space: "cosine", numDimensions: b.dim });
          await s.addVectors(vectors, docs);
          return s;
        },
        questions,
      );
writeResult({ rows: vectors.length, k, memory, hnsw });
