// One embedding worker thread (see workers.ts): loads the model with one onnxruntime thread and
// embeds the batches it is sent, replying with the vectors (their buffers transferred, not copied).
import { parentPort, workerData } from "node:worker_threads";
import { rootLogger } from "../log.js";
import { TransformersEmbedder } from "./embedder.js";
import type { WorkerInit } from "./workers.js";

const init = workerData as WorkerInit;
const port = parentPort!;
try {
  // The main thread has said what there is to say about this model already.
  const embedder = await TransformersEmbedder.load({ ...init, threads: 1, workers: 0, logger: rootLogger().child({}, { level: "error" }) });
  port.on("message", async ({ id, texts }: { id: number; texts: string[] }) => {
    try {
      const vectors = await embedder.embed(texts);
      port.postMessage(
        { id, vectors },
        vectors.map((v) => v.buffer as ArrayBuffer),
      );
    } catch (err) {
      port.postMessage({ id, error: (err as Error).message });
    }
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ failed: (err as Error).message });
}
