// Indexing can't take the bot down: /reindex builds in a child process with a memory ceiling. While
// questions keep flowing, (1) a build made to fail deterministically (INDEX_BUILD_MEMORY_MB below
// what any build needs) and (2) a hostile corpus file (200,000 tiny sentences in 800 KB, which the
// old sentence splitter needs gigabytes for) must leave every question answered, from the previous
// index or the new one; the bot process never restarts (same gateway session, no reconnect); when
// the build fails the admin gets the reason privately and the log says it. The hostile case holds
// either way: if the splitter handles the file (the fix of issue 11 item 1), the build succeeds and
// the new index serves. The event loop's worst stall during the rebuilds is measured and bounded.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { Citebot } from "../../src/citebot.js";
import { DiscordEmulator, EPHEMERAL } from "./emulator.js";
import { CORPUS_DIR, captureLogs, type LogCapture, replyTo, sleep, waitUntil } from "./helpers.js";

const Q = "What did Antonov say about the Geneva summit?";
const MANAGE_GUILD = String(1n << 5n);
const FERRY = "Ferry news\n\nThe Riverton ferry resumed service on Saturday after a two-week strike by its crew.\n";

let corpusDir: string;
let dataDir: string;
let citebot: Citebot;
let emu: DiscordEmulator;
let bot: BotHandle;
let logs: LogCapture;
let n = 0;
const member = () => emu.addUser(`rx${++n}`);

beforeAll(async () => {
  corpusDir = mkdtempSync(path.join(tmpdir(), "citebot-reindex-corpus-"));
  dataDir = mkdtempSync(path.join(tmpdir(), "citebot-reindex-data-"));
  cpSync(CORPUS_DIR, corpusDir, { recursive: true });
  citebot = await Citebot.open({ corpusDir, dataDir });
  emu = await DiscordEmulator.start();
  logs = captureLogs();
  bot = await runBot({
    citebot,
    config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, rateLimit: { max: 10_000, windowMs: 60_000 } }),
    logger: logs.logger,
    indexWatch: { pollMs: 200, debounceMs: 50 },
  });
}, 60_000);

afterEach(() => {
  delete process.env.INDEX_BUILD_MEMORY_MB;
});

afterAll(async () => {
  await bot?.stop();
  await emu?.stop();
  for (const d of [corpusDir, dataDir]) if (d) rmSync(d, { recursive: true, force: true });
});

/**
 * Asks `Q` every 60 ms from several members until `stop()`; returns the message ids. The event
 * loop's delay is sampled meanwhile (10 ms resolution).
 */
function questionStream() {
  const ids: string[] = [];
  const users = Array.from({ length: 8 }, () => member());
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let on = true;
  const pump = (async () => {
    for (let i = 0; on; i++) {
      ids.push(emu.sendMessage({ author: users[i % users.length]!, content: Q, mentionBot: true }).id);
      await sleep(60);
    }
  })();
  return {
    ids,
    async stop() {
      on = false;
      await pump;
      delay.disable();
      return { maxStallMs: delay.max / 1e6 };
    },
  };
}

/** Every question got a real answer (an excerpt from the articles), none an apology. */
async function expectAllAnswered(ids: string[]) {
  expect(ids.length).toBeGreaterThan(5);
  const replies = await Promise.all(ids.map((id) => emu.waitForRequest(replyTo(id), 20_000)));
  for (const r of replies) {
    expect(r.status).toBe(200);
    expect(r.body.content).toMatch(/^Here is what the articles say about/);
    expect(r.body.embeds[0].title).toContain("Envoy");
  }
}

async function reindex() {
  const ia = emu.sendSlashCommand({ name: "reindex", user: member(), permissions: MANAGE_GUILD });
  const done = await emu.waitForInteractionResponse(ia, 90_000);
  const [ack] = emu.requestsFor(ia);
  expect(ack!.body).toEqual({ type: 5, data: { flags: EPHEMERAL } }); // private to the admin
  return done.body.content as string;
}

async function askAbout(question: string) {
  const msg = emu.sendMessage({ author: member(), content: question, mentionBot: true });
  return (await emu.waitForRequest(replyTo(msg.id), 15_000)).body;
}

