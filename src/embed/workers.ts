// Worker threads for indexing: each loads the same model with one onnxruntime thread and embeds
// whole batches, so tokenizing, the model and pooling run on every core at once. On this 2-core
// machine that beat one session with 2 intra-op threads (scripts/bench/models.ts). Workers start
// on the first large embed call, are unref'd while idle (they never keep the process alive), and
// if they cannot start (e.g. a bundle without the worker file) embedding stays in-process.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/** What a worker needs to load the embedder (plain data: it crosses the thread boundary). */
export interface WorkerInit {
  model: string;
  cacheDir?: string;
  remoteHost?: string;
  batchSize: number;
  fast: boolean;
}

type Reply = { ready: true } | { id: number; vectors: Float32Array[] } | { id: number; error: string } | { failed: string };

export class EmbedWorkers {
  private readonly idle: Worker[] = [];
  private readonly waiting: Array<(w: Worker) => void> = [];
  private readonly pending = new Map<number, { resolve: (v: Float32Array[]) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private inFlight = 0;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on("message", (m: Reply) => {
        if (!("id" in m)) return;
        const job = this.pending.get(m.id);
        this.pending.delete(m.id);
        if ("error" in m) job?.reject(new Error(m.error));
        else job?.resolve(m.vectors);
        this.release(w);
      });
      // A worker that fails or stops fails the calls under way (never leaves them waiting).
      const fail = (err: Error) => {
        for (const job of this.pending.values()) job.reject(err);
        this.pending.clear();
      };
      w.on("error", fail);
      w.on("exit", (code) => fail(new Error(`embedding worker exited (code ${code})`)));
      w.unref();
    }
    this.idle.push(...workers);
  }

  /** `count` workers with the model loaded, or undefined (and why) when they cannot start here. */
  static async start(count: number, init: WorkerInit): Promise<EmbedWorkers | { reason: string }> {
    const entry = workerEntry();
    if (!entry) return { reason: "the embedding worker file is not next to this module" };
    const workers: Worker[] = [];
    try {
      await Promise.all(
        Array.from({ length: count }, () => {
          const w = new Worker(entry, { workerData: init });
          workers.push(w);
          return new Promise<void>((resolve, reject) => {
            const onMessage = (m: Reply) => {
              if ("ready" in m) done();
              else if ("failed" in m) done(new Error(m.failed));
            };
            const onError = (err: Error) => done(err);
            const onExit = (code: number) => done(new Error(`embedding worker exited (code ${code})`));
            // Only our own listeners come off (removeAllListeners would drop the Worker's internal ones).
            const done = (err?: Error) => {
              w.off("message", onMessage).off("error", onError).off("exit", onExit);
              if (err) reject(err);
              else resolve();
            };
            w.on("message", onMessage).on("error", onError).on("exit", onExit);
          });
        }),
      );
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      return { reason: (err as Error).message.split("\n")[0]! };
    }
    return new EmbedWorkers(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Embeds each batch on the next free worker; results in the batches' order. */
  async embedBatches(batches: string[][]): Promise<Float32Array[][]> {
    return Promise.all(batches.map((b) => this.embedOne(b)));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private async embedOne(texts: string[]): Promise<Float32Array[]> {
    const worker = this.idle.pop() ?? (await new Promise<Worker>((resolve) => this.waiting.push(resolve)));
    // Busy workers keep the process alive until their reply arrives; idle ones don't.
    if (this.inFlight++ === 0) for (const w of this.workers) w.ref();
    const id = this.nextId++;
    return new Promise<Float32Array[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, texts });
    });
  }

  private release(w: Worker): void {
    if (--this.inFlight === 0) for (const x of this.workers) x.unref();
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }
}

/**
 * The worker's entry: from source (tsx), a data: module that registers tsx's loader and imports
 * embed-worker.ts (a worker does not inherit the loader); from a bundle, embed-worker.js beside it.
 */
function workerEntry(): URL | undefined {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    let tsx: string;
    try {
      tsx = import.meta.resolve("tsx/esm/api");
    } catch {
      return undefined;
    }
    const target = new URL("./embed-worker.ts", here).href;
    const boot = `import { register } from ${JSON.stringify(tsx)};\nregister();\nawait import(${JSON.stringify(target)});`;
    return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
  }
  const js = new URL("./embed-worker.js", here);
  return existsSync(fileURLToPath(js)) ? js : undefined;
}
