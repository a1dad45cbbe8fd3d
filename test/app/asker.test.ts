import { describe, expect, it } from "vitest";
import { ASK_TEXT, Asker, type AskRequest } from "../../src/app/asker.js";
import { messageOf } from "../../src/bot/context.js";
import { BotMetrics } from "../../src/bot/metrics.js";
import { renderAnswerFor } from "../../src/bot/plaintext.js";
import { RateLimiter } from "../../src/bot/ratelimit.js";
import { TEXT } from "../../src/bot/render.js";
import { WorkQueue } from "../../src/bot/work.js";
import { MAX_QUESTION_CHARS, REFUSAL } from "../../src/question.js";
import type { Answer, AnswerOptions, Hit } from "../../src/types.js";

const HIT: Hit = {
  rank: 1,
  text: "Antonov said the talks were businesslike.",
  context: "Antonov said the talks were businesslike.",
  highlights: [{ start: 0, end: 41 }],
  score: 0.8,
  article: { id: "a1", title: "Talks in Geneva", file: "a1.txt" },
  passageIds: ["a1#0"],
  position: { first: 0, last: 0, total: 1 },
};

/** A core that records what it was asked; each answer waits for `gate` when one is set. */
function fakeCore() {
  const asked: Array<{ question: string; opts?: AnswerOptions }> = [];
  const core = {
    asked,
    gate: undefined as Promise<void> | undefined,
    answered: true,
    async answer(question: string, opts?: AnswerOptions): Promise<Answer> {
      asked.push({ question, opts });
      if (core.gate) await core.gate;
      return { question, answered: core.answered, hits: [HIT], more: false };
    },
    async searchArticle(articleId: string, query: string): Promise<Hit | undefined> {
      asked.push({ question: `${articleId}:${query}` });
      return query.includes("Antonov") ? HIT : undefined;
    },
  };
  return core;
}

function setUp(opts: { max?: number; windowMs?: number; concurrency?: number; queueMax?: number } = {}) {
  const core = fakeCore();
  const limiter = new RateLimiter(opts.max ?? 100, opts.windowMs ?? 60_000);
  const work = new WorkQueue(opts.concurrency ?? 1, opts.queueMax ?? 10);
  const metrics = new BotMetrics(() => ({ pending: work.pending, waiting: work.waiting, active: work.active, max: work.max }), { defaultMetrics: false });
  const state = { draining: false };
  const asker = new Asker({ citebot: core, limiter, work, metrics, draining: () => state.draining });
  return { core, limiter, work, metrics, state, asker };
}

const req = (question: string, extra: Partial<AskRequest<Answer>> = {}): AskRequest<Answer> => ({ who: "u1", where: "mention", question, ...extra });

async function counter(metrics: BotMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))
    .reduce((s, v) => s + Number(v.value), 0);
}

