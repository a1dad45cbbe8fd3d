// npm run soak: the long reliability run, against the local Discord emulator (127.0.0.1 only).
//
//   1. load: 500 questions from 50 users within ~3 s, across channel mentions, DMs and /ask, 3 times
//      (fresh users each round), matched to their replies: answered / rate-limited / busy / lost /
//      answered twice, throughput, p50/p99 latency, heap after a full GC before and after each round;
//   2. faults under load: 200 questions while the gateway drops (1006), is closed with 4007 (new
//      session, with discord.js's real 5 s identify spacing), and REST answers 429s and 5xx runs;
//   3. live update: a steady stream of questions while articles are added and `tsx src/cli.ts index`
//      (what `npm run index` runs) rebuilds the index in another process; the bot switches without a
//      restart, no answer fails, and the new article is answered from.
//
// Exits 1 if any question is lost or answered twice, the heap grows between rounds, or the live
// update fails. Options: --questions N (500) --users N (50) --spread-ms N (3000) --rounds N (3).
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { botConfig } from "../src/bot/config.js";
import { runBot } from "../src/bot/main.js";
import { Citebot } from "../src/citebot.js";
import { DiscordEmulator } from "../test/discord/emulator.js";
import { captureLogs, unmarkdown } from "../test/discord/helpers.js";
import { formatReport, type LoadReport, runLoad, settledHeapMb } from "../test/discord/load.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const QUESTIONS = arg("questions", 500);
const USERS = arg("users", 50);
const SPREAD_MS = arg("spread-ms", 3000);
const ROUNDS = arg("rounds", 3);
const RATE_MAX = 8; // of 10 questions per user: 8 answered, 1 "slow down", 1 ignored (logged)

