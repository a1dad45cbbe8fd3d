// `npm run bench`: citebot's performance figures on this machine, each printed as one line with
// its target, the measured value and pass/miss. Not part of `npm test`.
//
//   npm run bench [-- --json <file>] [--sizes 10k,100k,1m] [--skip-scale] [--skip-peer]
//                 [--only embed,latency,cold,scale,peer] [--rounds 5] [--cold-runs 5] [--questions 200]
//
// 1. embed    embedding throughput: TransformersEmbedder.embed vs a raw onnxruntime-node session
// 2. latency  question → rendered answer on the shipped corpus, after warm-up (large corpora: in 4)
// 3. cold     process start → first answer (tsx, node --import tsx, esbuild bundle)
// 4. scale    10k / 100k / 1m sentences (data/large, from scripts/prepare-large-corpus.ts): build,
//             re-index after one article changes, size on disk, peak RSS, recall@10, latency
// 5. peer     LangChain.js (HNSWLib + HuggingFaceTransformersEmbeddings) side by side; its own
//             package in bench/peer/, installed (npm ci) on first use
// Heavy steps run in child processes; everything it writes goes under data/bench/.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { runCold } from "./bench/cold.js";
import {
  BENCH_DIR,
  type Figure,
  figure,
  formatFigure,
  type LargeCorpus,
  largeCorpora,
  machine,
  mb,
  ROOT,
  round,
  runChild,
  SHIPPED_CORPUS,
} from "./bench/common.js";

const program = new Command()
  .name("bench")
  .option("--json <file>", "write the figures (and the raw measurements) to this file")
  .option("--sizes <list>", "scale points (of data/large)", "10k,100k,1m")
  .option("--skip-scale", "skip the scale points (and so the large-corpus latency)")
  .option("--skip-peer", "skip the LangChain comparison")
  .option("--scale-steps <list>", "scale steps to run: build,serve,reindex (serve and reindex use the last build)", "build,serve,reindex")
  .option("--only <list>", "run only these sections: embed,latency,cold,scale,peer")
  .option("--rounds <n>", "rounds of the embedding comparison", "5")
  .option("--cold-runs <n>", "processes per cold-start variant", "5")
  .option("--questions <n>", "questions per latency measurement", "200")
  .option("--embed-texts <n>", "sentences per embedding measurement", "20000")
  .parse();
const opts = program.opts<{
  json?: string;
  sizes: string;
  skipScale?: boolean;
  skipPeer?: boolean;
  only?: string;
  rounds: string;
  coldRuns: string;
  questions: string;
  embedTexts: string;
  scaleSteps: string;
}>();
const scaleSteps = new Set(opts.scaleSteps.split(",").map((s) => s.trim()));

const only = opts.only ? new Set(opts.only.split(",").map((s) => s.trim())) : undefined;
const want = (section: string) => (only ? only.has(section) : !(section === "scale" && opts.skipScale) && !(section === "peer" && opts.skipPeer));
const sizes = opts.sizes
  .split(",")
  .map((s) => s.trim().toLowerCase())
  .filter(Boolean);
// A fresh clone has no large corpora: fetch and prepare the ones the scale section needs (cached
// under data/large, so later runs reuse them).
if (want("scale") && sizes.some((size) => !largeCorpora().has(size))) {
  process.stdout.write(`preparing the large corpora (${sizes.join(", ")}) with scripts/prepare-large-corpus.ts…\n`);
  const prep = spawnSync(process.execPath, ["--import", "tsx", "scripts/prepare-large-corpus.ts", "--sizes", sizes.join(",")], { stdio: "inherit" });
  if (prep.status !== 0) process.stdout.write("could not prepare the large corpora; the scale points that are missing are reported as misses\n");
}
// Hard-linked snapshots of the large corpora, so a rebuild of data/large during the run does not pull them away.
const available = snapshotLargeCorpora(largeCorpora());
const figures: Figure[] = [];
const report: Record<string, unknown> = { startedAt: new Date().toISOString(), machine: machine(), options: opts };
const HOUR = 3600_000;

