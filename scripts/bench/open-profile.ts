// Opens an index's current snapshot once (FileStore.current, then Retriever.open without a model
// run) and prints the time and RSS of each: run under --cpu-prof to see where an open goes.
//   node --expose-gc --import tsx scripts/bench/open-profile.ts <index dir> [--graph on-demand] [--retriever]
import { TransformersEmbedder } from "../../src/embed/embedder.js";
import { Retriever } from "../../src/search/retriever.js";
import { FileStore } from "../../src/store/fs/store.js";
import { argValue, peakRss } from "./common.js";
import { MODEL } from "./rows.js";

const indexDir = process.argv[2]!;
const MB = (x: number) => Math.round(x / 2 ** 20);
const graph = argValue("--graph") === "on-demand" ? "on-demand" : "eager";
(globalThis as { gc?: () => void }).gc?.();
const startRssMB = MB(process.memoryUsage().rss);
const c0 = process.cpuUsage();
const t0 = performance.now();
const store = new FileStore(indexDir, { graph });
const snap = (await store.current())!;
const storeS = (performance.now() - t0) / 1000;
const cpu = (c: NodeJS.CpuUsage) => Math.round((c.user + c.system) / 1000) / 1000;
const storeCpuS = cpu(process.cpuUsage(c0));
(globalThis as { gc?: () => void }).gc?.();
const afterStore = process.memoryUsage();
let retrieverS: number | undefined;
let retrieverCpuS: number | undefined;
if (process.argv.includes("--retriever")) {
  const embedder = await TransformersEmbedder.load({ model: MODEL });
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  await Retriever.open(snap, embedder);
  retrieverS = (performance.now() - t1) / 1000;
  retrieverCpuS = cpu(process.cpuUsage(c1));
}
(globalThis as { gc?: () => void }).gc?.();
const end = process.memoryUsage();
console.log(
  JSON.stringify({
    graph,
    startRssMB,
    storeS: Math.round(storeS * 1000) / 1000,
    storeCpuS,
    retrieverS: retrieverS && Math.round(retrieverS * 1000) / 1000,
    retrieverCpuS,
    rssAfterStoreMB: MB(afterStore.rss),
    heapAfterStoreMB: MB(afterStore.heapUsed),
    externalAfterStoreMB: MB(afterStore.external),
    arrayBuffersAfterStoreMB: MB(afterStore.arrayBuffers),
    rssEndMB: MB(end.rss),
    heapEndMB: MB(end.heapUsed),
    peakRssMB: MB(peakRss()),
  }),
);
await store.close();
