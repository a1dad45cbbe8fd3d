// Index builds for a running bot (/reindex), in a child process with a memory ceiling and a time
// limit. A child process rather than a worker thread: worker resourceLimits cap only the JS heap,
// while the embedder (onnxruntime) and hnswlib allocate natively, and a native abort or an
// out-of-memory kill takes the whole process down, threads and all. A child can die of anything;
// the bot only loses a build, keeps answering from the index it has, and says why.
//
// The ceiling is enforced three ways: --max-old-space-size for the JS heap (V8 aborts the child),
// a watchdog on the child's resident memory (covers native allocations; the child is killed when
// it goes over), and, on Linux, an OOM score that makes the kernel pick the child rather than the
// bot if the machine itself runs out. The child reports its stage, so a failure names what it was
// doing (e.g. splitting which file).
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { readVariable } from "../config.js";
import type { SkippedFile } from "../corpus/load.js";
import type { BuildStats } from "./settings.js";

export interface BuildLimits {
  /** Most resident memory the build may use (MB); JS heap and native allocations together. */
  memoryMb: number;
  /** Longest a build may take (ms). */
  timeoutMs: number;
}

/** Environment variables that override the defaults (read once per build, so a test or an admin can set them). */
export const BUILD_LIMIT_VARS = { memoryMb: "INDEX_BUILD_MEMORY_MB", timeoutSeconds: "INDEX_BUILD_TIMEOUT_SECONDS" } as const;

/** Half the machine's memory, between 512 MB and 4 GB: room for the bot, a cap on a runaway build. */
export function defaultBuildLimits(): BuildLimits {
  const half = Math.floor(os.totalmem() / 2 / 2 ** 20);
  return { memoryMb: Math.min(4096, Math.max(512, half)), timeoutMs: 30 * 60_000 };
}

/**
 * The limits in force: defaults, then the environment, then what the caller passes. A variable that
 * is not a positive whole number is reported (by name) in `problems` and ignored.
 */
export function buildLimits(overrides: Partial<BuildLimits> = {}, env: NodeJS.ProcessEnv = process.env): { limits: BuildLimits; problems: string[] } {
  const limits = defaultBuildLimits();
  const problems: string[] = [];
  const read = (name: (typeof BUILD_LIMIT_VARS)[keyof typeof BUILD_LIMIT_VARS]): number | undefined => {
    const { value, problem } = readVariable(name, env);
    if (problem) problems.push(problem);
    return value;
  };
  const mb = read(BUILD_LIMIT_VARS.memoryMb);
  const seconds = read(BUILD_LIMIT_VARS.timeoutSeconds);
  if (mb !== undefined) limits.memoryMb = mb;
  if (seconds !== undefined) limits.timeoutMs = seconds * 1000;
  return { limits: { ...limits, ...overrides }, problems };
}

export interface ChildBuildRequest {
  corpusDir: string;
  indexDir: string;
  /** The embedder's model id (what TransformersEmbedder.load takes) and hub mirror, if any. */
  model: string;
  remoteHost?: string;
}

export interface ChildBuildResult {
  index: "loaded" | "built";
  reason?: string;
  stats?: BuildStats;
  skipped: SkippedFile[];
  /** The index version now current (what the bot should load). */
  version: string;
}

/** Messages from the child. */
export type ChildMessage =
  | { type: "stage"; stage: string }
  | { type: "progress"; done: number; total: number; stage: "embed" | "index" }
  | { type: "rss"; bytes: number }
  | { type: "done"; result: ChildBuildResult }
  | { type: "failed"; message: string };

/** A build that did not finish; `message` is meant for the admin. */
export class BuildFailedError extends Error {
  constructor(
    message: string,
    readonly kind: "memory" | "timeout" | "crashed" | "error",
  ) {
    super(message);
    this.name = "BuildFailedError";
  }
}

export interface ChildBuildOptions {
  limits: BuildLimits;
  onProgress?: (done: number, total: number, stage: "embed" | "index") => void;
  /** Told each stage the child enters ("splitting corpus/x.txt into sentences", ...). */
  onStage?: (stage: string) => void;
  /** How often the watchdog looks at the child's memory (ms). Default 100. */
  watchMs?: number;
}

