// How long a rebuild stalls the bot's event loop: /reindex as it was (the build in the bot's own
// process, Citebot.reload) side by side with /reindex now (the build in a child process,
// Citebot.rebuild; this process only loads the result). Each run adds one article to a corpus of
// the shipped articles plus generated ones, so every run re-splits, re-indexes and reloads all of
// it. The event loop's delay is sampled with perf_hooks.monitorEventLoopDelay (10 ms resolution).
//
//   npx tsx scripts/reindex-stall.ts [--articles 400] [--runs 3]
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Citebot } from "../src/citebot.js";
import { defaultBuildLimits } from "../src/index/isolated.js";
import { currentSnapshotDir } from "../src/store/fs/format.js";
import { FileSnapshot } from "../src/store/fs/snapshot.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ARTICLES = arg("articles", 400);
const RUNS = arg("runs", 3);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

// Deterministic filler articles made of ordinary words, 30 sentences each.
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const WORDS =
  "the council said ministers talks summit security agreement officials week government report economic trade minister president foreign meeting country policy energy border water school budget city region court election project workers market prices".split(
    " ",
  );
const sentence = () => {
  const n = 8 + Math.floor(rand() * 14);
  const w = Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]!);
  return `${w[0]![0]!.toUpperCase()}${w.join(" ").slice(1)} ${Math.floor(rand() * 1000)}.`;
};
const article = (i: number) => `Report ${i}\n\n${Array.from({ length: 30 }, sentence).join(" ")}\n`;

const corpusDir = mkdtempSync(path.join(tmpdir(), "citebot-stall-corpus-"));
const dataDir = mkdtempSync(path.join(tmpdir(), "citebot-stall-data-"));
cpSync(path.join(ROOT, "corpus"), corpusDir, { recursive: true });
for (let i = 0; i < ARTICLES; i++) writeFileSync(path.join(corpusDir, `gen-${i}.txt`), article(i));

const citebot = await Citebot.open({ corpusDir, dataDir });
console.log(`corpus: ${citebot.articles().length} articles, ${citebot.passageCount} sentences; ${RUNS} runs per mode`);

let added = 0;
async function measure(rebuild: () => Promise<unknown>): Promise<{ maxMs: number; p99Ms: number; seconds: number }> {
  writeFileSync(path.join(corpusDir, `added-${added++}.txt`), article(10_000 + added));
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const t0 = performance.now();
  await rebuild();
  const seconds = (performance.now() - t0) / 1000;
  // The histogram records a stall when the next timer runs: let it, or the last stall goes unseen.
  await new Promise((r) => setTimeout(r, 50));
  h.disable();
  return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, seconds };
}

const limits = defaultBuildLimits();
const modes: Array<[string, () => Promise<unknown>]> = [
  ["before: build in the bot's process (reload)", () => citebot.reload()],
  ["after: build in a child process (rebuild)", () => citebot.rebuild({ limits })],
  // What of "after" is this process's own: opening and verifying the finished snapshot.
  ["  of which: opening the snapshot (FileSnapshot)", async () => (await FileSnapshot.open(currentSnapshotDir(citebot.indexDir)!)).close()],
  // The noise floor: the machine's own scheduling delays over 3 s of doing nothing.
  ["idle for 3 s (noise floor of this machine)", () => new Promise((r) => setTimeout(r, 3000))],
];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[] = [];
for (const [name, run] of modes) {
  const results = [];
  for (let r = 0; r < RUNS; r++) results.push(await measure(run));
  rows.push(
    `${name.padEnd(46)} | worst stall ${median(results.map((x) => x.maxMs))
      .toFixed(0)
      .padStart(5)} ms (runs: ${results.map((x) => x.maxMs.toFixed(0)).join(", ")}) | p99 ${median(results.map((x) => x.p99Ms))
      .toFixed(0)
      .padStart(4)} ms | rebuild ${median(results.map((x) => x.seconds)).toFixed(1)} s`,
  );
}
console.log(`\nmedian over ${RUNS} runs (event-loop delay, 10 ms resolution), ${citebot.passageCount} sentences:`);
for (const r of rows) console.log(r);
rmSync(corpusDir, { recursive: true, force: true });
rmSync(dataDir, { recursive: true, force: true });
