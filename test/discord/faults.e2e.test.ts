// Faults: the gateway connection drops (resumable and not), Discord's REST API answers 429s, 5xxs
// and resets connections, an answer is slow, and the index on disk vanishes or is damaged while the
// bot runs. Each time the bot recovers (resumes, re-identifies, waits, retries) and answers what
// comes next; nothing is lost and nothing is answered twice.
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import type { CitebotLike } from "../../src/bot/types.js";
import { currentSnapshotDir, PASSAGES, readStoreManifest } from "../../src/store/fs/format.js";
import { DiscordEmulator, type EmuUser } from "./emulator.js";
import { captureLogs, isCreateMessage, type LogCapture, openCitebot, replyTo, sleep, waitUntil, withAnswer } from "./helpers.js";

const Q = "What did Antonov say about the Geneva summit?";
/** Discord lets a bot identify once per 5 s; discord.js waits that out. Here: no wait, to keep the suite fast. */
const noIdentifyWait = { ws: { buildIdentifyThrottler: () => ({ waitForIdentify: async () => undefined }) } };

let core: Awaited<ReturnType<typeof openCitebot>>;
beforeAll(async () => {
  core = await openCitebot();
}, 60_000);
afterAll(() => core?.cleanup());

function slowCore(ms: number): CitebotLike {
  const c = core.citebot;
  return withAnswer(c, async (q, o) => {
    await sleep(ms);
    return c.answer(q, o);
  });
}

describe("gateway connection faults", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let n = 0;
  const member = () => emu.addUser(`gw${++n}`);

  beforeAll(async () => {
    emu = await DiscordEmulator.start({ heartbeatIntervalMs: 1000 });
    bot = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl }),
      logger: captureLogs().logger,
      clientOptions: noIdentifyWait,
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
  });

  const count = (op: number) => emu.gatewayFrames.filter((f) => f.direction === "in" && f.op === op).length;

  it.each([
    { name: "connection dropped (1006, no close frame)", act: (e: DiscordEmulator) => e.dropGateway(), recovery: "resume" },
    { name: "close 4000 (unknown error)", act: (e: DiscordEmulator) => e.closeGateway(4000), recovery: "resume" },
    { name: "op 7 reconnect request", act: (e: DiscordEmulator) => e.requestReconnect(), recovery: "resume" },
    { name: "close 4009 (session timed out: resume refused)", act: (e: DiscordEmulator) => e.closeGateway(4009), recovery: "identify" },
    { name: "close 4007 (invalid seq: new session)", act: (e: DiscordEmulator) => e.closeGateway(4007), recovery: "identify" },
    { name: "op 9 invalid session, not resumable", act: (e: DiscordEmulator) => e.invalidateSession(false), recovery: "identify" },
  ])("$name → $recovery, then answers what comes next", async ({ act, recovery }) => {
    const identifies = count(2);
    const resumes = count(6);
    const back = new Promise<void>((r) => emu.once("ready", () => r()));
    act(emu);
    // a question sent while the connection is down: replayed on RESUME (a new session can't replay it)
    await sleep(20);
    const during = recovery === "resume" ? emu.sendMessage({ author: member(), content: Q, mentionBot: true }) : undefined;
    await back;
    if (recovery === "resume") {
      expect(count(6)).toBe(resumes + 1);
      expect(count(2)).toBe(identifies);
    } else expect(count(2)).toBe(identifies + 1);
    await waitUntil(() => bot.healthReport().ok, 5000, "the bot to report healthy again");
    const after = emu.sendMessage({ author: member(), content: Q, mentionBot: true });
    const reply = await emu.waitForRequest(replyTo(after.id));
    expect(reply.body.embeds.length).toBeGreaterThan(0);
    if (during) expect((await emu.waitForRequest(replyTo(during.id))).body.embeds.length).toBeGreaterThan(0);
    const dm = emu.sendDM({ author: member(), content: Q });
    expect((await emu.waitForRequest(replyTo(dm.id))).status).toBe(200);
  });

  it("answered every question once", () => {
    const created = emu.requests.filter((r) => isCreateMessage(r) && r.status === 200);
    const perQuestion = new Map<string, Set<string>>();
    for (const r of created) {
      const q = r.body.message_reference.message_id;
      perQuestion.set(q, (perQuestion.get(q) ?? new Set()).add(r.response.id));
    }
    expect([...perQuestion.values()].every((s) => s.size === 1)).toBe(true);
    expect(perQuestion.size).toBe(6 * 2 + 3);
  });
});