const out = (line = "") => process.stdout.write(`${line}\n`);
const add = (f: Figure) => {
  figures.push(f);
  out(formatFigure(f));
};
const section = (title: string) => out(`\n== ${title} ${"=".repeat(Math.max(0, 96 - title.length))}`);
const failed = (id: string, what: string, err: unknown) => {
  const msg = (err as Error).message?.split("\n")[0] ?? String(err);
  add(figure(id, what, null, "", { target: "completes", pass: false, note: msg }));
  report[`${id}.error`] = msg;
};
const describe = (c: LargeCorpus) =>
  `${c.files} files${c.sentences ? `, ${c.sentences} sentences by the corpus builder's count` : ""}${c.reached === false ? `, short of its ${c.target} target` : ""}`;

out(`citebot bench — ${new Date().toISOString()}`);
out(`machine: ${JSON.stringify(report.machine)}`);
out(
  `large corpora: ${available.size ? [...available.values()].map((c) => `${c.size} (${describe(c)})`).join("; ") : "none in data/large (run scripts/prepare-large-corpus.ts)"}`,
);
out(`Each line: PASS/MISS/info, figure id, what, target, measured value. Medians unless stated.`);

// ---------------------------------------------------------------------------------------------
if (want("embed")) {
  section("1. Embedding throughput: indexing pipeline vs raw onnxruntime session (same model, batches, 2 threads)");
  const sample = available.get("1m") ?? available.get("100k") ?? available.get("10k");
  try {
    const r = await runChild<Record<string, any>>(
      path.join(ROOT, "scripts", "bench", "embed.ts"),
      ["--n", opts.embedTexts, "--rounds", opts.rounds, ...(sample ? ["--large", sample.dir] : [])],
      { label: "embed", timeoutMs: HOUR },
    );
    report.embed = r;
    for (const key of ["shipped", "large"] as const) {
      const x = r[key];
      if (!x) continue;
      const tp = x.throughput as Record<string, number>;
      out(`-- ${x.label}: ${x.texts} sentences, batches of ${x.batchSize}, ${x.paddedTokensPerText} padded tokens/sentence, ${x.rounds} rounds`);
      out(
        `   throughput (sentences/s): raw session ${tp.raw}, pipeline now ${tp.after}, pipeline before ${tp.before}; tokenizers alone: transformers.js ${tp.tokenizer}, fast ${tp.fastTokenizer}`,
      );
      out(`   where the time goes (s, median): before ${JSON.stringify(x.breakdown.before)}; now ${JSON.stringify(x.breakdown.after)}`);
      add(
        figure(`embed.${key}.ratio`, "pipeline/raw throughput (raw fed pre-tokenized ids)", x.ratioAfterToRaw, "", {
          target: "≥ 0.90",
          pass: x.ratioAfterToRaw >= 0.9,
          note: `${tp.after} vs ${tp.raw} sentences/s`,
        }),
      );
      add(
        figure(`embed.${key}.ratio_vs_raw+tokenizer`, "pipeline/(raw + transformers.js tokenizer time)", x.ratioAfterToRawPlusTokenizer, "", {
          note: `raw+tokenizer ${Math.round(x.texts / (x.medianSeconds.raw + x.medianSeconds.tokenizer))}/s`,
        }),
      );
      add(figure(`embed.${key}.ratio_vs_raw+fasttok`, "pipeline/(raw + its own tokenizer time)", x.ratioAfterToRawPlusFastTokenizer, ""));
      add(figure(`embed.${key}.ratio_before`, "pipeline before this change / raw", x.ratioBeforeToRaw, "", { note: `${tp.before} sentences/s` }));
      add(figure(`embed.${key}.speedup`, "pipeline now / before (throughput)", x.speedupAfterOverBefore, "×"));
      add(
        figure(`embed.${key}.identical`, "vectors now vs before: differing components", x.identicalVectors.differingComponents, "", {
          target: "0",
          pass: x.identicalVectors.differingComponents === 0,
        }),
      );
    }
    out(
      `-- batch size (shipped sentences, 3 rounds): ${(r.batchSweep as any[]).map((b) => `${b.batchSize}: pipeline ${b.throughput.after}/s raw ${b.throughput.raw}/s ratio ${b.ratioAfterToRaw}`).join("; ")}`,
    );
  } catch (err) {
    failed("embed", "embedding throughput", err);
  }
}

// ---------------------------------------------------------------------------------------------
const shippedData = path.join(BENCH_DIR, "shipped", "data");
let shippedBuilt = false;
const buildShipped = async () => {
  if (shippedBuilt) return;
  await runChild(path.join(ROOT, "scripts", "bench", "scale.ts"), ["--step", "build", "--corpus", SHIPPED_CORPUS, "--data", shippedData], {
    label: "shipped-build",
    timeoutMs: HOUR,
  });
  shippedBuilt = true;
};

