// Cold start: process start to first answer with a built index, for the ways the CLI can be run:
// the tsx binary (what `npm run ask` used), node --import tsx, a plain esbuild bundle, and bin/citebot.js
// (what `npm run ask` and `npx citebot` run now: dist/, built by scripts/build.mjs).
// Also splits one process's time into phases (cold-phases.ts) under tsx and bundled.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";
import { BENCH_DIR, log, median, ROOT, round } from "./common.js";

const QUESTION = "What did Antonov say about cybersecurity?";

interface Run {
  /** ms from spawn to the first byte of output (the answer). */
  firstOutput: number;
  /** ms from spawn to exit. */
  exit: number;
  stdout: string;
  code: number | null;
}

function timeProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    let first = 0;
    let stdout = "";
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => {
      if (!first) first = performance.now() - t;
      stdout += d.toString();
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const exit = performance.now() - t;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr.slice(0, 500)}`));
      resolve({ firstOutput: first || exit, exit, stdout, code });
    });
  });
}

/** esbuild bundles of src/cli.ts and the phase probe (our code bundled; packages stay in node_modules). */
export async function bundle(outdir: string): Promise<{ seconds: number; files: string[] }> {
  const t = performance.now();
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: { cli: path.join(ROOT, "src", "cli.ts"), "cold-phases": path.join(ROOT, "scripts", "bench", "cold-phases.ts") },
    outdir,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "silent",
    metafile: true,
  });
  return { seconds: round((performance.now() - t) / 1000, 2), files: Object.keys(result.metafile.outputs) };
}

export async function runCold(opts: { corpusDir: string; dataDir: string; runs: number }) {
  const outdir = path.join(BENCH_DIR, "dist");
  const bundled = await bundle(outdir);
  const env = { DATA_DIR: opts.dataDir };
  const ask = ["ask", "--corpus", opts.corpusDir, QUESTION];
  const tsxBin = path.join(ROOT, "node_modules", ".bin", "tsx");
  const variants: Record<string, [string, string[]]> = {
    "tsx src/cli.ts ask": [tsxBin, [path.join("src", "cli.ts"), ...ask]],
    "node --import tsx src/cli.ts ask": [process.execPath, ["--import", "tsx", path.join("src", "cli.ts"), ...ask]],
    "node <esbuild bundle>/cli.js ask": [process.execPath, [path.join(outdir, "cli.js"), ...ask]],
    // What `npm run ask` and `npx citebot ask` run: the shipped dist/ bundle (transformers.js bundled without sharp).
    "node bin/citebot.js ask": [process.execPath, [path.join("bin", "citebot.js"), ...ask]],
    "baseline: node -e 0": [process.execPath, ["-e", "0"]],
    "baseline: node --import tsx -e 0": [process.execPath, ["--import", "tsx", "-e", "0"]],
  };
  // One untimed run of each first (tsx's transform cache, the OS file cache), then interleaved runs.
  for (const [cmd, args] of Object.values(variants)) await timeProcess(cmd, args, env);
  const runs: Record<string, Run[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = 0; r < opts.runs; r++) for (const [name, [cmd, args]] of Object.entries(variants)) runs[name]!.push(await timeProcess(cmd, args, env));
  const answered = runs["node <esbuild bundle>/cli.js ask"]![0]!.stdout.includes("[1]");
  const medians = Object.fromEntries(
    Object.entries(runs).map(([k, rs]) => [
      k,
      {
        firstOutputMs: round(median(rs.map((x) => x.firstOutput)), 0),
        exitMs: round(median(rs.map((x) => x.exit)), 0),
        runsMs: rs.map((x) => round(x.firstOutput, 0)),
      },
    ]),
  );

  // Phases of one process, under tsx and bundled.
  const phaseRuns: Record<string, Array<Record<string, number>>> = { tsx: [], bundle: [] };
  const phaseArgs = [opts.corpusDir, opts.dataDir, QUESTION];
  for (let r = 0; r < opts.runs; r++) {
    for (const [name, args] of [
      ["tsx", ["--import", "tsx", path.join("scripts", "bench", "cold-phases.ts"), ...phaseArgs]],
      ["bundle", [path.join(outdir, "cold-phases.js"), ...phaseArgs]],
    ] as const) {
      const run = await timeProcess(process.execPath, [...args], env);
      const parsed = JSON.parse(run.stdout.trim().split("\n").pop()!) as { phases: Record<string, number>; total: number };
      phaseRuns[name]!.push({ ...parsed.phases, "total (process start → answer)": parsed.total, "wall (spawn → exit)": run.exit });
    }
  }
  const phases = Object.fromEntries(
    Object.entries(phaseRuns).map(([name, rs]) => [name, Object.fromEntries(Object.keys(rs[0]!).map((k) => [k, round(median(rs.map((x) => x[k]!)), 0)]))]),
  );
  log(
    `cold start medians: ${Object.entries(medians)
      .map(([k, v]) => `${k} ${v.firstOutputMs} ms`)
      .join("; ")}`,
  );
  return { question: QUESTION, runs: opts.runs, bundle: bundled, answered, medians, phases };
}