describe("REST faults: 429, 5xx, connection resets, slow answers", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let logs: LogCapture;
  let n = 0;
  const member = () => emu.addUser(`rest${++n}`);
  const messagesRoute = /^\/channels\/\d+\/messages$/;
  const attemptsFor = (id: string) => emu.requests.filter((r) => isCreateMessage(r) && r.body?.message_reference?.message_id === id);
  const ask = async (author: EmuUser = member()) => {
    const msg = emu.sendMessage({ author, content: Q, mentionBot: true });
    const reply = await emu.waitForRequest((r) => replyTo(msg.id)(r) && !r.fault, 15_000);
    return { msg, reply };
  };

  beforeAll(async () => {
    emu = await DiscordEmulator.start();
    logs = captureLogs();
    bot = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl }),
      logger: logs.logger,
      retryDelaysMs: [50, 100, 200],
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
  });

  it("waits out a 429's retry_after, then delivers", async () => {
    emu.injectFault({ method: "POST", path: messagesRoute, status: 429, retryAfter: 0.5 });
    const { msg, reply } = await ask();
    const attempts = attemptsFor(msg.id);
    expect(attempts.map((r) => r.status)).toEqual([429, 200]);
    expect(reply.at - attempts[0]!.at).toBeGreaterThanOrEqual(450);
  });

  it("waits out a global 429, then delivers", async () => {
    emu.injectFault({ method: "POST", path: messagesRoute, status: 429, retryAfter: 0.3, global: true });
    const { msg } = await ask();
    expect(attemptsFor(msg.id).map((r) => r.status)).toEqual([429, 200]);
  });

  it("keeps sending through a run of 5xx longer than discord.js's own retries, with growing pauses, and posts once", async () => {
    emu.injectFault({ method: "POST", path: messagesRoute, status: 503, times: 10 });
    const { msg } = await ask();
    const attempts = attemptsFor(msg.id);
    expect(attempts.map((r) => r.status)).toEqual([...Array(10).fill(503), 200]);
    // discord.js sends 4 times in a row; then the bot pauses (50 ms, then 100 ms, ±20%) and tries again
    expect(attempts[4]!.at - attempts[3]!.at).toBeGreaterThanOrEqual(38);
    expect(attempts[8]!.at - attempts[7]!.at).toBeGreaterThanOrEqual(78);
    expect(emu.botMessages().filter((m) => m.message_reference?.message_id === msg.id)).toHaveLength(1);
    expect(logs.lines.some((l) => l.msg?.startsWith("Discord did not take the reply"))).toBe(true);
  });

  it("a 500 that arrives after Discord created the message: the retry carries the same nonce, so the answer is posted once", async () => {
    emu.injectFault({ method: "POST", path: messagesRoute, status: 500, times: 2, after: true });
    const { msg, reply } = await ask();
    const attempts = attemptsFor(msg.id);
    expect(attempts.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(attempts.map((r) => r.body.nonce)).size).toBe(1);
    expect(attempts[0]!.body.enforce_nonce).toBe(true);
    const posted = emu.botMessages().filter((m) => m.message_reference?.message_id === msg.id);
    expect(posted).toHaveLength(1);
    expect(reply.response.id).toBe(posted[0].id);
  });

  it("connection resets are retried", async () => {
    emu.injectFault({ method: "POST", path: messagesRoute, status: 0, times: 5 });
    const { msg } = await ask();
    expect(attemptsFor(msg.id).at(-1)!.status).toBe(200);
    expect(attemptsFor(msg.id).filter((r) => r.status === 0).length).toBe(5);
  });

  it("/ask: a 429 on the acknowledgement and 502s on the answer still end in one delivered answer", async () => {
    emu.injectFault({ path: /^\/interactions\/\d+\/[^/]+\/callback$/, status: 429, retryAfter: 0.2 });
    emu.injectFault({ method: "PATCH", path: /^\/webhooks\//, status: 502, times: 5 });
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: Q }, user: member() });
    const edit = await emu.waitForRequest((r) => r.method === "PATCH" && r.path.includes(ia.token) && r.status === 200, 15_000);
    expect(edit.body.embeds.length).toBeGreaterThan(0);
    const ack = emu.requestsFor(ia).find((r) => r.path.endsWith("/callback") && r.status === 204)!;
    expect(ack.at - ia.createdAt).toBeLessThan(3000);
    expect(
      emu
        .requestsFor(ia)
        .filter((r) => r.path.endsWith("/callback"))
        .map((r) => r.status),
    ).toEqual([429, 204]);
  });

  it("when Discord keeps failing, the failure is logged, and the next question is answered once it recovers", async () => {
    emu.injectFault({ method: "POST", path: messagesRoute, status: 500, times: 1000 });
    const msg = emu.sendMessage({ author: member(), content: Q, mentionBot: true });
    await waitUntil(() => logs.lines.some((l) => l.msg === "could not send the apology" && l.messageId === msg.id), 15_000, "the bot to give up");
    expect(logs.lines.some((l) => l.msg === "message handler failed" && l.messageId === msg.id)).toBe(true);
    emu.clearFaults();
    const { reply } = await ask();
    expect(reply.body.embeds.length).toBeGreaterThan(0);
  });

  it("nothing the bot logged carries the token", () => {
    expect(logs.raw.join("\n")).not.toContain(emu.token);
  });
});