const latencyFigures = (id: string, label: string, lat: { p50: number; p95: number; questions: number; answered: number }, p50Target: number) => {
  add(
    figure(`${id}.p50`, `question → rendered answer, p50 (${label})`, lat.p50, "ms", {
      target: `≤ ${p50Target} ms`,
      pass: lat.p50 <= p50Target,
      note: `${lat.questions} questions, ${lat.answered} answered`,
    }),
  );
  add(
    figure(`${id}.p95`, `question → rendered answer, p95 (${label})`, lat.p95, "ms", {
      target: `≤ 2×p50 (${round(2 * lat.p50, 1)})`,
      pass: lat.p95 <= 2 * lat.p50,
      note: `p95/p50 ${round(lat.p95 / lat.p50, 2)}`,
    }),
  );
};

const printProfile = (serve: Record<string, any>) => {
  const st = serve.stages as Record<string, { p50: number; p95: number }>;
  out(
    `   stages p50/p95 ms: ${Object.entries(st)
      .map(([k, v]) => `${k} ${v.p50}/${v.p95}`)
      .join(", ")}  (rank = embed + HNSW + BM25 + fusion)`,
  );
  out(
    `   CPU profile of the ${serve.latency.questions} questions (self time): by source ${serve.profile.sources
      .slice(0, 6)
      .map((s: any) => `${s.source} ${Math.round(s.share * 100)}%`)
      .join(", ")}`,
  );
  out(
    `   top functions: ${serve.profile.functions
      .slice(0, 6)
      .map((s: any) => `${s.fn} ${Math.round(s.share * 100)}%`)
      .join(", ")}`,
  );
};

if (want("latency")) {
  section("2. Question latency in process, after warm-up (shipped corpus; large corpora under 4)");
  try {
    await buildShipped();
    const serve = await runChild<Record<string, any>>(
      path.join(ROOT, "scripts", "bench", "scale.ts"),
      ["--step", "serve", "--corpus", SHIPPED_CORPUS, "--data", shippedData, "--questions", opts.questions],
      { label: "shipped-serve", timeoutMs: HOUR },
    );
    report.latency = serve;
    latencyFigures("latency.shipped", `shipped, ${serve.passages} sentences`, serve.latency, 5);
    printProfile(serve);
  } catch (err) {
    failed("latency.shipped", "question latency", err);
  }
}

// ---------------------------------------------------------------------------------------------
if (want("cold")) {
  section("3. Cold start: process start → first answer, shipped corpus with a built index");
  try {
    await buildShipped();
    const r = await runCold({ corpusDir: SHIPPED_CORPUS, dataDir: shippedData, runs: Number(opts.coldRuns) });
    report.cold = r;
    for (const [name, m] of Object.entries(r.medians)) {
      const baseline = name.startsWith("baseline");
      add(
        figure(
          `cold.${name.replace(/[^\w]+/g, "_").replace(/^_|_$/g, "")}`,
          name,
          m.firstOutputMs / 1000,
          "s",
          baseline ? { note: "for reference" } : { target: "≤ 1.5 s", pass: m.firstOutputMs <= 1500, note: `runs ${m.runsMs.join(", ")} ms` },
        ),
      );
    }
    for (const [name, phases] of Object.entries(r.phases))
      out(
        `   phases, ${name === "tsx" ? "node --import tsx" : "esbuild bundle on node"} (median ms): ${Object.entries(phases)
          .map(([k, v]) => `${k} ${v}`)
          .join("; ")}`,
      );
    out(`   bundle: esbuild ${r.bundle.files.length} files in ${r.bundle.seconds} s (\`npm run build\` makes the same in dist/)`);
  } catch (err) {
    failed("cold", "cold start", err);
  }
}

// ---------------------------------------------------------------------------------------------
const scaleData = (size: string) => ({ corpus: path.join(BENCH_DIR, `scale-${size}`, "corpus"), data: path.join(BENCH_DIR, `scale-${size}`, "data") });