/** The child's entry file: the .ts source under tsx/vitest, the bundled .js next to this chunk in dist/. */
function childCommand(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".ts")) {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    return { file: path.join(path.dirname(here), "buildchild.ts"), execArgv: ["--import", pathToFileURL(tsx).href] };
  }
  return { file: path.join(path.dirname(here), "buildchild.js"), execArgv: [] };
}

/** Resident memory of a process from /proc (Linux); undefined elsewhere or when it has exited. */
function procRss(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one build in a child process; resolves with what it did, rejects with BuildFailedError. */
export function buildInChild(req: ChildBuildRequest, opts: ChildBuildOptions): Promise<ChildBuildResult> {
  const { limits } = opts;
  const { file, execArgv } = childCommand();
  // The JS heap gets the whole ceiling; the RSS watchdog enforces the total.
  const child: ChildProcess = fork(file, [], {
    execArgv: [...execArgv, `--max-old-space-size=${Math.max(64, limits.memoryMb)}`],
    stdio: ["ignore", "ignore", "pipe", "ipc"],
    serialization: "advanced",
  });
  // Background work: the bot answering questions gets the CPU first (nice 10; best effort).
  try {
    if (child.pid !== undefined) os.setPriority(child.pid, 10);
  } catch {
    // not permitted here: the build just competes at normal priority
  }
  let stage = "starting";
  let stderrTail = "";
  let peakRss = 0;
  let killedFor: "memory" | "timeout" | undefined;
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderrTail = (stderrTail + d).slice(-4000);
  });

  return new Promise<ChildBuildResult>((resolve, reject) => {
    let settled = false;
    const ceiling = limits.memoryMb * 2 ** 20;
    const kill = (why: "memory" | "timeout") => {
      if (killedFor || settled) return;
      killedFor = why;
      child.kill("SIGKILL");
    };
    const noteRss = (bytes: number) => {
      peakRss = Math.max(peakRss, bytes);
      if (bytes > ceiling) kill("memory");
    };
    const watchdog = setInterval(() => {
      if (child.pid !== undefined) {
        const rss = procRss(child.pid);
        if (rss !== undefined) noteRss(rss);
      }
    }, opts.watchMs ?? 100);
    const timer = setTimeout(() => kill("timeout"), limits.timeoutMs);
    const finish = (err: Error | undefined, result?: ChildBuildResult) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (err) reject(err);
      else resolve(result!);
    };

    child.on("message", (msg: ChildMessage) => {
      switch (msg.type) {
        case "stage":
          stage = msg.stage;
          opts.onStage?.(msg.stage);
          break;
        case "progress":
          opts.onProgress?.(msg.done, msg.total, msg.stage);
          break;
        case "rss":
          // Where /proc is unavailable the child reports its own memory.
          noteRss(msg.bytes);
          break;
        case "done":
          finish(undefined, msg.result);
          break;
        case "failed":
          finish(new BuildFailedError(msg.message, "error"));
          break;
      }
    });
    child.on("error", (err) => finish(new BuildFailedError(`the build process could not run (${err.message})`, "crashed")));
    child.on("exit", (code, signal) => {
      const mb = (n: number) => `${Math.round(n / 2 ** 20)} MB`;
      const heapOom = /heap out of memory|Reached heap limit|Allocation failed/i.test(stderrTail);
      if (killedFor === "memory" || heapOom) {
        finish(
          new BuildFailedError(
            `the build used more memory than its ${limits.memoryMb} MB limit (${heapOom ? "JavaScript heap" : `peak ${mb(peakRss)}`}) while ${stage}, and was stopped`,
            "memory",
          ),
        );
      } else if (killedFor === "timeout") {
        const limit = limits.timeoutMs < 10_000 ? (limits.timeoutMs / 1000).toFixed(1) : String(Math.round(limits.timeoutMs / 1000));
        finish(new BuildFailedError(`the build took longer than ${limit} s while ${stage}, and was stopped`, "timeout"));
      } else {
        const lastLine = stderrTail.trim().split("\n").filter(Boolean).at(-1)?.slice(0, 200);
        finish(
          new BuildFailedError(
            `the build process ${signal ? `was killed (${signal})` : `exited with code ${code}`} while ${stage}${lastLine ? ` (${lastLine})` : ""}`,
            "crashed",
          ),
        );
      }
    });
    child.send(req);
  });
}
