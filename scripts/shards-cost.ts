// What sharding costs on one machine, side by side: `citebot bot` as one process, and
// `citebot bot --shards N` (the ShardingManager and N shard processes), each against the local
// Discord emulator on 127.0.0.1 with the shipped corpus (index built beforehand, so start-up is
// load + connect). Per configuration, medians over --runs starts: time from launch until every
// shard has logged "bot ready", resident memory (manager and each shard, from /proc), the latency
// of questions asked one after another across the servers and DMs (send → reply received by the
// emulator), and the time SIGTERM takes to end everything.
//
//   npx tsx scripts/shards-cost.ts [--shards 1,2] [--runs 3] [--questions 12]
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DiscordEmulator, shardOfGuild } from "../test/discord/emulator.js";
import { cliEnv, replyTo, waitUntil } from "../test/discord/helpers.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const SHARD_COUNTS = opt("shards", "1,2")
  .split(",")
  .map((x) => Number(x));
const RUNS = Number(opt("runs", "3"));
const QUESTIONS = Number(opt("questions", "12"));
const ASK = ["What did Antonov say about cybersecurity?", "Who will lead the U.S. delegation?", "When will the strategic stability talks take place?"];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : Number.NaN;
};
/** Resident memory and its private part (RssAnon): shared libraries' pages (onnxruntime, node) count in every RSS but exist once. */
const memMb = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon") };
};
const fmt = (m: { rss: number; anon: number }) => `${m.rss.toFixed(0)}/${m.anon.toFixed(0)}`;
const med = (ms: Array<{ rss: number; anon: number }>) => ({ rss: median(ms.map((m) => m.rss)), anon: median(ms.map((m) => m.anon)) });

interface RunResult {
  readyMs: number;
  managerMb?: { rss: number; anon: number };
  shardMb: Array<{ rss: number; anon: number }>;
  latencies: number[];
  stopMs: number;
}

async function run(dataDir: string, shards: number | undefined): Promise<RunResult> {
  const n = shards ?? 1;
  const emu = await DiscordEmulator.start({ recommendedShards: n, maxConcurrency: n });
  const guilds = [emu.guild.id];
  const channels = [emu.channels.general.id];
  for (let i = 1; i < n; i++) {
    const g = emu.joinGuild(`Newsroom ${i}`, [{ name: "desk" }], { shard: [(shardOfGuild(emu.guild.id, n) + i) % n, n] });
    guilds.push(g.guild.id);
    channels.push(g.channels[0]!.id);
  }
  let stderr = "";
  const started = Date.now();
  const child: ChildProcess = spawn(process.execPath, ["bin/citebot.js", "bot", ...(shards ? ["--shards", String(shards)] : [])], {
    cwd: ROOT,
    env: cliEnv({ DISCORD_TOKEN: emu.token, DISCORD_API_URL: emu.apiUrl, DATA_DIR: dataDir, LOG_FORMAT: "json", RATE_LIMIT_MAX: "1000" }),
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const logs = () =>
    stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as { msg?: string; pid?: number; shard?: number }];
        } catch {
          return [];
        }
      });
  try {
    await waitUntil(() => logs().filter((l) => l.msg === "bot ready").length === n, 180_000, "every shard ready");
    const readyMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 1000)); // let start-up garbage settle before reading memory
    const shardPids = logs()
      .filter((l) => l.msg === "bot ready")
      .map((l) => l.pid!);
    const result: RunResult = {
      readyMs,
      managerMb: shards ? memMb(child.pid!) : undefined,
      shardMb: shardPids.map(memMb),
      latencies: [],
      stopMs: 0,
    };
    for (let q = 0; q < QUESTIONS; q++) {
      const author = emu.addUser(`asker${q}`);
      const where = q % (channels.length + 1);
      const content = ASK[q % ASK.length]!;
      const sent = Date.now();
      const msg =
        where === channels.length ? emu.sendDM({ author, content }) : emu.sendMessage({ author, channelId: channels[where], content, mentionBot: true });
      await emu.waitForRequest(replyTo(msg.id), 60_000);
      result.latencies.push(Date.now() - sent);
    }
    const stopping = Date.now();
    const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
    child.kill("SIGTERM");
    await exited;
    result.stopMs = Date.now() - stopping;
    return result;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await emu.stop();
  }
}

const dataDir = mkdtempSync(path.join(tmpdir(), "citebot-shards-cost-"));
try {
  // Build the index once, so every configuration only loads it.
  await new Promise<void>((resolve, reject) =>
    spawn(process.execPath, ["bin/citebot.js", "index"], { cwd: ROOT, env: cliEnv({ DATA_DIR: dataDir }), stdio: "ignore" }).on("close", (c) =>
      c === 0 ? resolve() : reject(new Error(`citebot index exited ${c}`)),
    ),
  );
  const configs: Array<number | undefined> = [undefined, ...SHARD_COUNTS];
  const rows: string[][] = [];
  for (const shards of configs) {
    const results: RunResult[] = [];
    for (let r = 0; r < RUNS; r++) results.push(await run(dataDir, shards));
    const perShard = results.flatMap((x) => x.shardMb);
    rows.push([
      shards ? `--shards ${shards}` : "one process",
      String(shards ? shards + 1 : 1),
      (median(results.map((x) => x.readyMs)) / 1000).toFixed(1),
      shards ? fmt(med(results.map((x) => x.managerMb!))) : "-",
      fmt(med(perShard)),
      fmt(
        med(
          results.map((x) =>
            [...(x.managerMb ? [x.managerMb] : []), ...x.shardMb].reduce((a, b) => ({ rss: a.rss + b.rss, anon: a.anon + b.anon }), { rss: 0, anon: 0 }),
          ),
        ),
      ),
      median(results.flatMap((x) => x.latencies)).toFixed(0),
      (median(results.map((x) => x.stopMs)) / 1000).toFixed(2),
    ]);
  }
  const header = ["configuration", "processes", "ready s", "manager MB rss/anon", "per shard MB rss/anon", "total MB rss/anon", "answer p50 ms", "stop s"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  console.log(`medians over ${RUNS} starts each, ${QUESTIONS} questions per start (one after another), shipped corpus, index prebuilt`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