describe("/reindex builds in a child process: a failed or killed build can't take the bot down", () => {
  const stalls: number[] = [];
  let baseline = 0;

  it("(baseline) the event loop's worst stall while questions flow and nothing is rebuilt", async () => {
    const stream = questionStream();
    await sleep(2000);
    baseline = (await stream.stop()).maxStallMs;
    await expectAllAnswered(stream.ids);
  }, 30_000);

  it("a build over its memory ceiling is stopped; every question is answered from the previous index; the admin is told why", async () => {
    const before = citebot.version;
    const sessions = emu.gatewayCloses.length;
    writeFileSync(path.join(corpusDir, "ferry.txt"), FERRY);
    process.env.INDEX_BUILD_MEMORY_MB = "40"; // below what any build needs: the child is stopped at once
    const stream = questionStream();
    const content = await reindex();
    await sleep(300);
    stalls.push((await stream.stop()).maxStallMs);

    expect(content).toMatch(
      /^Rebuilding failed: the build used more memory than its 40 MB limit \(.*\) while .*, and was stopped\. I'm still answering from the previous index\. Remove or fix the file it was working on, or raise INDEX_BUILD_MEMORY_MB\.$/,
    );
    const failed = logs.lines.find((l) => l.msg === "reindex failed; still answering from the previous index");
    expect(failed?.level).toBe(50);
    expect(JSON.stringify(failed?.err)).toMatch(/more memory than its 40 MB limit/);
    await expectAllAnswered(stream.ids);
    expect(citebot.version).toBe(before);
    const ferry = await askAbout("When did the Riverton ferry resume service?");
    expect(JSON.stringify(ferry.embeds ?? [])).not.toContain("Ferry news");
    // the same process and the same gateway session throughout
    expect(emu.gatewayCloses.length).toBe(sessions);
    expect(bot.healthReport()).toMatchObject({ ok: true, gateway: "ready" });
  }, 120_000);

  it("a hostile file (200,000 tiny sentences, 800 KB): the build skips it and succeeds, and every question is answered", async () => {
    const before = citebot.version;
    const sessions = emu.gatewayCloses.length;
    const failuresBefore = logs.lines.filter((l) => l.msg === "reindex failed; still answering from the previous index").length;
    writeFileSync(path.join(corpusDir, "tiny-sentences.txt"), `Tiny sentences\n\n${"Go. ".repeat(200_000)}`);
    process.env.INDEX_BUILD_MEMORY_MB = "700";
    const stream = questionStream();
    const content = await reindex();
    await sleep(300);
    stalls.push((await stream.stop()).maxStallMs);
    await expectAllAnswered(stream.ids);
    expect(emu.gatewayCloses.length).toBe(sessions);
    expect(bot.healthReport()).toMatchObject({ ok: true, gateway: "ready" });

    // The splitter refuses a file of more sentences than its limit, so the build succeeds without
    // it, names it, and picks up the article added meanwhile (the memory ceiling is not reached).
    expect(content).toMatch(/^Rebuilt the index \(the articles changed\): 3 articles, \d+ sentences .*Skipped 1 unusable file/);
    expect(citebot.version).not.toBe(before);
    expect(citebot.article("tiny-sentences")).toBeUndefined();
    expect(logs.lines.filter((l) => l.msg === "reindex failed; still answering from the previous index").length).toBe(failuresBefore);
  }, 120_000);

  it("with the hostile file gone and the default ceiling, /reindex finds the index current and the new article is answered", async () => {
    rmSync(path.join(corpusDir, "tiny-sentences.txt"));
    const stream = questionStream();
    const content = await reindex();
    await sleep(300); // the delay histogram records a stall at the next timer tick
    stalls.push((await stream.stop()).maxStallMs);
    // The skipped file was never part of the index, so removing it changes nothing.
    expect(content).toMatch(/^The index is already up to date \(3 articles/);
    await expectAllAnswered(stream.ids);
    const ferry = await askAbout("When did the Riverton ferry resume service?");
    expect(ferry.embeds[0].title).toContain("Ferry news");
    await waitUntil(() => logs.lines.some((l) => l.msg === "reindexed"), 5000, "the reindexed log line");
  }, 120_000);

  it("the event loop never stalled long during those rebuilds", () => {
    expect(stalls).toHaveLength(3);
    // The building happens in the child; this process only loads the result. A build in this
    // process stalled it for seconds (the hostile file: until it died). 10 ms sampling.
    console.log(`worst event-loop stall during each rebuild (ms): ${stalls.map((s) => s.toFixed(1)).join(", ")}; with no rebuild: ${baseline.toFixed(1)}`);
    for (const s of stalls) expect(s).toBeLessThan(500);
  });
});
