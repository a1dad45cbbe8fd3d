// Live updates: while the bot answers a steady stream of questions, articles are added and changed
// and another writer rebuilds the index (here a second Citebot on the same folders, as
// `npm run index` would; `npm run soak` does it with the real `tsx src/cli.ts index` in a child
// process). The bot notices the new `current` build, loads it without a restart, and no question
// fails meanwhile; afterwards a question about the new article is answered from it. Then /reindex:
// refused to members without Manage Server, and for a manager it rebuilds in-process.
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { Citebot, type OpenStatus } from "../../src/citebot.js";
import { DiscordEmulator, EPHEMERAL } from "./emulator.js";
import { CORPUS_DIR, captureLogs, type LogCapture, replyTo, sleep, unmarkdown, waitUntil } from "./helpers.js";

const Q = "What did Antonov say about the Geneva summit?";

const SEED_VAULT = `---
title: Negotiators Agree on Svalbard Seed Vault Protocol
source: Test Wire
date: 2021-08-02
---
Russian and American negotiators agreed in Geneva on a joint protocol to protect the Svalbard seed vault from flooding.
Deputy Foreign Minister Sergey Ryabkov said the seed vault protocol would be signed in September.
The protocol commits both countries to pay for new pumps and cooling systems at the seed vault.
`;
const ICEBREAKER = `---
title: Icebreaker Convoy Reaches Murmansk
source: Test Wire
date: 2021-08-09
---
A convoy of three nuclear icebreakers reached Murmansk on Monday after escorting grain freighters through the Arctic.
The convoy's captain said the icebreakers had cut through ice two metres thick near Novaya Zemlya.
`;

let corpusDir: string;
let dataDir: string;
let citebot: Citebot;
let emu: DiscordEmulator;
let bot: BotHandle;
let logs: LogCapture;
let n = 0;
const member = () => emu.addUser(`live${++n}`);

beforeAll(async () => {
  corpusDir = mkdtempSync(path.join(tmpdir(), "citebot-live-corpus-"));
  dataDir = mkdtempSync(path.join(tmpdir(), "citebot-live-data-"));
  cpSync(CORPUS_DIR, corpusDir, { recursive: true });
  citebot = await Citebot.open({ corpusDir, dataDir });
  emu = await DiscordEmulator.start();
  logs = captureLogs();
  bot = await runBot({
    citebot,
    config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, rateLimit: { max: 1000, windowMs: 60_000 } }),
    logger: logs.logger,
    indexWatch: { pollMs: 200, debounceMs: 50 },
  });
}, 60_000);

afterAll(async () => {
  await bot?.stop();
  await emu?.stop();
  for (const d of [corpusDir, dataDir]) if (d) rmSync(d, { recursive: true, force: true });
});

async function askAbout(question: string) {
  const msg = emu.sendMessage({ author: member(), content: question, mentionBot: true });
  return (await emu.waitForRequest(replyTo(msg.id))).body;
}

