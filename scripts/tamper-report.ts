// Same-size damage to each index file, as the command line sees it: builds an index of the shipped
// articles with `tsx src/cli.ts index`, then for each case damages a copy in place (same size) and
// runs `index` and `ask --json` as child processes, printing how each ended (exit code or signal,
// "up to date" or "rebuilt", and whether the answer quotes the articles as they are).
//
//   npx tsx scripts/tamper-report.ts [--root <checkout of citebot>]
// --root runs another checkout's CLI (e.g. an older commit exported to a temp folder, sharing this
// node_modules) to compare before and after.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const HERE = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const rootArg = process.argv.indexOf("--root");
const ROOT = rootArg > 0 ? path.resolve(process.argv[rootArg + 1]!) : HERE;
const Q = "What did Antonov say about the Geneva summit?";

const corpusDir = mkdtempSync(path.join(tmpdir(), "citebot-tamper-corpus-"));
cpSync(path.join(HERE, "corpus"), corpusDir, { recursive: true });
const pristine = mkdtempSync(path.join(tmpdir(), "citebot-tamper-data-"));

function cli(args: string[], dataDir: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, CORPUS_DIR: corpusDir, LOG_LEVEL: "warn" };
  delete env.EMBED_MODEL;
  const r = spawnSync(path.join(HERE, "node_modules", ".bin", "tsx"), ["src/cli.ts", ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const built = cli(["index"], pristine);
if (built.code !== 0) throw new Error(`could not build the index: ${built.stderr}`);
const indexDir = path.join(pristine, readdirSync(pristine)[0]!);
const snapshotRel = readlinkSync(path.join(indexDir, "current"));
const good = JSON.parse(cli(["ask", "--json", Q], pristine).stdout) as { hits: Array<{ text: string; article: { id: string } }> };
const goodTop = good.hits[0]!;

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
function patch(file: string, at: number, bytes: Buffer) {
  const buf = readFileSync(file);
  bytes.copy(buf, at);
  writeFileSync(file, buf);
}
function editText(file: string, edit: (s: string) => string) {
  const before = readFileSync(file, "utf8");
  const after = edit(before);
  if (after === before || after.length !== before.length) throw new Error(`edit of ${path.basename(file)} did not keep the size`);
  writeFileSync(file, after);
}
const bump = (d: string) => (d === "9" ? "8" : String(Number(d) + 1));

// The snapshot's files (src/store/fs/format.ts): the base HNSW is hnsw-<g>.bin, the keyword segment kw-<g>-<i>.seg.
const named = (b: string, prefix: string) => path.join(b, readdirSync(b).find((f) => f.startsWith(prefix))!);
const cases: Array<[string, (snapshot: string) => void]> = [
  ["hnsw-*.bin header: entry point", (b) => patch(named(b, "hnsw-"), 52, u32(1_000_000))],
  ["hnsw-*.bin header: max level", (b) => patch(named(b, "hnsw-"), 48, u32(9))],
  ["hnsw-*.bin header: element count", (b) => patch(named(b, "hnsw-"), 16, u64(readFileSync(named(b, "hnsw-")).readUInt32LE(16) + 5))],
  ["hnsw-*.bin: a neighbour id (element 0)", (b) => patch(named(b, "hnsw-"), 96 + 4, u32(1_000_000))],
  [
    "hnsw-*.bin: NaN in element 0's vector",
    (b) => patch(named(b, "hnsw-"), 96 + readFileSync(named(b, "hnsw-")).readUInt32LE(40), Buffer.from(new Float32Array([Number.NaN]).buffer)),
  ],
  [
    "passages.bin: passage 0's end offset",
    (b) => patch(path.join(b, "passages.bin"), 12, u32(readFileSync(path.join(b, "passages.bin")).readUInt32LE(12) + 1)),
  ],
  ["texts-*.bin: a word of article text", (b) => editText(named(b, "texts-"), (s) => s.replace("Antonov", "Antonev"))],
  [
    "articles.json: an article's text offset digit",
    (b) => editText(path.join(b, "articles.json"), (s) => s.replace(/"o":(\d)/, (_, d: string) => `"o":${bump(d)}`)),
  ],
  ["kw-*.seg: a doc label (doc 0)", (b) => patch(named(b, "kw-"), 32, u32(7))],
  [
    "manifest.json: passage count digit",
    (b) => editText(path.join(b, "manifest.json"), (s) => s.replace(/"passages": (\d)/, (_, d: string) => `"passages": ${bump(d)}`)),
  ],
];

function outcome(r: ReturnType<typeof cli>, kind: "index" | "ask"): string {
  if (r.signal) return `CRASH (${r.signal})`;
  if (r.code !== 0)
    return `exit ${r.code}${r.code === 139 ? " (segfault)" : r.code === 134 ? " (abort)" : ""}: ${r.stderr.trim().split("\n").at(-1)?.slice(0, 80)}`;
  if (kind === "index")
    return /up to date/.test(r.stderr)
      ? 'exit 0, "up to date" (damage unseen)'
      : /Built the index \(([^)]*)/.test(r.stderr)
        ? `exit 0, rebuilt (${/Built the index \(([^)]*)\)?/.exec(r.stderr)![1]!.slice(0, 70)})`
        : "exit 0";
  try {
    const a = JSON.parse(r.stdout) as { hits: Array<{ text: string; article: { id: string } }> };
    const top = a.hits[0];
    const same = top && top.article.id === goodTop.article.id && top.text === goodTop.text;
    return `exit 0, ${same ? "same answer as the intact index" : `DIFFERENT answer: ${JSON.stringify(top?.text.slice(0, 50))}`}${/Built the index/.test(r.stderr) ? " (rebuilt first)" : ""}`;
  } catch {
    return "exit 0, no JSON answer";
  }
}

console.log(`CLI of ${ROOT}\n`);
console.log(["case", "npm run index", "npm run ask (fresh copy)"].join(" | "));
for (const [name, damage] of cases) {
  const results: string[] = [];
  for (const kind of ["index", "ask"] as const) {
    const dataDir = mkdtempSync(path.join(tmpdir(), "citebot-tamper-data-"));
    cpSync(pristine, dataDir, { recursive: true, verbatimSymlinks: true });
    damage(path.join(dataDir, path.basename(indexDir), snapshotRel));
    results.push(outcome(kind === "index" ? cli(["index"], dataDir) : cli(["ask", "--json", Q], dataDir), kind));
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log([name, ...results].join(" | "));
}
rmSync(corpusDir, { recursive: true, force: true });
rmSync(pristine, { recursive: true, force: true });