/** A promise and the function that settles it. */
function latch() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe("Asker: admission", () => {
  it("answers a cleaned question and records it once", async () => {
    const { asker, core, metrics, work } = setUp();
    const delivered: string[] = [];
    const r = await asker.ask(
      req("  What did\u200b Antonov\nsay?\u0000 ", { options: { limit: 2 }, deliver: async (a, q) => void delivered.push(`${a.question}|${q}`) }),
    );
    expect(r.kind).toBe("answer");
    expect(core.asked).toEqual([{ question: "What did Antonov say?", opts: { limit: 2 } }]);
    expect(delivered).toEqual(["What did Antonov say?|What did Antonov say?"]);
    expect(work.pending).toBe(0);
    expect(await counter(metrics, "citebot_questions_total", { source: "mention" })).toBe(1);
    expect(await counter(metrics, "citebot_answers_total", { source: "mention", answered: "true" })).toBe(1);
    expect(await counter(metrics, "citebot_answer_duration_seconds", {})).toBeGreaterThan(0);
  });

  it.each([
    ["empty", "   ", ASK_TEXT.empty],
    ["no-words", "?!\u200b…🔥", REFUSAL.noWords],
    ["too-long", "x".repeat(MAX_QUESTION_CHARS + 1), REFUSAL.tooLong(MAX_QUESTION_CHARS + 1)],
  ])("refuses %s questions with the friendly message, before the rate limit and the queue", async (reason, question, message) => {
    const { asker, core, metrics, limiter, work } = setUp({ max: 1 });
    const r = await asker.ask(req(question));
    expect(r).toMatchObject({ kind: "refused", reason, message, notify: true });
    expect(core.asked).toEqual([]);
    expect(limiter.size).toBe(0); // nothing counted against the asker
    expect(work.pending).toBe(0);
    expect(await counter(metrics, "citebot_refused_total", { source: "mention" })).toBe(1);
    // The one question allowed per window is still there.
    expect((await asker.ask(req("Who met in Geneva?"))).kind).toBe("answer");
  });

  it("refuses a 4,000-character question (Nitro's limit) saying how long it was; the core never sees it", async () => {
    const { asker, core } = setUp();
    const question = "What did Antonov say about the talks? ".repeat(106).slice(0, 4000);
    expect(question).toHaveLength(4000);
    const r = await asker.ask(req(question));
    expect(r.kind).toBe("refused");
    if (r.kind !== "refused") return;
    expect(r.reason).toBe("too-long");
    expect(r.message).toMatch(/^That question is 4,000 characters long; please keep it under 2,000/);
    expect(core.asked).toEqual([]);
  });

  it("while shutting down, says so before anything else (even an empty question), and takes nothing", async () => {
    const { asker, state, limiter, work, core } = setUp();
    state.draining = true;
    for (const q of ["", "Who met in Geneva?"])
      expect(await asker.ask(req(q))).toMatchObject({ kind: "refused", reason: "restarting", message: TEXT.restarting });
    expect(limiter.size).toBe(0);
    expect(work.pending).toBe(0);
    expect(core.asked).toEqual([]);
  });

  it("rate limits per user, before the queue; says 'slow down' once per burst only when asked to", async () => {
    const { asker, work, metrics } = setUp({ max: 2, windowMs: 60_000 });
    expect((await asker.ask(req("one?"))).kind).toBe("answer");
    expect((await asker.ask(req("two?"))).kind).toBe("answer");
    const third = await asker.ask(req("three?", { notifyOnce: true }));
    expect(third).toMatchObject({ kind: "refused", reason: "rate-limited", notify: true });
    if (third.kind !== "refused") return;
    expect(third.retryAfterMs).toBeGreaterThan(59_000);
    expect(third.message).toBe(TEXT.slowDown(third.retryAfterMs!));
    expect(third.message).toBe("Slow down a little: you can ask again in 60 s.");
    // The rest of the burst: quiet in a channel, still told on a private surface (/ask).
    expect(await asker.ask(req("four?", { notifyOnce: true }))).toMatchObject({ reason: "rate-limited", notify: false });
    expect(await asker.ask(req("five?", { where: "ask" }))).toMatchObject({ reason: "rate-limited", notify: true });
    expect(work.pending).toBe(0);
    // Another user is not affected.
    expect((await asker.ask(req("six?", { who: "u2" }))).kind).toBe("answer");
    expect(await counter(metrics, "citebot_rate_limited_total", { source: "mention", notified: "false" })).toBe(1);
    expect(await counter(metrics, "citebot_rate_limited_total", { notified: "true" })).toBe(2);
  });

  it("holds at most QUEUE_MAX questions, until each is delivered; the next one is told the bot is busy", async () => {
    const { asker, core, work, metrics } = setUp({ concurrency: 1, queueMax: 2 });
    const computing = latch();
    const delivering = latch();
    core.gate = computing.p;
    const order: string[] = [];
    const first = asker.ask(req("first?", { who: "a", deliver: () => delivering.p.then(() => void order.push("first delivered")) }));
    const second = asker.ask(req("second?", { who: "b", deliver: async () => void order.push("second delivered") }));
    // Admission is synchronous: both hold a place before anything was awaited.
    expect(work.pending).toBe(2);
    const third = await asker.ask(req("third?", { who: "c" }));
    expect(third).toMatchObject({ kind: "refused", reason: "busy", message: TEXT.busy });
    expect(await counter(metrics, "citebot_busy_total", { source: "mention" })).toBe(1);
    computing.open();
    await second;
    // One compute slot: "second" was computed after "first", and "first" still holds its place while it delivers.
    expect(core.asked.map((a) => a.question)).toEqual(["first?", "second?"]);
    expect(work.pending).toBe(1);
    expect((await asker.ask(req("fourth?", { who: "d" }))).kind).toBe("answer");
    delivering.open();
    await first;
    expect(order).toEqual(["second delivered", "first delivered"]);
    expect(work.pending).toBe(0);
  });

  it("gives the place back when answering or delivering fails, and lets the error through", async () => {
    const { asker, work } = setUp({ queueMax: 1 });
    await expect(asker.ask(req("q?", { deliver: async () => Promise.reject(new Error("Discord said no")) }))).rejects.toThrow("Discord said no");
    expect(work.pending).toBe(0);
    await expect(asker.ask(req("q?", { prepare: async () => Promise.reject(new Error("no thread")) }))).rejects.toThrow("no thread");
    expect(work.pending).toBe(0);
    expect((await asker.ask(req("q?"))).kind).toBe("answer");
  });

  it("answers what `prepare` makes of the question (a follow-up read in context), after admission", async () => {
    const { asker, core, work } = setUp();
    const seen: number[] = [];
    const r = await asker.ask(
      req("and why?", {
        prepare: async (q) => {
          seen.push(work.pending);
          return `${q} (Antonov, cybersecurity)`;
        },
      }),
    );
    expect(seen).toEqual([1]); // admitted before preparing
    expect(core.asked[0]!.question).toBe("and why? (Antonov, cybersecurity)");
    expect(r).toMatchObject({ kind: "answer", question: "and why? (Antonov, cybersecurity)" });
  });

  it("a stored question (More) is not cleaned again, and a further page is not a second abstention", async () => {
    const { asker, core, metrics } = setUp();
    core.answered = false;
    const long = `${"word ".repeat(420)}(earlier, words)`; // over the limit once a follow-up added its context
    expect(long.length).toBeGreaterThan(MAX_QUESTION_CHARS);
    const r = await asker.ask(req(long, { where: "more", stored: true, options: { limit: 3, offset: 3 } }));
    expect(r.kind).toBe("answer");
    expect(core.asked[0]).toEqual({ question: long, opts: { limit: 3, offset: 3 } });
    expect(await counter(metrics, "citebot_abstentions_total")).toBe(0);
    await asker.ask(req("Who met?"));
    expect(await counter(metrics, "citebot_abstentions_total", { source: "mention" })).toBe(1);
  });

  it("looks a query up in one article through the same admission (/source)", async () => {
    const { asker, core } = setUp({ max: 1 });
    const r = await asker.lookUp({ who: "u1", where: "source", question: " Antonov\u200b ", articleId: "a1" });
    expect(r).toMatchObject({ kind: "answer", answer: HIT, question: "Antonov" });
    expect(core.asked).toEqual([{ question: "a1:Antonov" }]);
    expect(await asker.lookUp({ who: "u1", where: "source", question: "Antonov", articleId: "a1" })).toMatchObject({ reason: "rate-limited" });
  });

  it("works without a limiter, a queue or metrics (the CLI)", async () => {
    const core = fakeCore();
    const asker = new Asker({ citebot: core });
    for (let i = 0; i < 20; i++) expect((await asker.ask({ who: "cli", where: "cli", question: `q${i}?` })).kind).toBe("answer");
    expect(await asker.ask({ who: "cli", where: "cli", question: "" })).toMatchObject({ reason: "empty", message: REFUSAL.noWords });
  });
});

