// Shared helpers for the core tests: temporary folders and small corpora. Never touches data/.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { xxh3 } from "@node-rs/xxhash";
import type { TokenMatrix } from "../src/search/late.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REAL_CORPUS = path.join(ROOT, "corpus");
export const FIXTURES = path.join(ROOT, "test", "fixtures");
export const EXTRA_ARTICLE = path.join(FIXTURES, "extra-corpus", "council-budget.txt");

export const EIRNS_ID = "003_e5b1a649af6b3fe1";
export const ENVOY_ID = "000_3d05aca15ffa9414";
export const EIRNS_TITLE = "Russian-U.S. Strategic Stability Talks To Be Held in Geneva In a Few Weeks";
export const ENVOY_TITLE = "Envoy: Russia has no illusions on breakthroughs in ties with U.S. after Geneva summit";

const made: string[] = [];

/** A fresh folder under the OS temp dir, removed by `cleanupTmp()`. */
export function mkTmp(prefix = "citebot-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function cleanupTmp(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A temp corpus folder holding the given files (name → content). */
export function makeCorpus(files: Record<string, string | Uint8Array>, dir = mkTmp("citebot-corpus-")): string {
  for (const [name, content] of Object.entries(files)) {
    const abs = path.join(dir, name);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
  return dir;
}

/** A temp corpus with copies of the real articles (plus any extra files). */
export function copyRealCorpus(extra: string[] = []): string {
  const dir = mkTmp("citebot-corpus-");
  for (const f of fs.readdirSync(REAL_CORPUS)) fs.copyFileSync(path.join(REAL_CORPUS, f), path.join(dir, f));
  for (const f of extra) fs.copyFileSync(f, path.join(dir, path.basename(f)));
  return dir;
}

export const collapse = (s: string) => s.replace(/\s+/g, " ").trim();

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

export const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

/** What a child process left behind. */
export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command from the project root and collects its output; `input` goes to its stdin (closed either way). */
export function runChild(command: string, args: string[], opts: { env: NodeJS.ProcessEnv; timeoutMs: number; input?: string }): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: opts.env, stdio: ["pipe", "pipe", "pipe"], timeout: opts.timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}

/** A unit vector of the given components. */
export const unit = (...xs: number[]) => {
  const n = Math.hypot(...xs);
  return xs.map((x) => x / n);
};

/** A token matrix (late interaction's input) of the given rows. */
export const tokenMatrix = (rows: number[][], extra: Partial<TokenMatrix> = {}): TokenMatrix => ({
  rows: rows.length,
  data: Float32Array.from(rows.flat()),
  pooled: new Float32Array(rows[0]?.length ?? 0),
  ...extra,
});

/** Labels of the k rows of `vectors` (row-major, `dim` wide) with the largest dot product with `query`, best first. */
export function exactTop(query: Float32Array, vectors: Float32Array, labels: ArrayLike<number>, dim: number, k = 10): number[] {
  const scored: Array<[number, number]> = [];
  for (let i = 0; i < labels.length; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += query[d]! * vectors[i * dim + d]!;
    scored.push([s, labels[i]!]);
  }
  return scored
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map((x) => x[1]);
}

/** A manifest file entry for bytes, as a forger who re-signs a manifest would write it (the kind the entry had). */
export function forgedEntry(bytes: Uint8Array, kind: "xxh3" | "sha256" = "xxh3"): { size: number; xxh3?: string; sha256?: string } {
  if (kind === "sha256") return { size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
  return { size: bytes.length, xxh3: xxh3.Xxh3.withSeed(0n).update(bytes).digest().toString(16).padStart(16, "0") };
}
