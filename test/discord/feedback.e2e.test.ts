// 👍/👎 under every answer, against the Discord emulator: random ids bound to the answer and its
// message, only the asker votes (others get a private "ask your own"), one vote per user per answer
// (the other thumb changes it, the same thumb withdraws it; the reply says which), votes counted
// in metrics and kept in SQLite across a restart, and `citebot feedback --export` writes them in
// the evaluation format that `citebot eval` scores.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { FeedbackStore } from "../../src/bot/feedback.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { NOT_YOUR_VOTE, VOTE_EXPIRED } from "../../src/bot/votes.js";
import { evaluate, readQuestions } from "../../src/eval.js";
import { checkEvalSet } from "../../src/eval-set.js";
import { DiscordEmulator, EPHEMERAL, type RecordedRequest } from "./emulator.js";
import { CORPUS_DIR, captureLogs, cliEnv, expectNoPings, openCitebot, PROJECT_ROOT, replyTo, sleep, TSX } from "./helpers.js";
import { Transcript } from "./transcript.js";

const ANSWERABLE = "What did Antonov say about the Geneva summit?";
const UNCOVERED = "whats the current price of bitcoin";
const OTHER = "what is the mechanism for expert dialogue on cybersecurity supposed to focus on";

let core: Awaited<ReturnType<typeof openCitebot>>;
let emu: DiscordEmulator;
let bot: BotHandle;
let dir: string;
let dbFile: string;
let n = 0;
const member = () => emu.addUser(`fb${++n}`);
const t = new Transcript("feedback");

beforeAll(async () => {
  core = await openCitebot();
  emu = await DiscordEmulator.start();
  dir = mkdtempSync(path.join(tmpdir(), "citebot-feedback-"));
  dbFile = path.join(dir, "feedback.sqlite");
  bot = await runBot({
    citebot: core.citebot,
    config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, rateLimit: { max: 1000, windowMs: 60_000 }, answerExcerpts: 2, feedbackFile: dbFile }),
    logger: captureLogs().logger,
  });
}, 60_000);

