// Shared pieces of `npm run bench`: figures, statistics, questions, corpora, child processes.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import os from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/embed/embedder.js";
import type { PassageId, Snapshot } from "../../src/store/types.js";
import type { Passage } from "../../src/types.js";

export const ROOT = PROJECT_ROOT;
export const BENCH_DIR = path.join(ROOT, "data", "bench");
export const LARGE_DIR = path.join(ROOT, "data", "large");
export const SHIPPED_CORPUS = path.join(ROOT, "corpus");
export const MODEL_PATH = path.join(ROOT, "models", "glove-sif-100d", "onnx", "model.onnx");
export const THREADS = 2;

/** One measured figure, printed as one line and written to --json. */
export interface Figure {
  id: string;
  what: string;
  /** Human-readable target ("≥ 0.90"), or undefined for a figure reported for context. */
  target?: string;
  /** Measured value in `unit`. */
  value: number | null;
  unit: string;
  /** true pass, false miss, null: no target. */
  pass: boolean | null;
  /** Short context shown after the value. */
  note?: string;
}

export function figure(
  id: string,
  what: string,
  value: number | null,
  unit: string,
  opts: { target?: string; pass?: boolean | null; note?: string } = {},
): Figure {
  return { id, what, value, unit, target: opts.target, pass: opts.target === undefined ? null : (opts.pass ?? null), note: opts.note };
}

export function formatValue(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return "n/a";
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return `${v.toFixed(digits)}${unit ? ` ${unit}` : ""}`;
}

export function formatFigure(f: Figure): string {
  const status = f.pass === true ? "PASS" : f.pass === false ? "MISS" : "info";
  const target = f.target ? `target ${f.target}` : "";
  return `${status.padEnd(4)}  ${f.id.padEnd(34)} ${f.what.padEnd(52)} ${target.padEnd(18)} measured ${formatValue(f.value, f.unit)}${f.note ? `  (${f.note})` : ""}`;
}

// ---------------------------------------------------------------------------------------------
// Statistics

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
export const mb = (bytes: number) => bytes / (1024 * 1024);

/** Peak resident set size of this process so far, in bytes. */
/**
 * This process's peak RSS. Linux: VmHWM of /proc/self/status, since getrusage's maxRSS of a spawned
 * child keeps the forked copy of its parent's pages from before exec (a writer spawned by a 2-4 GB
 * serving process reported the server's RSS as its own peak).
 */
export const peakRss = () => {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
};

/** Resident memory by kind (Linux): anonymous (the process's own) and file-backed (mapped files: code, libraries; shared with the page cache), MB. */
export const rssParts = (): { anonMB: number; fileMB: number } | undefined => {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? Number.NaN);
    return { anonMB: Math.round(kb("RssAnon") / 102.4) / 10, fileMB: Math.round(kb("RssFile") / 102.4) / 10 };
  } catch {
    return undefined;
  }
};

/** A seeded PRNG (mulberry32), so samples are the same from run to run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sample<T>(xs: T[], n: number, seed: number): T[] {
  const r = rng(seed);
  const copy = [...xs];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

// ---------------------------------------------------------------------------------------------
// Questions

export function readQuestions(): string[] {
  const files = [path.join(ROOT, "test", "eval", "dev-qa.jsonl"), path.join(ROOT, "test", "eval", "extra-qa.jsonl")];
  const out: string[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const q = (JSON.parse(line) as { question?: string }).question;
      if (q) out.push(q);
    }
  }
  if (out.length === 0) throw new Error("no evaluation questions found (test/eval/dev-qa.jsonl, test/eval/extra-qa.jsonl)");
  return out;
}

/** Ways users phrase the same question: as written, lower case without "?", with a lead-in, … */
const VARIANTS: Array<(q: string) => string> = [
  (q) => q,
  (q) => q.toLowerCase().replace(/\?\s*$/, ""),
  (q) => `According to the articles, ${q.charAt(0).toLowerCase()}${q.slice(1)}`,
  (q) => `${q.replace(/\?\s*$/, "")}? Please quote the source.`,
];

