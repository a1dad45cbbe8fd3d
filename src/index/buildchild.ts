// The child process of an isolated index build (see isolated.ts): reads the corpus, loads the
// embedder, builds (or finds up to date) the index and commits it, then tells the parent what it
// did. Whatever goes wrong here, even a native abort, costs only this process.
import { writeFileSync } from "node:fs";
import { openSnapshot } from "../citebot.js";
import { loadCorpus } from "../corpus/load.js";
import { TransformersEmbedder } from "../embed/embedder.js";
import { openStore } from "../store/open.js";
import type { ChildBuildRequest, ChildMessage } from "./isolated.js";
import type { Progress } from "./settings.js";

const send = (msg: ChildMessage): Promise<void> =>
  new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });

async function run(req: ChildBuildRequest): Promise<void> {
  // If the machine runs out of memory, the kernel should kill this build, not the bot (Linux; best effort).
  try {
    writeFileSync("/proc/self/oom_score_adj", "1000");
  } catch {
    // not Linux, or not allowed: the memory watchdog still applies
  }
  // Where the parent can't read /proc, it relies on these reports.
  if (process.platform !== "linux") setInterval(() => void send({ type: "rss", bytes: process.memoryUsage.rss() }), 250).unref();

  void send({ type: "stage", stage: "reading the articles" });
  const corpus = await loadCorpus(req.corpusDir);
  void send({ type: "stage", stage: "loading the embedding model" });
  const embedder = await TransformersEmbedder.load({ model: req.model, remoteHost: req.remoteHost });
  let lastStage = "";
  const onProgress: Progress = (done, total, stage) => {
    if (stage !== lastStage) void send({ type: "stage", stage: stage === "embed" ? "embedding sentences" : "building the vector index" });
    lastStage = stage;
    void send({ type: "progress", done, total, stage });
  };
  // A writer: the graph is verified but never loaded into memory (it plans from hashes and stored vectors).
  const store = await openStore(req.indexDir, { onProgress, graph: "on-demand" });
  const { snapshot, status } = await openSnapshot(store, corpus.articles, embedder, onProgress, (article) =>
    send({ type: "stage", stage: `splitting ${article.file} into sentences` }),
  );
  const version = snapshot.info.version;
  await snapshot.close();
  await store.close();
  await send({ type: "done", result: { ...status, skipped: corpus.skipped, version } });
}

// The bot went away (stopped, or died): nobody will load this build, so don't finish it.
process.once("disconnect", () => process.exit(1));

process.once("message", (req: ChildBuildRequest) => {
  run(req).then(
    () => process.exit(0),
    async (err: unknown) => {
      await send({ type: "failed", message: (err as Error)?.message?.split("\n")[0] ?? String(err) });
      process.exit(1);
    },
  );
});