afterAll(async () => {
  t.write();
  await bot?.stop();
  await emu?.stop();
  core?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const buttonsOf = (r: RecordedRequest) => (r.body.components ?? []).flatMap((row: any) => row.components);
const voteIds = (r: RecordedRequest) => {
  const ids = buttonsOf(r)
    .map((b: any) => b.custom_id)
    .filter((id: string) => id.startsWith("vote:"));
  return { up: ids.find((id: string) => id.endsWith(":up"))!, down: ids.find((id: string) => id.endsWith(":down"))! };
};

async function ask(author: ReturnType<typeof member>, question: string, who = "alice") {
  t.user(who, `@citebot ${question}`);
  const msg = emu.sendMessage({ author, content: question, mentionBot: true });
  const reply = await emu.waitForRequest(replyTo(msg.id));
  t.bot(reply);
  return reply;
}

async function press(messageId: string, customId: string, user: ReturnType<typeof member>, who: string) {
  t.user(who, `presses ${customId.endsWith(":up") ? "👍" : "👎"}`);
  const res = await emu.waitForInteractionResponse(emu.clickButton({ messageId, customId, user }));
  t.bot(res);
  expect(res.body.type).toBe(4);
  expect(res.body.data.flags & EPHEMERAL).toBe(EPHEMERAL);
  expectNoPings(res);
  return res.body.data.content as string;
}

describe("👍/👎 under every answer", () => {
  let asker: ReturnType<typeof member>;
  let reply: RecordedRequest;

  it("sit beside More, with random ids bound to the answer (one key for both thumbs, a new key per answer)", async () => {
    asker = member();
    reply = await ask(asker, ANSWERABLE);
    const buttons = buttonsOf(reply);
    expect(buttons.map((b: any) => b.label ?? b.emoji?.name)).toEqual(["More", "👍", "👎"]);
    const { up, down } = voteIds(reply);
    expect(up).toMatch(/^vote:[A-Za-z0-9_-]{22}:up$/);
    expect(down).toBe(up.replace(/:up$/, ":down"));
    const again = await ask(member(), ANSWERABLE, "bob");
    expect(voteIds(again).up).not.toBe(up);
    // An answer the articles don't cover gets them too (a right abstention is worth a 👍).
    const uncovered = await ask(member(), UNCOVERED, "carol");
    expect(uncovered.body.content).toMatch(/don't cover/);
    expect(voteIds(uncovered).up).toMatch(/^vote:/);
  });

  it("someone else pressing them gets a private 'ask your own'; nothing is recorded", async () => {
    const before = bot.context.feedback!.counts();
    const text = await press(reply.response.id, voteIds(reply).up, member(), "mallory");
    expect(text).toBe(NOT_YOUR_VOTE);
    expect(bot.context.feedback!.counts()).toEqual(before);
  });

  it("the asker votes once: the other thumb changes the vote, the same thumb takes it back, each reply says which", async () => {
    const { up, down } = voteIds(reply);
    const id = reply.response.id;
    expect(await press(id, up, asker, "alice")).toMatch(/^Thanks, I recorded your 👍/);
    expect(bot.context.feedback!.counts()).toEqual({ up: 1, down: 0 });
    expect(await press(id, down, asker, "alice")).toMatch(/^Changed your vote on this answer from 👍 to 👎/);
    expect(bot.context.feedback!.counts()).toEqual({ up: 0, down: 1 });
    expect(await press(id, down, asker, "alice")).toMatch(/^Took back your 👎: you pressed it a second time/);
    expect(bot.context.feedback!.counts()).toEqual({ up: 0, down: 0 });
    expect(await press(id, up, asker, "alice")).toMatch(/^Thanks, I recorded your 👍/);
    expect(bot.context.feedback!.counts()).toEqual({ up: 1, down: 0 });
    // The message itself is unchanged (votes are private).
    expect(emu.messages.get(id)!.components).toEqual(reply.body.components);
  });

  it("a vote id copied under another message of the same asker is refused", async () => {
    const other = await ask(asker, OTHER);
    emu.messages.get(other.response.id)!.components = reply.body.components;
    expect(await press(other.response.id, voteIds(reply).down, asker, "alice")).toBe(VOTE_EXPIRED);
    expect(bot.context.feedback!.counts()).toEqual({ up: 1, down: 0 });
  });

  it("work on private /ask answers and on More pages (the vote buttons stay when More is spent)", async () => {
    const u = member();
    t.user("dave", `/ask question:${ANSWERABLE} private:True`);
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: ANSWERABLE, private: true }, user: u });
    const priv = await emu.waitForInteractionResponse(ia);
    t.bot(priv, true);
    expect(priv.response.flags & EPHEMERAL).toBe(EPHEMERAL);
    const more = buttonsOf(priv).find((b: any) => b.label === "More");
    t.user("dave", "presses More");
    const click = emu.clickButton({ messageId: priv.response.id, customId: more.custom_id, user: u });
    const page = await emu.waitForRequest((r) => r.method === "POST" && r.path === `/webhooks/${emu.application.id}/${click.token}`);
    t.bot(page);
    const [update] = emu.requestsFor(click);
    expect(buttonsOf({ body: update!.body.data } as RecordedRequest).map((b: any) => b.emoji?.name)).toEqual(["👍", "👎"]);
    expect(voteIds(page).up).not.toBe(voteIds(priv).up);
    expect(await press(page.response.id, voteIds(page).down, u, "dave")).toMatch(/recorded your 👎/);
    expect(await press(priv.response.id, voteIds(priv).up, u, "dave")).toMatch(/recorded your 👍/);
  });

  it("are counted in metrics, by vote and outcome", async () => {
    const text = await bot.context.metrics.registry.getSingleMetricAsString("citebot_feedback_votes_total");
    expect(text).toMatch(/citebot_feedback_votes_total\{vote="up",action="recorded"\} 3/);
    expect(text).toMatch(/citebot_feedback_votes_total\{vote="down",action="changed"\} 1/);
    expect(text).toMatch(/citebot_feedback_votes_total\{vote="down",action="withdrawn"\} 1/);
    expect(text).toMatch(/citebot_feedback_votes_total\{vote="up",action="not-asker"\} 1/);
    expect(text).toMatch(/citebot_feedback_votes_total\{vote="down",action="expired"\} 1/);
  });
});