const problems: string[] = [];
const check = (ok: boolean, what: string) => {
  if (!ok) problems.push(what);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function verify(label: string, r: LoadReport): void {
  check(r.lost === 0, `${label}: ${r.lost} questions lost`);
  check(r.duplicates === 0, `${label}: ${r.duplicates} questions answered twice`);
  check(r.counts.apology === 0, `${label}: ${r.counts.apology} apologies`);
}

async function main(): Promise<void> {
  const corpusDir = mkdtempSync(path.join(tmpdir(), "citebot-soak-corpus-"));
  const dataDir = mkdtempSync(path.join(tmpdir(), "citebot-soak-data-"));
  cpSync(path.join(ROOT, "corpus"), corpusDir, { recursive: true });
  const emu = await DiscordEmulator.start();
  const logs = captureLogs();
  try {
    const citebot = await Citebot.open({ corpusDir, dataDir });
    const config = botConfig({ token: emu.token, apiUrl: emu.apiUrl, rateLimit: { max: RATE_MAX, windowMs: 60_000 } });
    const bot = await runBot({ citebot, config, logger: logs.logger, indexWatch: { pollMs: 500 } });
    console.log(
      `soak: ${QUESTIONS} questions from ${USERS} users over ${SPREAD_MS} ms, per round; RATE_LIMIT_MAX=${RATE_MAX}/60 s, ` +
        `QUEUE_CONCURRENCY=${config.queue.concurrency}, QUEUE_MAX=${config.queue.max}; discord.js REST: its default 50 requests/s global limit`,
    );
    const clear = () => {
      emu.clearRecords();
      logs.lines.length = 0;
      logs.raw.length = 0;
    };

    // ── 1. load ──
    await runLoad(emu, logs, { users: 10, questions: 40, spreadMs: 200 }); // warm-up
    clear();
    const heap0 = await settledHeapMb();
    const rounds: LoadReport[] = [];
    const heaps = [heap0];
    for (let round = 1; round <= ROUNDS; round++) {
      const r = await runLoad(emu, logs, { users: USERS, questions: QUESTIONS, spreadMs: SPREAD_MS, settleTimeoutMs: 120_000 });
      console.log(formatReport(`\nround ${round}`, r));
      verify(`round ${round}`, r);
      rounds.push(r);
      clear();
      // the rate-limit window is per user; every round has new users, so nothing to wait for
      heaps.push(await settledHeapMb());
      console.log(`  heap after GC: ${heaps.at(-2)!.toFixed(1)} MB before, ${heaps.at(-1)!.toFixed(1)} MB after`);
    }
    // Round 1 fills the bounded per-user state (caches, rate limiter, "More" store); later rounds must not keep growing.
    const growth = heaps.at(-1)! - heaps[1]!;
    check(growth < 5, `heap grew ${growth.toFixed(1)} MB after round 1`);

    // ── 2. faults under load ──
    console.log("\nfaults under load: 200 questions while the gateway drops (1006) and is closed with 4007, and REST answers 429s and 503 runs");
    emu.injectFault({ method: "POST", path: /^\/channels\/\d+\/messages$/, status: 429, retryAfter: 0.5, times: 3 });
    emu.injectFault({ method: "POST", path: /^\/channels\/\d+\/messages$/, status: 503, times: 12 });
    emu.injectFault({ method: "PATCH", path: /^\/webhooks\//, status: 502, times: 6 });
    const identifies = () => emu.gatewayFrames.filter((f) => f.direction === "in" && f.op === 2).length;
    const resumes = () => emu.gatewayFrames.filter((f) => f.direction === "in" && f.op === 6).length;
    const [i0, r0] = [identifies(), resumes()];
    const faultRun = runLoad(emu, logs, { users: 40, questions: 200, spreadMs: 4000, settleTimeoutMs: 30_000 });
    await sleep(800);
    emu.dropGateway();
    await new Promise((r) => emu.once("ready", r));
    await sleep(800);
    emu.closeGateway(4007);
    await new Promise((r) => emu.once("ready", r));
    const faults = await faultRun;
    console.log(formatReport("faults", faults));
    console.log(
      `  gateway: ${resumes() - r0} resume(s), ${identifies() - i0} new session(s); delivery retries: ${await metricValue(bot, "citebot_delivery_retries_total")}`,
    );
    // Questions sent while no session existed never reach the bot (Discord doesn't replay across
    // sessions); everything that did reach it must be answered exactly once.
    check(faults.lost === 0, `faults: ${faults.lost} questions reached the bot and were lost`);
    check(faults.duplicates === 0, `faults: ${faults.duplicates} answered twice`);
    check(resumes() - r0 >= 1 && identifies() - i0 >= 1, "faults: expected one resume and one new session");
    clear();

    // ── 3. live update through another process ──
    console.log("\nlive update: questions keep coming while `tsx src/cli.ts index` rebuilds the index in another process");
    const firstBuild = citebot.version;
    const stream: string[] = [];
    let streaming = true;
    const users = Array.from({ length: 20 }, (_, i) => emu.addUser(`live${i}`));
    const pump = (async () => {
      for (let i = 0; streaming; i++) {
        stream.push(emu.sendMessage({ author: users[i % users.length]!, content: "What did Antonov say about the Geneva summit?", mentionBot: true }).id);
        await sleep(100);
      }
    })();
    writeFileSync(
      path.join(corpusDir, "seed-vault.md"),
      "---\ntitle: Negotiators Agree on Svalbard Seed Vault Protocol\nsource: Test Wire\ndate: 2021-08-02\n---\n" +
        "Russian and American negotiators agreed in Geneva on a joint protocol to protect the Svalbard seed vault from flooding.\n" +
        "Deputy Foreign Minister Sergey Ryabkov said the seed vault protocol would be signed in September.\n",
    );
    const started = Date.now();
    const child = await runIndexProcess(corpusDir, dataDir);
    check(child.code === 0, `npm run index exited ${child.code}: ${child.stderr.slice(-500)}`);
    const deadline = Date.now() + 15_000;
    while (citebot.version === firstBuild && Date.now() < deadline) await sleep(50);
    const switched = citebot.version !== firstBuild;
    check(switched, "the bot did not switch to the rebuilt index");
    await sleep(1000);
    streaming = false;
    await pump;
    await sleep(1500);
    const replies = stream.map((id) => emu.requests.find((r) => r.method === "POST" && r.status === 200 && r.body?.message_reference?.message_id === id));
    const failed = replies.filter((r) => !r || !(r.body.embeds?.length > 0)).length;
    const asked = emu.sendMessage({ author: emu.addUser("after"), content: "What did the negotiators agree about the Svalbard seed vault?", mentionBot: true });
    await emu.waitForRequest((r) => r.method === "POST" && r.body?.message_reference?.message_id === asked.id, 10_000);
    const fresh = emu.requests.find((r) => r.body?.message_reference?.message_id === asked.id)!;
    const fromNew = unmarkdown(fresh.body.embeds?.[0]?.title ?? "").includes("Svalbard Seed Vault Protocol");
    console.log(
      `  rebuild in another process: ${((Date.now() - started) / 1000).toFixed(1)} s (exit ${child.code}); switched without restart: ${switched}; ` +
        `${stream.length} questions during it, ${stream.length - failed} answered, ${failed} failed; new article answered from: ${fromNew}`,
    );
    check(failed === 0, `live update: ${failed} questions failed or went unanswered`);
    check(fromNew, "live update: the question about the new article was not answered from it");
    check(logs.lines.filter((l) => l.level >= 50).length === 0, "live update: errors were logged");

    // ── summary ──
    const total = rounds.reduce(
      (a, r) => ({
        answered: a.answered + r.counts.answer,
        limited: a.limited + r.counts["slow-down"] + r.counts["rate-limited-silent"],
        busy: a.busy + r.counts.busy,
        lost: a.lost + r.lost,
        dup: a.dup + r.duplicates,
      }),
      { answered: 0, limited: 0, busy: 0, lost: 0, dup: 0 },
    );
    console.log(
      `\nsummary (load rounds): answered ${total.answered}, rate-limited ${total.limited}, busy ${total.busy}, lost ${total.lost}, duplicates ${total.dup}; ` +
        `throughput ${rounds.map((r) => r.throughput.toFixed(1)).join(" / ")} answers/s; p50 ${rounds.map((r) => r.latencyMs.p50).join(" / ")} ms, ` +
        `p99 ${rounds.map((r) => r.latencyMs.p99).join(" / ")} ms; heap ${heaps.map((h) => h.toFixed(1)).join(" → ")} MB`,
    );
    await bot.stop();
  } finally {
    await emu.stop();
    rmSync(corpusDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (problems.length) {
    console.error(`\nsoak FAILED:\n  - ${problems.join("\n  - ")}`);
    process.exitCode = 1;
  } else console.log("soak passed");
}

async function metricValue(bot: Awaited<ReturnType<typeof runBot>>, name: string): Promise<number> {
  const m = await bot.context.metrics.registry.getSingleMetric(name)?.get();
  return m?.values.reduce((n, v) => n + v.value, 0) ?? 0;
}

function runIndexProcess(corpusDir: string, dataDir: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), "src/cli.ts", "index", "--corpus", corpusDir], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: dataDir, EMBED_MODEL: "", LOG_LEVEL: "warn" },
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

await main();
