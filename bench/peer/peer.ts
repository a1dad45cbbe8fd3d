// Bench child: the same corpus and model through LangChain.js (HNSWLib vector store +
// HuggingFaceTransformersEmbeddings) side by side with citebot, in one process.
//
// Both get the same documents: citebot's sentences (one LangChain Document per sentence, so both
// embed the same texts). LangChain's embeddings class imports @huggingface/transformers (our v4)
// and runs its feature-extraction pipeline on our local model folder, offline.
//   node --import tsx bench/peer/peer.ts --corpus <dir> --data <dir> --result <file>
import path from "node:path";
import { env } from "@huggingface/transformers";
import { HuggingFaceTransformersEmbeddings } from "@langchain/community/embeddings/huggingface_transformers";
import { HNSWLib } from "@langchain/community/vectorstores/hnswlib";
import { Document } from "@langchain/core/documents";
import {
  argValue,
  dirBytes,
  freshDir,
  log,
  percentile,
  questionsFromPassages,
  round,
  THREADS,
  variedQuestions,
  writeResult,
} from "../../scripts/bench/common.js";
import { renderText } from "../../src/answer/render.js";
import { Citebot } from "../../src/citebot.js";
import { loadCorpus } from "../../src/corpus/load.js";
import { splitArticle } from "../../src/corpus/split.js";
import { TransformersEmbedder } from "../../src/embed/embedder.js";
import { indexDirFor } from "../../src/index/store.js";
import { openStore, planChanges } from "../../src/store/open.js";

const corpusDir = argValue("--corpus")!;
const dataDir = argValue("--data")!;
const questionCount = Number(argValue("--questions") ?? 200);

const corpus = await loadCorpus(corpusDir);
const passages = corpus.articles.flatMap(splitArticle);
const titles = new Map(corpus.articles.map((a) => [a.id, a.title]));
const docs = passages.map((p) => new Document({ pageContent: p.text, metadata: { articleId: p.articleId, title: titles.get(p.articleId), n: p.n } }));

// citebot: build its index from nothing (embed + HNSW + BM25 + write).
freshDir(dataDir);
const embedder = await TransformersEmbedder.load({ threads: THREADS });
let embedMs = 0;
let embedStart = 0;
let t = performance.now();
const onProgress = (done: number, total: number, stage: string) => {
  if (stage !== "embed") return;
  if (done === 0) embedStart = performance.now();
  if (done >= total) embedMs = performance.now() - embedStart;
};
const ourStore = openStore(indexDirFor(dataDir, corpusDir), { onProgress });
const { snapshot: built } = await ourStore.write(await planChanges(corpus.articles, undefined, embedder, { onProgress }));
const oursBuild = { seconds: round((performance.now() - t) / 1000, 2), embedSeconds: round(embedMs / 1000, 2), passages: built.info.passages };
await ourStore.close();
log(`citebot index: ${oursBuild.seconds} s (${passages.length} sentences)`);

// LangChain: HNSWLib.fromDocuments (embedDocuments + HNSW) and save, on the same sentences and model.
// TransformersEmbedder.load pointed transformers.js's env at models/ offline; say so explicitly.
env.allowLocalModels = true;
env.allowRemoteModels = false;
const lcEmbeddings = new HuggingFaceTransformersEmbeddings({
  model: "glove-sif-100d",
  pretrainedOptions: { dtype: "fp32", session_options: { intraOpNumThreads: THREADS } } as never,
});
let lcEmbedMs = 0;
const embedDocuments = lcEmbeddings.embedDocuments.bind(lcEmbeddings);
lcEmbeddings.embedDocuments = async (texts: string[]) => {
  const s = performance.now();
  const out = await embedDocuments(texts);
  lcEmbedMs += performance.now() - s;
  return out;
};
await lcEmbeddings.embedQuery("load the pipeline before timing");
t = performance.now();
const store = await HNSWLib.fromDocuments(docs, lcEmbeddings);
const lcDir = path.join(dataDir, "langchain");
await store.save(lcDir);
const lcBuild = {
  seconds: round((performance.now() - t) / 1000, 2),
  embedSeconds: round(lcEmbedMs / 1000, 2),
  passages: docs.length,
  indexBytes: dirBytes(lcDir),
};
log(`LangChain HNSWLib index: ${lcBuild.seconds} s`);
// Texts with no known word: the pipeline pools them to NaN (citebot stores the zero vector).
const nanVectors = (await embedDocuments(docs.map((d) => d.pageContent).slice(0, 5000))).filter((v) => v.some((x) => Number.isNaN(x))).length;

// Question → rendered answer, alternating the two systems question by question.
const bot = await Citebot.open({ corpusDir, dataDir, embedder });
const questions =
  passages.length > 5000
    ? [
        ...variedQuestions(Math.floor(questionCount / 2)),
        ...questionsFromPassages(
          passages.map((p) => p.text),
          questionCount - Math.floor(questionCount / 2),
          11,
        ),
      ]
    : variedQuestions(questionCount);
const renderLc = (q: string, found: Document[]) =>
  [q, ...found.map((d, i) => `[${i + 1}] “${d.pageContent}”\n    — ${d.metadata.title} (sentence ${Number(d.metadata.n) + 1})`)].join("\n");
for (const q of questionsFromPassages(
  passages.map((p) => p.text),
  40,
  99,
)) {
  renderText(await bot.answer(q));
  renderLc(q, await store.similaritySearch(q, 3));
}
const ours: number[] = [];
const theirs: number[] = [];
for (const q of questions) {
  let s = performance.now();
  renderText(await bot.answer(q));
  ours.push(performance.now() - s);
  s = performance.now();
  renderLc(q, await store.similaritySearch(q, 3));
  theirs.push(performance.now() - s);
}
const lat = (xs: number[]) => ({ p50: round(percentile(xs, 50), 3), p95: round(percentile(xs, 95), 3) });
writeResult({
  passages: passages.length,
  questions: questions.length,
  ours: { build: oursBuild, latency: lat(ours) },
  langchain: {
    build: lcBuild,
    latency: lat(theirs),
    transformersImport: "@huggingface/transformers (the project's v4; @langchain/community declares ^3.8.1 as an optional peer)",
    search: "HNSWLib.similaritySearch(q, 3): dense only, hnswlib default ef 10, M 16, efConstruction 200",
    nanVectorsInFirst5000: nanVectors,
  },
  ratios: {
    indexTimeLangchainOverOurs: round(lcBuild.seconds / oursBuild.seconds, 2),
    embedTimeLangchainOverOurs: round(lcBuild.embedSeconds / Math.max(oursBuild.embedSeconds, 0.001), 2),
    latencyP50LangchainOverOurs: round(percentile(theirs, 50) / percentile(ours, 50), 2),
    latencyP95LangchainOverOurs: round(percentile(theirs, 95) / percentile(ours, 95), 2),
  },
});