describe("Asker: nothing pings", () => {
  const hostile = "**Bold** @everyone <@&123456789012345678> @here <@!223456789012345678> __what__ did `Antonov` ||say||?\u202E";

  it("markdown and mentions in a question are escaped and defused in the answer; replies disable every ping", async () => {
    const { asker, core } = setUp();
    let payload: ReturnType<typeof messageOf> | undefined;
    const r = await asker.ask(
      req(hostile, {
        deliver: async (answer) => {
          for (const embeds of [true, false]) {
            payload = messageOf(renderAnswerFor(answer, embeds));
            const text = JSON.stringify(payload);
            expect(text).not.toMatch(/(?<!\u200b)@(everyone|here)\b/);
            expect(text).not.toMatch(/<@[!&]?\d+>/);
            expect(text).not.toMatch(/(?<!\\)\*\*Bold(?<!\\)\*\*/);
            expect(text).not.toMatch(/(?<!\\)\|\|say/);
            expect(payload.allowedMentions).toEqual({ parse: [], repliedUser: false });
          }
        },
      }),
    );
    expect(r.kind).toBe("answer");
    expect(payload).toBeDefined();
    // The bidi override is gone from what the core was asked.
    expect(core.asked[0]!.question).not.toContain("\u202E");
  });

  it("no refusal carries the question's text (so none can ping)", async () => {
    const { asker, core, state } = setUp({ max: 1, queueMax: 1 });
    const refusals: string[] = [];
    const refuse = async (question: string, who = "u1") => {
      const r = await asker.ask(req(question, { who }));
      expect(r.kind).toBe("refused");
      if (r.kind === "refused") refusals.push(`${r.reason}: ${r.message}`);
    };
    await refuse("  ");
    await refuse("@ <> ** || @");
    await refuse(hostile.repeat(40));
    expect((await asker.ask(req("Who met?"))).kind).toBe("answer");
    await refuse(hostile); // rate limited
    const gate = latch();
    core.gate = gate.p;
    const holding = asker.ask(req("Who met?", { who: "u2" }));
    await refuse(hostile, "u3"); // busy
    gate.open();
    await holding;
    state.draining = true;
    await refuse(hostile, "u4");
    expect(refusals.map((r) => r.split(":")[0])).toEqual(["empty", "no-words", "too-long", "rate-limited", "busy", "restarting"]);
    for (const m of refusals) expect(m).not.toMatch(/@|<|\*\*|\|\||Bold/);
  });
});