describe("a slow answer is acknowledged in time and never lost", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  // Time scaled down 6x to keep the suite fast: the emulator allows 500 ms (Discord: 3 s) to
  // acknowledge, and answers take 350 ms each, one at a time, so the third /ask's answer comes
  // ~1 s after it was asked, twice the window (Discord: ~6 s).
  const WINDOW_MS = 500;

  beforeAll(async () => {
    emu = await DiscordEmulator.start({ interactionAckDeadlineMs: WINDOW_MS });
    bot = await runBot({
      citebot: slowCore(350),
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, queue: { concurrency: 1, max: 10 } }),
      logger: captureLogs().logger,
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
  });

  it("defers every /ask at once, then edits each deferral into its answer", async () => {
    const ias = [0, 1, 2].map((i) => emu.sendSlashCommand({ name: "ask", options: { question: Q }, user: emu.addUser(`slow${i}`) }));
    const edits = await Promise.all(ias.map((ia) => emu.waitForInteractionResponse(ia, 15_000)));
    for (const [i, ia] of ias.entries()) {
      const [ack] = emu.requestsFor(ia);
      expect(ack!.body.type).toBe(5);
      expect(ack!.status).toBe(204); // the emulator refuses a late acknowledgement (10062)
      expect(ack!.at - ia.createdAt).toBeLessThan(WINDOW_MS);
      expect(edits[i]!.body.embeds.length).toBeGreaterThan(0);
    }
    expect(edits[2]!.at - ias[2]!.createdAt).toBeGreaterThan(2 * WINDOW_MS); // well past the window, still delivered
  });
});

describe("the index on disk vanishes or is damaged while the bot runs", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let logs: LogCapture;
  let n = 0;

  beforeAll(async () => {
    emu = await DiscordEmulator.start();
    logs = captureLogs();
    bot = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, rateLimit: { max: 100, windowMs: 60_000 } }),
      logger: logs.logger,
      indexWatch: { pollMs: 100, debounceMs: 20 },
    });
    await waitUntil(() => bot.context.index?.disk === "ok", 5000, "the watcher's first look");
  });
  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
  });

  const answered = async () => {
    const msg = emu.sendMessage({ author: emu.addUser(`disk${++n}`), content: Q, mentionBot: true });
    return (await emu.waitForRequest(replyTo(msg.id))).body;
  };

  it("an index file edited at the same size is noticed (checksums), and its repair too; answers keep coming", async () => {
    const snapDir = currentSnapshotDir(core.citebot.indexDir)!;
    const file = path.join(snapDir, readStoreManifest(snapDir).hnsw!.file);
    const bytes = readFileSync(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(file, bytes);
    await waitUntil(() => bot.context.index?.disk === "damaged", 5000, "the edit to be noticed");
    expect(logs.lines.find((l) => l.level === 50 && /index on disk is damaged/.test(String(l.msg)))?.msg).toMatch(/checksum does not match/);
    expect((await answered()).embeds.length).toBeGreaterThan(0);
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(file, bytes);
    await waitUntil(() => bot.context.index?.disk === "ok", 5000, "the repair to be noticed");
  });

  it("a truncated index file is noticed and logged; answers keep coming from memory", async () => {
    const snapDir = currentSnapshotDir(core.citebot.indexDir)!;
    const before = logs.lines.length;
    truncateSync(path.join(snapDir, PASSAGES), 100);
    await waitUntil(() => bot.context.index?.disk === "damaged", 5000, "the damage to be noticed");
    const logged = logs.lines.slice(before).find((l) => l.level === 50 && /index on disk is damaged/.test(String(l.msg)));
    expect(logged?.msg).toMatch(/passages\.bin is truncated/);
    expect(logged?.msg).toMatch(/still answering from the index in memory/);
    expect((await answered()).embeds.length).toBeGreaterThan(0);
    expect(bot.healthReport()).toMatchObject({ ok: true, index: { loaded: true, disk: "damaged" } });
  });

  it("the whole index folder deleted: logged once, answers keep coming", async () => {
    rmSync(core.citebot.indexDir, { recursive: true, force: true });
    await waitUntil(() => bot.context.index?.disk === "missing", 5000, "the loss to be noticed");
    expect(logs.lines.filter((l) => /index on disk is gone/.test(String(l.msg)))).toHaveLength(1);
    for (let i = 0; i < 3; i++) expect((await answered()).embeds.length).toBeGreaterThan(0);
    await sleep(300); // several polls later: still one log line
    expect(logs.lines.filter((l) => /index on disk is gone/.test(String(l.msg)))).toHaveLength(1);
  });

  it("/reindex rebuilds it, and the bot is whole again", async () => {
    const ia = emu.sendSlashCommand({ name: "reindex", user: emu.addUser("admin"), channelId: emu.channels.general.id });
    const done = await emu.waitForInteractionResponse(ia, 20_000);
    expect(done.body.content).toMatch(/^Rebuilt the index \(there is no index yet\)/);
    expect(existsSync(currentSnapshotDir(core.citebot.indexDir)!)).toBe(true);
    expect(readdirSync(path.join(core.citebot.indexDir, "snapshots"))).toHaveLength(1);
    await waitUntil(() => bot.context.index?.disk === "ok", 5000, "disk ok");
    expect((await answered()).embeds.length).toBeGreaterThan(0);
    expect(logs.lines.filter((l) => l.level >= 50 && /handler/.test(String(l.msg)))).toEqual([]);
  });
});