/** `n` questions: the evaluation questions, cycled through phrasing variants. */
export function variedQuestions(n: number, base = readQuestions()): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) out.push(VARIANTS[Math.floor(i / base.length) % VARIANTS.length]!(base[i % base.length]!));
  return out;
}

/** Questions about a corpus's own text: a few words taken from random sentences, asked as a question. */
export function questionsFromPassages(texts: string[], n: number, seed: number): string[] {
  const r = rng(seed);
  const leads = ["What does the documentation say about", "How do I", "Where is", "Why", "Explain"];
  const out: string[] = [];
  for (let guard = 0; out.length < n && guard < n * 20; guard++) {
    const text = texts[Math.floor(r() * texts.length)]!;
    const words = text.match(/[\p{L}\p{N}][\p{L}\p{N}'_-]*/gu) ?? [];
    if (words.length < 6) continue;
    const len = 3 + Math.floor(r() * 5);
    const start = Math.floor(r() * (words.length - len));
    out.push(`${leads[out.length % leads.length]} ${words.slice(start, start + len).join(" ")}?`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Corpora

export interface LargeCorpus {
  size: string;
  dir: string;
  files: number;
  /** Sentence count the corpus builder recorded (its own counter), if known. */
  sentences?: number;
  target?: number;
  reached?: boolean;
}

/** The large corpora data/large holds (scripts/prepare-large-corpus.ts), by size label. */
export function largeCorpora(): Map<string, LargeCorpus> {
  const out = new Map<string, LargeCorpus>();
  let manifest: { sizes?: Record<string, { dir: string; files: number; sentences: number; target: number; reached: boolean }> } = {};
  try {
    manifest = JSON.parse(readFileSync(path.join(LARGE_DIR, "manifest.json"), "utf8"));
  } catch {
    // No manifest yet: use whatever folders exist.
  }
  for (const size of ["10k", "100k", "1m"]) {
    const m = manifest.sizes?.[size];
    const dir = path.join(LARGE_DIR, m?.dir ?? `corpus-${size}`);
    if (!existsSync(dir)) continue;
    const files = readdirSync(dir).filter((f) => !f.startsWith(".")).length;
    if (files === 0) continue;
    out.set(size, { size, dir, files, sentences: m?.sentences, target: m?.target, reached: m?.reached });
  }
  return out;
}

export function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

export function freshDir(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Child processes: each heavy step runs in its own process (clean heap, its own peak RSS).

/** Runs `node --import tsx <script> <args>`; the child writes its result as JSON to the file named by --result. */
export async function runChild<T>(
  script: string,
  args: string[],
  opts: { label: string; nodeArgs?: string[]; timeoutMs?: number; env?: NodeJS.ProcessEnv; bundled?: boolean } = { label: "" },
): Promise<T> {
  mkdirSync(path.join(BENCH_DIR, "results"), { recursive: true });
  const resultFile = path.join(BENCH_DIR, "results", `${opts.label.replace(/[^\w.-]+/g, "_")}-${process.pid}.json`);
  rmSync(resultFile, { force: true });
  const run = opts.bundled ? [await bundled(script)] : ["--import", "tsx", script];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...run, ...args, "--result", resultFile], {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ...opts.env },
  });
  const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
  const code: number | null = await new Promise((resolve) => child.on("exit", (c, signal) => resolve(c ?? (signal ? -1 : null))));
  if (timer) clearTimeout(timer);
  if (!existsSync(resultFile)) throw new Error(`${opts.label}: the child process exited (${code}) without a result`);
  const result = JSON.parse(readFileSync(resultFile, "utf8")) as T;
  rmSync(resultFile, { force: true });
  return result;
}

/**
 * A bench script bundled as dist/ is (scripts/build.mjs: plain JavaScript, transformers.js inside),
 * for children whose memory is a figure: under tsx, loading transformers.js alone holds ~150 MB more
 * (measured: 29 → 180 MB anonymous after importing it), which the bot (`node bin/citebot.js bot`,
 * running dist/) never carries.
 */
async function bundled(script: string): Promise<string> {
  const { build } = await import("esbuild");
  const { bundleOptions } = (await import(path.join(ROOT, "scripts", "build.mjs"))) as {
    bundleOptions: (entries: Record<string, string>, outdir: string) => Parameters<typeof build>[0];
  };
  const name = path.basename(script).replace(/\.ts$/, "");
  const outdir = path.join(BENCH_DIR, "bundle");
  await build(bundleOptions({ [name]: script, "embed-worker": path.join(ROOT, "src", "embed", "embed-worker.ts") }, outdir));
  return path.join(outdir, `${name}.js`);
}

/** The --result file a child was given; call `writeResult` with the outcome. */
export function resultPath(argv = process.argv): string {
  const i = argv.indexOf("--result");
  if (i < 0 || !argv[i + 1]) throw new Error("missing --result <file>");
  return argv[i + 1]!;
}

export function argValue(name: string, argv = process.argv): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function writeResult(value: unknown): void {
  writeFileSync(resultPath(), JSON.stringify(value, null, 2));
}

/** Progress on stderr, so stdout stays the report. */
export function log(msg: string): void {
  process.stderr.write(`  · ${msg}\n`);
}

export function machine(): object {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadavg: os.loadavg().map((x) => round(x, 2)),
  };
}

// ---------------------------------------------------------------------------------------------
// CPU profile of a piece of code, summarised by self time (node:inspector, in process).

export interface ProfileSummary {
  totalMs: number;
  /** Self time by function, highest first. */
  functions: Array<{ fn: string; ms: number; share: number }>;
  /** Self time by source (our modules by file, libraries by package, "(native/gc/idle)"). */
  sources: Array<{ source: string; ms: number; share: number }>;
}

export async function profile(run: () => Promise<void>, top = 12): Promise<ProfileSummary> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  try {
    await run();
  } finally {
    // stop below
  }
  const { profile: p } = (await session.post("Profiler.stop")) as unknown as { profile: CpuProfile };
  session.disconnect();
  return summariseProfile(p, top);
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

export function summariseProfile(p: CpuProfile, top = 12): ProfileSummary {
  const byNode = new Map<number, number>();
  p.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000));
  const fns = new Map<string, number>();
  const sources = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const ms = byNode.get(n.id) ?? 0;
    if (!ms) continue;
    total += ms;
    const url = n.callFrame.url;
    const source = sourceOf(url, n.callFrame.functionName);
    const fn = `${n.callFrame.functionName || "(anonymous)"} ${source}${url ? `:${n.callFrame.lineNumber + 1}` : ""}`;
    fns.set(fn, (fns.get(fn) ?? 0) + ms);
    sources.set(source, (sources.get(source) ?? 0) + ms);
  }
  const rank = <K extends string>(m: Map<string, number>, key: K) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => ({ [key]: k, ms: round(ms, 1), share: round(ms / total, 3) }) as { [P in K]: string } & { ms: number; share: number });
  return { totalMs: round(total, 1), functions: rank(fns, "fn"), sources: rank(sources, "source") };
}

function sourceOf(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : "(native)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith("node:")) return url;
  const i = url.indexOf("/src/");
  if (i >= 0) return url.slice(i + 1).replace(/^file:\/\//, "");
  const j = url.indexOf("/scripts/");
  return j >= 0 ? url.slice(j + 1) : url;
}

/** Every passage of a snapshot with its id, article by article in sentence order (benchmarks that look at the whole index). */
export async function snapshotPassages(snapshot: Snapshot): Promise<{ ids: PassageId[]; passages: Passage[] }> {
  const ids: PassageId[] = [];
  for (const a of await snapshot.articles()) ids.push(...(await snapshot.passageIds(a.id)));
  return { ids, passages: await snapshot.passages(ids) };
}