if (want("scale")) {
  section("4. Scale: build, re-index, size, peak RSS, recall@10, latency (each step in its own process)");
  for (const size of sizes) {
    const c = available.get(size);
    if (!c) {
      add(
        figure(`scale.${size}`, `scale point ${size}`, null, "", {
          target: "corpus present",
          pass: false,
          note: "not in data/large (run scripts/prepare-large-corpus.ts)",
        }),
      );
      continue;
    }
    const { corpus, data } = scaleData(size);
    const script = path.join(ROOT, "scripts", "bench", "scale.ts");
    out(`-- ${size}: ${c.dir} (${describe(c)})`);
    const result: Record<string, any> = {};
    report[`scale.${size}`] = result;
    if (scaleSteps.has("build"))
      try {
        const b = (result.build = await runChild<Record<string, any>>(script, ["--step", "build", "--copy-from", c.dir, "--corpus", corpus, "--data", data], {
          label: `build-${size}`,
          timeoutMs: 2 * HOUR,
        }));
        out(`   ${b.articles} articles, ${b.passages} sentences; build phases (s): ${JSON.stringify(b.seconds)}; embedding ${b.embedPerSecond} sentences/s`);
        add(
          figure(`scale.${size}.build`, `index build from nothing (${b.passages} sentences)`, b.seconds.total, "s", {
            note: `embed ${b.seconds.embed} s, HNSW ${b.seconds.hnsw} s`,
          }),
        );
        add(
          figure(`scale.${size}.index_size`, "index size on disk", mb(b.indexBytes.total), "MB", {
            note: Object.entries(b.indexBytes)
              .filter(([k]) => k !== "total")
              .map(([k, v]) => `${k} ${round(mb(v as number), 1)}`)
              .join(", "),
          }),
        );
        add(figure(`scale.${size}.rss_build`, "peak RSS, building", mb(b.peakRssBytes), "MB", { target: "< 3072 MB", pass: b.peakRssBytes < 3 * 2 ** 30 }));
      } catch (err) {
        failed(`scale.${size}.build`, "index build", err);
        continue;
      }
    if (scaleSteps.has("serve"))
      try {
        const s = (result.serve = await runChild<Record<string, any>>(
          script,
          ["--step", "serve", "--corpus", corpus, "--data", data, "--questions", opts.questions],
          { label: `serve-${size}`, timeoutMs: 2 * HOUR },
        ));
        add(figure(`scale.${size}.open`, "open a built index (read corpus + load index)", s.openSeconds, "s"));
        latencyFigures(`scale.${size}`, `${size}, ${s.passages} sentences`, s.latency, 15);
        printProfile(s);
        const rc = s.recall;
        add(
          figure(`scale.${size}.recall@10`, `HNSW recall@10 vs exact, ef ${rc.atRetrieverEf.ef} (${rc.queries} queries)`, rc.atRetrieverEf.recallAt10, "", {
            target: "≥ 0.98",
            pass: rc.atRetrieverEf.recallAt10 >= 0.98,
            note: `strict (no ties) ${rc.atRetrieverEf.recallAt10Strict}; HNSW ${rc.atRetrieverEf.searchMsP50} ms vs exact ${rc.exactSearchMsP50} ms/query`,
          }),
        );
        out(`   recall@10 by ef: ${rc.sweep.map((x: any) => `ef ${x.ef}: ${x.recallAt10} (${x.searchMsP50} ms)`).join("; ")}`);
        add(
          figure(`scale.${size}.rss_serve`, "peak RSS, serving (open + questions + recall)", mb(s.peakRssBytes), "MB", {
            target: "< 3072 MB",
            pass: s.peakRssBytes < 3 * 2 ** 30,
          }),
        );
      } catch (err) {
        failed(`scale.${size}.serve`, "serve (latency, recall)", err);
      }
    if (scaleSteps.has("reindex"))
      try {
        const r = (result.reindex = await runChild<Record<string, any>>(script, ["--step", "reindex", "--corpus", corpus, "--data", data], {
          label: `reindex-${size}`,
          timeoutMs: 2 * HOUR,
        }));
        const onlyChanged = r.embeddedOutsideArticle === 0 && r.stats.embedded > 0 && r.stats.embedded <= r.articleSentences && r.newSentenceFound;
        add(figure(`scale.${size}.reindex`, "re-index after one article changed (re-open)", r.seconds, "s", { note: `${r.stats.reused} vectors reused` }));
        add(
          figure(`scale.${size}.reindex_embedded`, "sentences re-embedded after the change", r.stats.embedded, "", {
            target: "only that article",
            pass: onlyChanged,
            note: `article ${r.article} has ${r.articleSentences} sentences; ${r.embeddedOutsideArticle} embedded texts outside it; new sentence ${r.newSentenceFound ? "found" : "NOT found"} by a question`,
          }),
        );
        add(
          figure(`scale.${size}.rss_reindex`, "peak RSS, re-indexing", mb(r.peakRssBytes), "MB", { target: "< 3072 MB", pass: r.peakRssBytes < 3 * 2 ** 30 }),
        );
      } catch (err) {
        failed(`scale.${size}.reindex`, "re-index", err);
      }
  }
}