describe("live index updates", () => {
  it("keeps answering while another writer rebuilds the index, then answers from the new article", async () => {
    const firstBuild = citebot.version;
    const before = await askAbout("What did the negotiators agree about the Svalbard seed vault?");
    expect(unmarkdown(JSON.stringify(before.embeds))).not.toContain("Svalbard Seed Vault Protocol");

    // a steady stream of questions from now until after the switch
    const stream: string[] = [];
    let streaming = true;
    const users = Array.from({ length: 10 }, () => member());
    const pump = (async () => {
      for (let i = 0; streaming; i++) {
        stream.push(emu.sendMessage({ author: users[i % users.length]!, content: Q, mentionBot: true }).id);
        await sleep(40);
      }
    })();

    writeFileSync(path.join(corpusDir, "seed-vault.md"), SEED_VAULT);
    const existing = readdirSync(corpusDir).find((f) => f.endsWith(".txt"))!;
    appendFileSync(path.join(corpusDir, existing), "\nThe ambassador added that the talks would continue in the autumn.\n");
    // the other writer: its own Citebot, builds and swaps `current` (what `npm run index` does)
    let status: OpenStatus | undefined;
    const other = await Citebot.open({ corpusDir, dataDir, embedder: citebot.embedder, onStatus: (st) => (status = st) });
    expect(status).toMatchObject({ index: "built", reason: "the articles changed" });
    expect(other.version).not.toBe(firstBuild);

    await waitUntil(() => citebot.version !== firstBuild, 10_000, "the bot to load the rebuilt index");
    // Keep asking a while after the switch, and ask at least 15 questions in all however fast the rebuild was.
    await sleep(300);
    await waitUntil(() => stream.length >= 15, 10_000, "15 questions to be asked");
    streaming = false;
    await pump;

    const replies = await Promise.all(stream.map((id) => emu.waitForRequest(replyTo(id), 15_000)));
    expect(replies.length).toBeGreaterThan(10);
    for (const r of replies) {
      expect(r.status).toBe(200);
      expect(r.body.content).toMatch(/^Here is what the articles say about/);
      expect(r.body.embeds.length).toBeGreaterThan(0);
    }
    expect(logs.lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(logs.lines.some((l) => l.msg === "loaded the rebuilt index; answering from it now")).toBe(true);

    const after = await askAbout("What did the negotiators agree about the Svalbard seed vault?");
    expect(after.content).toMatch(/^Here is what the articles say about/);
    expect(after.embeds[0].title).toContain("Svalbard Seed Vault Protocol");
    expect(unmarkdown(after.embeds[0].description)).toMatch(/joint protocol to protect the Svalbard seed vault/);
    expect(citebot.articles().length).toBe(3);
  }, 60_000);

  it("/reindex is refused to members without Manage Server, and in DMs", async () => {
    const ia = emu.sendSlashCommand({ name: "reindex", user: member(), permissions: "0" });
    const res = await emu.waitForInteractionResponse(ia);
    expect(res.body).toMatchObject({ type: 4, data: { flags: EPHEMERAL, content: "Only members with the Manage Server permission can rebuild the index." } });
    const u = member();
    const dm = emu.sendSlashCommand({ name: "reindex", user: u, channelId: emu.dmChannel(u).id });
    expect((await emu.waitForInteractionResponse(dm)).body.data.content).toMatch(/^Only members with the Manage Server permission/);
  });

  it("/reindex by a manager rebuilds from the changed articles and answers from them at once (the watcher doesn't load it twice)", async () => {
    writeFileSync(path.join(corpusDir, "icebreaker.md"), ICEBREAKER);
    const reloadsBefore = logs.lines.filter((l) => l.msg === "loaded the rebuilt index; answering from it now").length;
    const ia = emu.sendSlashCommand({ name: "reindex", user: member(), permissions: String(1n << 5n) });
    const done = await emu.waitForInteractionResponse(ia, 20_000);
    const [ack] = emu.requestsFor(ia);
    expect(ack!.body).toEqual({ type: 5, data: { flags: EPHEMERAL } });
    expect(done.body.content).toMatch(/^Rebuilt the index \(the articles changed\): 4 articles, \d+ sentences \(\d+ embedded, \d+ reused\)/);
    const answer = await askAbout("What did the captain say about the icebreakers near Novaya Zemlya?");
    expect(answer.embeds[0].title).toContain("Icebreaker Convoy Reaches Murmansk");

    const again = emu.sendSlashCommand({ name: "reindex", user: member() });
    expect((await emu.waitForInteractionResponse(again, 20_000)).body.content).toBe("The index is already up to date (4 articles).");
    await sleep(500); // a few watcher polls
    expect(logs.lines.filter((l) => l.msg === "loaded the rebuilt index; answering from it now").length).toBe(reloadsBefore);
    const metric = await bot.context.metrics.registry.getSingleMetricAsString("citebot_index_reloads_total");
    expect(metric).toMatch(/trigger="watch",result="loaded"} 1/);
    expect(metric).toMatch(/trigger="reindex",result="built"} 1/);
  }, 30_000);
});