describe("stored durably and exported for evaluation", () => {
  it("votes survive a restart of the bot; the store keeps question, excerpts and a hashed user id, no raw id", async () => {
    // A 👍 on "not covered" and a 👎 on an answer, then stop.
    const u = member();
    const uncovered = await ask(u, UNCOVERED, "erin");
    await press(uncovered.response.id, voteIds(uncovered).up, u, "erin");
    const v = member();
    const wrong = await ask(v, OTHER, "frank");
    await press(wrong.response.id, voteIds(wrong).down, v, "frank");
    await bot.stop();
    t.note("bot restarted");

    const store = new FeedbackStore(dbFile);
    const voted = store.votedAnswers();
    store.close();
    expect(voted.map((x) => x.vote).sort()).toEqual(["down", "down", "up", "up", "up"]);
    const approved = voted.find((x) => x.question === ANSWERABLE && x.vote === "up")!;
    expect(approved.answered).toBe(true);
    expect(approved.excerpts[0]).toMatchObject({
      rank: 1,
      articleId: expect.any(String),
      file: expect.stringMatching(/\.txt$/),
      text: expect.stringMatching(/\w/),
    });
    const raw = readFileSync(dbFile).toString("latin1") + (existsSync(`${dbFile}-wal`) ? readFileSync(`${dbFile}-wal`).toString("latin1") : "");
    for (const id of [u.id, v.id]) expect(raw).not.toContain(id);

    // A new bot on the same database: the old answer's buttons still work and remember the vote.
    bot = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, feedbackFile: dbFile }),
      logger: captureLogs().logger,
    });
    expect(await press(wrong.response.id, voteIds(wrong).up, v, "frank")).toMatch(/^Changed your vote on this answer from 👎 to 👍/);
    expect(await press(wrong.response.id, voteIds(wrong).down, v, "frank")).toMatch(/^Changed your vote on this answer from 👍 to 👎/);
  }, 60_000);

  it("`citebot feedback --export` writes the 👍 as scorable questions and the 👎 as drafts to review; eval scores them", async () => {
    await bot.stop();
    const out = path.join(dir, "votes.jsonl");
    const run = spawnSync(process.execPath, [TSX, "src/cli.ts", "feedback", "--export", out, "--db", dbFile], {
      cwd: PROJECT_ROOT,
      env: cliEnv({}),
      encoding: "utf8",
      timeout: 60_000,
    });
    t.user("admin", `npm run feedback -- --export votes.jsonl`);
    t.log(run.stderr.trim());
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/Wrote 2 questions to .*votes\.jsonl \(1 👍 answers, 1 👍 on "not covered" as negatives\)/);
    const lines = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const byQ = new Map(lines.map((l) => [l.question, l]));
    expect(byQ.get(UNCOVERED)).toMatchObject({ answers: [], source: null, kind: "negative" });
    const good = byQ.get(ANSWERABLE);
    expect(good.answers).toHaveLength(1);
    expect(good.source).toMatch(/\.txt$/);
    expect(["lexical", "paraphrase"]).toContain(good.kind);
    // Valid against the corpus (answers are exact substrings of their source), and scored by eval.
    const check = await checkEvalSet(out, CORPUS_DIR);
    expect(check.errors).toEqual([]);
    const figures = await evaluate(core.citebot, readQuestions(out));
    expect(figures.answerable).toBe(1);
    expect(figures.hit1).toBe(1); // the approved excerpt is still the top one
    expect(figures.abstainOnNegatives).toBe(1);

    const review = readFileSync(out.replace(/\.jsonl$/, ".review.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    // Dave's private 👎 on a More page, and Frank's 👎 (the latest of his votes).
    expect(review.map((r) => r.question).sort()).toEqual([OTHER].sort());
    expect(review[0]).toMatchObject({ answers: [], kind: "negative", answered: expect.any(Boolean), review: expect.stringMatching(/fill answers/) });
    expect(review[0].shown.length).toBeGreaterThan(0);
    await sleep(10);
  }, 90_000);
});

describe("without a usable database", () => {
  it("the bot still answers (no 👍/👎), and logs why", async () => {
    const own = await DiscordEmulator.start();
    const l = captureLogs();
    // A path under a regular file can't be created.
    const b = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: own.token, apiUrl: own.apiUrl, feedbackFile: path.join(dbFile, "nested", "feedback.sqlite") }),
      logger: l.logger,
    });
    try {
      const m = own.sendMessage({ content: ANSWERABLE, mentionBot: true });
      const reply = await own.waitForRequest(replyTo(m.id));
      expect(reply.body.content).toMatch(/^Here is what the articles say/);
      expect(buttonsOf(reply).map((x: any) => x.label ?? x.emoji?.name)).toEqual(["More"]);
      expect(l.lines.some((x) => x.level === 50 && x.msg === "could not open the feedback database; answers go out without 👍/👎 buttons")).toBe(true);
    } finally {
      await b.stop();
      await own.stop();
    }
  }, 30_000);
});
