// Load, scaled down for `npm test` (the 500-question run is `npm run soak`): a burst from many users
// across channels, DMs and /ask, each question matched to its reply; and bounded work — a full
// queue answers "busy" at once instead of piling up.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { DiscordEmulator, EPHEMERAL } from "./emulator.js";
import { captureLogs, expectNoPings, type LogCapture, openCitebot, replyTo, waitUntil, withAnswer } from "./helpers.js";
import { formatReport, runLoad, settledHeapMb } from "./load.js";

let core: Awaited<ReturnType<typeof openCitebot>>;
beforeAll(async () => {
  core = await openCitebot();
}, 60_000);
afterAll(() => core?.cleanup());

describe("a burst of 60 questions from 10 users across channels, DMs and /ask", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let logs: LogCapture;

  beforeAll(async () => {
    emu = await DiscordEmulator.start();
    logs = captureLogs();
    bot = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, rateLimit: { max: 5, windowMs: 60_000 } }),
      logger: logs.logger,
    });
  });
  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
  });

  it("answers or explicitly rate-limits every question, none lost or answered twice, memory flat", async () => {
    // warm-up, so the heap baseline includes the caches a running bot has anyway
    await runLoad(emu, logs, { users: 4, questions: 8, spreadMs: 50 });
    emu.clearRecords();
    const before = await settledHeapMb();

    const report = await runLoad(emu, logs, { users: 10, questions: 60, spreadMs: 600, settleTimeoutMs: 20_000 });
    console.log(formatReport("load (npm test)", report));
    expect(report.lost, JSON.stringify(report.results.filter((r) => r.outcome === "lost").map((r) => [r.surface, r.id]))).toBe(0);
    expect(report.duplicates).toBe(0);
    // 10 users x 6 questions with 5 allowed per minute: 5 answers and one "slow down" each
    expect(report.counts.answer).toBe(50);
    expect(report.counts["slow-down"]).toBe(10);
    expect(report.counts.busy + report.counts.apology + report.counts.refused + report.counts["rate-limited-silent"]).toBe(0);

    const metrics = await bot.context.metrics.registry.getSingleMetricAsString("citebot_questions_total");
    expect(metrics).toMatch(/source="dm"/);
    expect(metrics).toMatch(/source="ask"/);

    emu.clearRecords();
    const after = await settledHeapMb();
    console.log(`heap after GC: before ${before.toFixed(1)} MB, after ${after.toFixed(1)} MB`);
    expect(after - before).toBeLessThan(25);
  });
});

describe("bounded work: a full queue says busy at once", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let release: () => void = () => undefined;

  beforeAll(async () => {
    emu = await DiscordEmulator.start();
    const gate = new Promise<void>((r) => (release = r));
    const c = core.citebot;
    // answers wait for the gate: the queue fills up deterministically
    const slow = withAnswer(c, async (q, o) => {
      await gate;
      return c.answer(q, o);
    });
    bot = await runBot({
      citebot: slow,
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, queue: { concurrency: 1, max: 3 } }),
      logger: captureLogs().logger,
    });
  });
  afterAll(async () => {
    release();
    await bot?.stop();
    await emu?.stop();
  });

  it("admits QUEUE_MAX questions, tells the rest (messages and /ask) to try again, then answers the admitted ones", async () => {
    const msgs = Array.from({ length: 5 }, (_, i) => emu.sendMessage({ author: emu.addUser(`busy${i}`), content: "Who met in Geneva?", mentionBot: true }));
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: "Who met in Geneva?" }, user: emu.addUser("busyask") });
    const busy = await Promise.all([...msgs.slice(3).map((m) => emu.waitForRequest(replyTo(m.id))), emu.waitForInteractionResponse(ia)]);
    for (const r of busy.slice(0, 2)) {
      expect(r.body.content).toBe("I'm busy answering a lot of questions right now. Please try again in a moment.");
      expectNoPings(r);
    }
    expect(busy[2]!.body).toMatchObject({ type: 4, data: { flags: EPHEMERAL, content: expect.stringMatching(/^I'm busy/) } });
    expect(bot.context.work.pending).toBe(3);
    const depth = await bot.context.metrics.registry.getSingleMetricAsString("citebot_queue_depth");
    expect(depth).toMatch(/citebot_queue_depth 3/);

    release();
    const answers = await Promise.all(msgs.slice(0, 3).map((m) => emu.waitForRequest(replyTo(m.id))));
    for (const a of answers) expect(a.body.embeds.length).toBeGreaterThan(0);
    await waitUntil(() => bot.context.work.pending === 0, 5000, "the queue to empty");
    const busyTotal = await bot.context.metrics.registry.getSingleMetricAsString("citebot_busy_total");
    expect(busyTotal).toMatch(/source="mention"} 2/);
    expect(busyTotal).toMatch(/source="ask"} 1/);
  });
});