// ---------------------------------------------------------------------------------------------
if (want("peer")) {
  section("5. Peer: LangChain.js HNSWLib + HuggingFaceTransformersEmbeddings, same sentences and model");
  const corpora: Array<[string, string]> = [["shipped", SHIPPED_CORPUS]];
  for (const size of ["10k", "100k"]) if (sizes.includes(size) && available.has(size)) corpora.push([size, available.get(size)!.dir]);
  // LangChain lives in its own package (bench/peer/) so citebot's install doesn't carry it: installed here on first use.
  let peerReady = true;
  try {
    installPeer();
  } catch (err) {
    peerReady = false;
    failed("peer.install", "installing bench/peer (npm ci)", err);
  }
  for (const [name, dir] of peerReady ? corpora : []) {
    try {
      const r = await runChild<Record<string, any>>(
        path.join(ROOT, "bench", "peer", "peer.ts"),
        ["--corpus", dir, "--data", path.join(BENCH_DIR, `peer-${name}`), "--questions", opts.questions],
        { label: `peer-${name}`, timeoutMs: 2 * HOUR },
      );
      report[`peer.${name}`] = r;
      out(
        `-- ${name}: ${r.passages} sentences. citebot: index ${r.ours.build.seconds} s (embed ${r.ours.build.embedSeconds} s), p50 ${r.ours.latency.p50} ms, p95 ${r.ours.latency.p95} ms. LangChain: index ${r.langchain.build.seconds} s (embed ${r.langchain.build.embedSeconds} s), p50 ${r.langchain.latency.p50} ms, p95 ${r.langchain.latency.p95} ms`,
      );
      add(
        figure(`peer.${name}.index_time`, "index time, LangChain / citebot (< 1: LangChain faster)", r.ratios.indexTimeLangchainOverOurs, "×", {
          note: `embedding alone ${r.ratios.embedTimeLangchainOverOurs}×`,
        }),
      );
      add(
        figure(`peer.${name}.latency_p50`, "question latency p50, LangChain / citebot (< 1: faster)", r.ratios.latencyP50LangchainOverOurs, "×", {
          note: `p95 ${r.ratios.latencyP95LangchainOverOurs}×`,
        }),
      );
    } catch (err) {
      failed(`peer.${name}`, "LangChain comparison", err);
    }
  }
}

// ---------------------------------------------------------------------------------------------
section("Summary");
for (const f of figures) out(formatFigure(f));
const misses = figures.filter((f) => f.pass === false);
out(
  `\n${figures.filter((f) => f.pass === true).length} pass, ${misses.length} miss, ${figures.filter((f) => f.pass === null).length} info. Load average at the end: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")} (the machine has ${os.cpus().length} cores; other work running during the bench skews figures).`,
);
report.finishedAt = new Date().toISOString();
report.loadavgAtEnd = os.loadavg();
report.figures = figures;
if (opts.json) {
  writeFileSync(opts.json, JSON.stringify(report, null, 2));
  out(`wrote ${opts.json}`);
}

function snapshotLargeCorpora(corpora: Map<string, LargeCorpus>): Map<string, LargeCorpus> {
  const out = new Map<string, LargeCorpus>();
  for (const [size, c] of corpora) {
    if (!sizes.includes(size)) continue;
    const dir = path.join(BENCH_DIR, "corpora", `corpus-${size}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(c.dir)) linkSync(path.join(c.dir, f), path.join(dir, f));
    out.set(size, { ...c, dir });
  }
  return out;
}

/** `npm ci` in bench/peer/ unless its packages are there already (the lock pins them). */
function installPeer(): void {
  const dir = path.join(ROOT, "bench", "peer");
  if (existsSync(path.join(dir, "node_modules", "@langchain", "community", "package.json"))) return;
  out("Installing the LangChain peer (bench/peer, first run only)…");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
}
