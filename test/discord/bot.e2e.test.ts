// End to end: the unmodified discord.js client (our bot) against the local Discord emulator, answering
// from the real core on the shipped corpus. Assertions are on what the emulator recorded.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import type { CitebotLike } from "../../src/bot/types.js";
import type { Citebot } from "../../src/citebot.js";
import { Citebot as CitebotClass } from "../../src/citebot.js";
import { DiscordEmulator, type EmuUser, EPHEMERAL, Intents } from "./emulator.js";
import {
  captureLogs,
  carriesMessage,
  expectNoPings,
  expectWholeWordStretches,
  expectWithinLimits,
  isCreateMessage,
  isTyping,
  type LogCapture,
  openCitebot,
  replyTo,
  sleep,
  unmarkdown,
  waitUntil,
  withAnswer,
} from "./helpers.js";
import { writeLongCorpus } from "./longcorpus.js";

/** A bold run; escaped characters (e.g. \*) may occur inside it. */
const BOLD = /\*\*(?:\\.|[^*\\])+\*\*/;

const ANSWERABLE = "What did Antonov say about the Geneva summit?";
const UNANSWERABLE = "whats the current price of bitcoin";
const EXPLODE = "EXPLODE"; // questions containing this make the injected dependency throw

let core: Awaited<ReturnType<typeof openCitebot>>;
let real: Citebot;

beforeAll(async () => {
  core = await openCitebot();
  real = core.citebot;
}, 60_000);

afterAll(() => core?.cleanup());

/** The real core, except that `answer` fails for questions containing EXPLODE (the handler-error scenario). */
function withInjectedFailure(c: Citebot): CitebotLike {
  return withAnswer(c, (q, o) => (q.includes(EXPLODE) ? Promise.reject(new Error("simulated index failure")) : c.answer(q, o)));
}

describe("bot without the Message Content intent", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let logs: LogCapture;
  let n = 0;
  /** A fresh member per scenario, so rate limits never leak between tests. */
  const member = () => emu.addUser(`user${++n}`);

  beforeAll(async () => {
    emu = await DiscordEmulator.start({ heartbeatIntervalMs: 250 });
    logs = captureLogs();
    bot = await runBot({
      citebot: withInjectedFailure(real),
      config: botConfig({
        token: emu.token,
        apiUrl: emu.apiUrl,
        answerChannels: [emu.channels.answers.id],
        rateLimit: { max: 3, windowMs: 60_000 },
      }),
      logger: logs.logger,
    });
  });

  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
  });

  /** Sends a mention and resolves with the bot's reply request. */
  async function ask(author: EmuUser, content: string, extra: Parameters<DiscordEmulator["sendMessage"]>[0] = { content: "" }) {
    const msg = emu.sendMessage({ mentionBot: true, ...extra, author, content });
    return { msg, reply: await emu.waitForRequest(replyTo(msg.id)) };
  }

  it("identifies with Guilds, GuildMessages and DirectMessages only, and keeps the heartbeat going", async () => {
    expect(emu.intents).toBe(Intents.Guilds | Intents.GuildMessages | Intents.DirectMessages);
    expect(bot.client.user.id).toBe(emu.botUser.id);
    expect(bot.client.guilds.cache.get(emu.guild.id)?.channels.cache.size).toBe(3);
    // a heartbeat from the client, answered with an ACK
    await new Promise<void>((resolve) => {
      const check = () => {
        const i = emu.gatewayFrames.findIndex((f) => f.direction === "in" && f.op === 1);
        if (i >= 0 && emu.gatewayFrames.slice(i).some((f) => f.direction === "out" && f.op === 11)) return resolve();
        setTimeout(check, 50);
      };
      check();
    });
    const identify = emu.gatewayFrames.find((f) => f.op === 2)!;
    expect(identify.d.token).toBe("[token]");
  });

  it("warns at start-up that answer channels need the Message Content intent", () => {
    const warning = logs.lines.find((l) => l.level === 40 && /ANSWER_CHANNELS/.test(String(l.msg)));
    expect(warning?.msg).toMatch(/MESSAGE_CONTENT_INTENT=true/);
  });

  it("answers a mention in a channel: typing first, then a reply with cited excerpts", async () => {
    const u = member();
    const { msg, reply } = await ask(u, ANSWERABLE);
    const typing = emu.requests.find((r) => isTyping(r) && r.path === `/channels/${emu.channels.general.id}/typing`);
    expect(typing, "typing indicator").toBeDefined();
    expect(typing!.seq).toBeLessThan(reply.seq);
    expect(reply.path).toBe(`/channels/${msg.channel_id}/messages`);
    expect(reply.body.message_reference.message_id).toBe(msg.id);
    expect(reply.body.content).toContain("Here is what the articles say about");
    expect(reply.body.content).toContain("Antonov");
    expect(reply.body.content).not.toContain(`<@${emu.botUser.id}>`); // mention stripped from the question
    const embeds = reply.body.embeds;
    expect(embeds.length).toBeGreaterThanOrEqual(1);
    expect(embeds.length).toBeLessThanOrEqual(3);
    for (const e of embeds) {
      expect(e.title).toMatch(/^\[\d+\] /);
      expect(e.description).toMatch(BOLD); // the matched sentence in bold
      expect(e.footer.text).toMatch(/sentences? \d+(–\d+)? of \d+/);
    }
    // article titles from the corpus appear as citations
    const titles = real.articles().map((a) => a.title);
    expect(titles.some((t) => embeds[0].title.includes(t.slice(0, 30)))).toBe(true);
    expectNoPings(reply);
    expectWithinLimits(reply);
    expect(emu.pings.filter((p) => p.messageId === reply.response.id)).toEqual([]);
  });

  it("answers a reply to one of its answers; a reply without a ping (text hidden from it) is left alone", async () => {
    const u = member();
    const first = await ask(u, ANSWERABLE);
    const followUp = emu.sendMessage({ author: u, content: "what about cybersecurity and the expert dialogue?", replyTo: first.reply.response.id });
    const reply = await emu.waitForRequest(replyTo(followUp.id));
    expect(reply.body.content).toMatch(/cyber/i);
    expect(reply.body.embeds.length).toBeGreaterThan(0);
    expectNoPings(reply);

    // With the reply ping switched off Discord hides the text from a bot without Message Content:
    // most such replies ("thanks") aren't for the bot, so it says nothing (it used to say "I can't read that").
    const silent = emu.sendMessage({ author: u, content: "thanks!", replyTo: first.reply.response.id, pingReply: false });
    await sleep(800);
    expect(emu.requests.filter(replyTo(silent.id))).toEqual([]);
  });

  it("answers a DM in the DM channel", async () => {
    const u = member();
    const dm = emu.sendDM({ author: u, content: "What is the mechanism for expert dialogue on cybersecurity supposed to focus on?" });
    const reply = await emu.waitForRequest(replyTo(dm.id));
    expect(reply.path).toBe(`/channels/${emu.dmChannel(u).id}/messages`);
    expect(reply.body.content).toContain("Here is what the articles say");
    expect(unmarkdown(JSON.stringify(reply.body.embeds))).toMatch(/critical infrastructure/);
    expectNoPings(reply);
  });

  it("ignores other bots, itself, plain messages and answer-channel messages it cannot read", async () => {
    const u = member();
    const fromBot = emu.sendMessage({ author: emu.users.otherBot, content: ANSWERABLE, mentionBot: true });
    const plain = emu.sendMessage({ author: u, content: ANSWERABLE });
    const inAnswerChannel = emu.sendMessage({ author: u, channelId: emu.channels.answers.id, content: ANSWERABLE });
    const before = emu.botMessages().length;
    // a question after them; once it is answered, the ones before were handled too
    const { reply } = await ask(u, "Who is Dmitry Peskov?");
    await sleep(100);
    for (const m of [fromBot, plain, inAnswerChannel]) expect(emu.requests.some(replyTo(m.id))).toBe(false);
    expect(emu.botMessages().length).toBe(before + 1);
    expect(reply.status).toBe(200);
  });

  it("/ask answers publicly after deferring", async () => {
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: ANSWERABLE }, user: member() });
    const edit = await emu.waitForInteractionResponse(ia);
    const [callback] = emu.requestsFor(ia);
    expect(callback!.path).toBe(`/interactions/${ia.id}/${ia.token}/callback`);
    expect(callback!.body.type).toBe(5); // deferred: acknowledged at once
    expect(callback!.body.data?.flags ?? 0).toBe(0);
    expect(callback!.at - ia.createdAt).toBeLessThan(3000);
    expect(edit.method).toBe("PATCH");
    expect(edit.path).toBe(`/webhooks/${emu.application.id}/${ia.token}/messages/@original`);
    expect(edit.body.content).toContain("Here is what the articles say about");
    expect(edit.body.embeds.length).toBeGreaterThan(0);
    expect(edit.response.flags & EPHEMERAL).toBe(0);
    expectNoPings(edit);
    expectWithinLimits(edit);
  });

  it("/ask private:true answers ephemerally (flag 64)", async () => {
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: ANSWERABLE, private: true }, user: member() });
    const edit = await emu.waitForInteractionResponse(ia);
    const [callback] = emu.requestsFor(ia);
    expect(callback!.body).toEqual({ type: 5, data: { flags: EPHEMERAL } });
    expect(edit.response.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(edit.body.embeds.length).toBeGreaterThan(0);
    expectNoPings(edit);
  });

  it("/source suggests articles as the user types, then shows the passage asked for", async () => {
    const u = member();
    const ac = emu.sendAutocomplete({ name: "source", options: { article: "gene" }, focused: "article", user: u });
    const suggestions = await emu.waitForRequest((r) => r.path === `/interactions/${ac.id}/${ac.token}/callback`);
    expect(suggestions.status).toBe(204);
    expect(suggestions.body.type).toBe(8);
    const choices = suggestions.body.data.choices as Array<{ name: string; value: string }>;
    const expected = real.articles().filter((a) => /gene/i.test(a.title));
    expect(choices.length).toBe(Math.min(25, expected.length));
    expect(choices.map((c) => c.value).sort()).toEqual(
      expected
        .map((a) => a.id)
        .sort()
        .slice(0, 25),
    );
    for (const c of choices) {
      expect(c.name.length).toBeGreaterThan(0);
      expect(c.name.length).toBeLessThanOrEqual(100);
    }

    const target = real.articles().find((a) => a.source && a.date && /cyber/i.test(a.text))!;
    const ia = emu.sendSlashCommand({ name: "source", options: { article: target.id, query: "expert dialogue on cybersecurity" }, user: u });
    const edit = await emu.waitForInteractionResponse(ia);
    expect(emu.requestsFor(ia)[0]!.body.type).toBe(5);
    expect(edit.body.content).toMatch(/best matches/);
    const [embed] = edit.body.embeds;
    expect(unmarkdown(embed.title)).toBe(target.title);
    expect(embed.author.name).toBe(`${target.source} · ${target.date}`);
    expect(unmarkdown(embed.description)).toMatch(/expert dialogue on cybersecurity/);
    expect(embed.footer.text).toMatch(/sentences? \d+/);
    expectNoPings(edit);

    const byNumber = emu.sendSlashCommand({ name: "source", options: { article: target.id, passage: 3 }, user: u });
    const edit2 = await emu.waitForInteractionResponse(byNumber);
    expect(edit2.body.content).toMatch(/^Sentence 3 of \d+/);
    const third = (await real.passages(target.id))[2]!;
    expect(unmarkdown(edit2.body.embeds[0].description)).toContain(third.text.replace(/\s+/g, " ").slice(0, 40));

    const unknown = emu.sendSlashCommand({ name: "source", options: { article: "zzzz no such article" }, user: u });
    const notice = await emu.waitForInteractionResponse(unknown);
    expect(notice.body).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });
    expect(notice.body.data.content).toMatch(/can't find an article/);
  });

  it("/sources lists the articles", async () => {
    const ia = emu.sendSlashCommand({ name: "sources", user: member() });
    const res = await emu.waitForInteractionResponse(ia);
    expect(res.body.type).toBe(4);
    const text = unmarkdown(res.body.data.embeds.map((e: any) => e.description).join("\n"));
    for (const a of real.articles()) expect(text).toContain(a.title.slice(0, 60));
    expect(res.body.data.content).toMatch(new RegExp(`^${real.articles().length} articles?`));
    expectNoPings(res);
    expectWithinLimits(res);
  });

  it("/help explains the commands, privately", async () => {
    const ia = emu.sendSlashCommand({ name: "help", user: member() });
    const res = await emu.waitForInteractionResponse(ia);
    expect(res.body.type).toBe(4);
    expect(res.body.data.flags).toBe(EPHEMERAL);
    const text = res.body.data.embeds[0].description;
    for (const c of ["/ask", "/source", "/sources"]) expect(text).toContain(c);
    expectNoPings(res);
  });

  it("the More button pages through further excerpts", async () => {
    const u = member();
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: ANSWERABLE }, user: u });
    const edit = await emu.waitForInteractionResponse(ia);
    const button = edit.body.components?.[0]?.components?.[0];
    expect(button).toMatchObject({ type: 2, label: "More" });
    expect(button.custom_id).toMatch(/^more:[\w-]{22}$/); // a random key; the offset stays in the bot
    const firstTitles = edit.body.embeds.map((e: any) => e.title);

    const click = emu.clickButton({ messageId: edit.response.id, customId: button.custom_id, user: u });
    const followUp = await emu.waitForRequest((r) => r.method === "POST" && r.path === `/webhooks/${emu.application.id}/${click.token}`);
    const [update] = emu.requestsFor(click);
    expect(update!.body.type).toBe(7); // acknowledged by taking the spent button off the answer
    const left = update!.body.data.components.flatMap((r: any) => r.components.map((c: any) => c.custom_id));
    expect(left).toHaveLength(2); // its 👍/👎 stay
    for (const id of left) expect(id).toMatch(/^vote:[\w-]{22}:(up|down)$/);
    expectNoPings(update!);
    expect(followUp.status).toBe(200);
    expect(followUp.body.content).toMatch(/excerpts 4–/);
    expect(followUp.body.embeds[0].title).toMatch(/^\[4\] /);
    expect(followUp.body.embeds.map((e: any) => e.title)).not.toEqual(firstTitles);
    expectNoPings(followUp);
    const buttons = emu.messages.get(edit.response.id)!.components.flatMap((r: any) => r.components);
    expect(buttons.some((b: any) => b.label === "More")).toBe(false);
  });

  it("a question with @everyone and a role mention pings no one and echoes no live mention", async () => {
    const u = member();
    const { reply } = await ask(u, `@everyone <@&${emu.guild.modRoleId}> @here what did Antonov say about the Geneva summit?`);
    expectNoPings(reply);
    expect(reply.body.allowed_mentions).toEqual({ parse: [], replied_user: false });
    const all = JSON.stringify(reply.body);
    expect(all).not.toMatch(/@everyone|@here/);
    expect(all).not.toMatch(/<@&\d+>/);
    expect(reply.body.content).toContain("@\u200beveryone"); // shown, defused
    expect(emu.pings.filter((p) => p.messageId === reply.response.id)).toEqual([]);
  });

  it("says plainly when the articles don't cover a question, offering related passages", async () => {
    const { reply } = await ask(member(), UNANSWERABLE);
    expect(reply.body.content).toMatch(/The articles don't cover/);
    expect(reply.body.content).toContain("bitcoin");
    for (const e of reply.body.embeds) expect(e.title).toMatch(/^Related · /);
    expect(reply.body.content).toMatch(/Related/);
  });

  it("rate-limits a burst from one user: one 'slow down', the rest ignored; /ask gets an ephemeral notice", async () => {
    const u = member();
    const burst = Array.from({ length: 6 }, (_, i) => emu.sendMessage({ author: u, mentionBot: true, content: `${ANSWERABLE} (${i})` }));
    await waitUntil(() => burst.filter((m) => emu.requests.some(replyTo(m.id))).length >= 4);
    // another user is still served; once that answer is in, the burst has been fully handled
    await ask(member(), ANSWERABLE);
    const replies = burst.map((m) => emu.requests.find(replyTo(m.id)));
    const answered = replies.filter((r) => r?.body.embeds?.length);
    const slowDown = replies.filter((r) => /Slow down/.test(r?.body.content ?? ""));
    expect(answered.length).toBe(3);
    expect(slowDown.length).toBe(1);
    expect(replies.filter((r) => !r).length).toBe(2);
    expectNoPings(slowDown[0]!);

    const ia = emu.sendSlashCommand({ name: "ask", options: { question: ANSWERABLE }, user: u });
    const res = await emu.waitForInteractionResponse(ia);
    expect(res.body).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });
    expect(res.body.data.content).toMatch(/Slow down a little: you can ask again in \d+ s/);
  });

  it("one rate limit across every way of asking: mentions, /ask, More, /source with a query and Find sources", async () => {
    const u = member();
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: ANSWERABLE }, user: u });
    const edit = await emu.waitForInteractionResponse(ia);
    const more = edit.body.components?.[0]?.components?.find((c: any) => c.label === "More");
    expect(more).toBeDefined();
    await ask(u, `${ANSWERABLE} (2)`);
    await ask(u, `${ANSWERABLE} (3)`); // the third and last question this minute
    const before = await bot.context.metrics.registry.getSingleMetricAsString("citebot_rate_limited_total");
    const target = real.articles()[0]!;
    const claim = emu.sendMessage({ author: member(), content: "Antonov said the Geneva talks were constructive." });
    const attempts = [
      emu.clickButton({ messageId: edit.response.id, customId: more.custom_id, user: u }),
      emu.sendSlashCommand({ name: "source", options: { article: target.id, query: "cybersecurity" }, user: u }),
      emu.sendMessageCommand({ name: "Find sources", messageId: claim.id, user: u }),
      emu.sendSlashCommand({ name: "ask", options: { question: "and the expert dialogue?" }, user: u }),
    ];
    for (const attempt of attempts) {
      const res = await emu.waitForInteractionResponse(attempt);
      expect(res.body).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });
      expect(res.body.data.content).toMatch(/^Slow down a little: you can ask again in \d+ s\.$/);
      expectNoPings(res);
    }
    const after = await bot.context.metrics.registry.getSingleMetricAsString("citebot_rate_limited_total");
    const count = (text: string, source: string) => Number(new RegExp(`source="${source}",notified="true"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    for (const source of ["more", "source", "find-sources", "ask"]) expect(count(after, source) - count(before, source), source).toBe(1);
    // /source without a query costs nothing, so it still works.
    const plain = emu.sendSlashCommand({ name: "source", options: { article: target.id }, user: u });
    expect((await emu.waitForInteractionResponse(plain)).body.content).toMatch(/^The opening of the article/);
  });

  it("turns a handler error into a short apology, logs it, and keeps serving", async () => {
    const u = member();
    const { reply } = await ask(u, `please ${EXPLODE} now`);
    expect(reply.body.content).toMatch(/^Sorry, something went wrong/);
    expectNoPings(reply);
    const logged = logs.lines.find((l) => l.level === 50 && (l.err as any)?.message === "simulated index failure");
    expect(logged).toBeDefined();

    // A public /ask: the apology goes privately (ephemeral follow-up) and the public "thinking…" is removed.
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: `${EXPLODE} again` }, user: u });
    const apology = await emu.waitForInteractionResponse(ia);
    expect(apology.method).toBe("POST");
    expect(apology.body.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(apology.body.content).toMatch(/^Sorry, something went wrong/);
    await emu.waitForRequest((r) => r.method === "DELETE" && r.path.includes(ia.token) && r.status === 204);
    expect(emu.requestsFor(ia).filter((r) => r.method === "PATCH")).toEqual([]);

    const next = await ask(u, ANSWERABLE);
    expect(next.reply.body.embeds.length).toBeGreaterThan(0);
  });

  it("a Discord error on a reply is logged without the interaction's token, and the user still gets an apology", async () => {
    emu.injectFault({ method: "PATCH", path: /^\/webhooks\//, status: 400, times: 1, body: { message: "Invalid Form Body", code: 50035 } });
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: ANSWERABLE }, user: member() });
    const apology = await emu.waitForRequest((r) => r.method === "POST" && r.path.includes(ia.token) && r.status === 200);
    expect(apology.body.content).toMatch(/^Sorry, something went wrong/);
    expect(apology.body.flags & EPHEMERAL).toBe(EPHEMERAL);
    const logged = logs.lines.find((l) => l.level === 50 && (l.err as any)?.status === 400);
    expect((logged?.err as any)?.url).toMatch(/\/webhooks\/\d+\/\[token\]\/messages\/(@|%40)original/);
    const raw = logs.raw.join("\n");
    for (const i of emu.interactions.values()) expect(raw).not.toContain(i.token);
  });

  it("rides out a 429 and a 500 from Discord, a dropped gateway connection and a reconnect request (resume + replay)", async () => {
    emu.injectFault({ method: "POST", path: /^\/channels\/\d+\/messages$/, status: 429, retryAfter: 0.1, times: 1 });
    emu.injectFault({ method: "POST", path: /^\/channels\/\d+\/messages$/, status: 500, times: 1 });
    const { reply } = await ask(member(), ANSWERABLE);
    const attempts = emu.requests.filter((r) => isCreateMessage(r) && r.body?.message_reference?.message_id === reply.body.message_reference.message_id);
    expect(attempts.map((r) => r.status)).toEqual([429, 500, 200]);

    const resumed = new Promise((r) => emu.once("resumed", r));
    emu.closeGateway(4000);
    await resumed;
    const frame = emu.gatewayFrames.filter((f) => f.op === 6).at(-1)!;
    expect(frame.d).toMatchObject({ token: "[token]", session_id: expect.any(String), seq: expect.any(Number) });
    const after = await ask(member(), ANSWERABLE);
    expect(after.reply.body.embeds.length).toBeGreaterThan(0);

    // op 7 "reconnect": the client reconnects and resumes; a message dispatched meanwhile is replayed
    const resumedAgain = new Promise((r) => emu.once("resumed", r));
    emu.requestReconnect();
    await new Promise((r) => emu.once("gatewayClose", r));
    const whileAway = emu.sendMessage({ author: member(), content: ANSWERABLE, mentionBot: true });
    await resumedAgain;
    expect((await emu.waitForRequest(replyTo(whileAway.id))).status).toBe(200);
    expect(emu.gatewayFrames.filter((f) => f.op === 2)).toHaveLength(1); // never re-identified
  });

  it("never sent a message without allowed_mentions.parse = [] or outside Discord's limits, and made no failing call", () => {
    const visible = emu.requests.filter((r) => carriesMessage(r) && r.status < 300);
    expect(visible.length).toBeGreaterThan(20);
    for (const r of visible) {
      expectNoPings(r);
      expectWithinLimits(r);
    }
    expect(emu.requests.filter((r) => r.status >= 400 && !r.fault).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([]);
    expect(emu.pings).toEqual([]);
    // the token never reaches the logs
    expect(logs.raw.join("\n")).not.toContain(emu.token);
  });
});

describe("bot with the Message Content intent, answer channels and long answers", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;

  beforeAll(async () => {
    emu = await DiscordEmulator.start();
    bot = await runBot({
      citebot: real,
      config: botConfig({
        token: emu.token,
        apiUrl: emu.apiUrl,
        answerChannels: [emu.channels.answers.id],
        messageContentIntent: true,
        answerExcerpts: 10,
      }),
      logger: captureLogs().logger,
    });
  });

  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
  });

  it("requests Message Content and answers every message in an answer channel, without a mention", async () => {
    expect(emu.intents! & Intents.MessageContent).toBe(Intents.MessageContent);
    const u = emu.addUser("reader");
    const elsewhere = emu.sendMessage({ author: u, channelId: emu.channels.news.id, content: ANSWERABLE });
    const msg = emu.sendMessage({ author: u, channelId: emu.channels.answers.id, content: ANSWERABLE });
    const reply = await emu.waitForRequest(replyTo(msg.id));
    expect(reply.path).toBe(`/channels/${emu.channels.answers.id}/messages`);
    expect(reply.body.embeds.length).toBeGreaterThan(0);
    expectNoPings(reply);
    await sleep(100);
    expect(emu.requests.some(replyTo(elsewhere.id))).toBe(false);
  });

  it("answers in threads: every message in a thread of an answer channel, and mentions in other threads", async () => {
    const u = emu.addUser("threader");
    const thread = emu.createThread(emu.channels.answers.id, "follow-ups");
    const other = emu.createThread(emu.channels.news.id, "chatter");
    const inAnswerThread = emu.sendMessage({ author: u, channelId: thread.id, content: ANSWERABLE });
    const plainElsewhere = emu.sendMessage({ author: u, channelId: other.id, content: ANSWERABLE });
    const mentionElsewhere = emu.sendMessage({ author: u, channelId: other.id, content: ANSWERABLE, mentionBot: true });
    const r1 = await emu.waitForRequest(replyTo(inAnswerThread.id));
    const r2 = await emu.waitForRequest(replyTo(mentionElsewhere.id));
    expect(r1.path).toBe(`/channels/${thread.id}/messages`);
    expect(r2.path).toBe(`/channels/${other.id}/messages`);
    expect(emu.requests.some(replyTo(plainElsewhere.id))).toBe(false);
  });

  it("an over-long exchange (every excerpt the corpus gives, a 1,900-character hostile question) stays within every limit, cut only between words", async () => {
    const head = "What did Antonov say about the Geneva summit and the expert dialogue on cybersecurity?";
    const filler = ` **Also** @everyone <@&${emu.guild.modRoleId}> _please_ \`quote\` ||all|| of it`;
    let question = head;
    while (question.length + filler.length < 1890) question += filler;
    question += ` ${"x".repeat(60)}`; // ends in a giant "word"
    const direct = await real.answer(question, { limit: 10 });
    expect(direct.hits.length, "the long config shows more than the default 3 excerpts").toBeGreaterThan(3);

    const msg = emu.sendMessage({ author: emu.addUser("longreader"), channelId: emu.channels.news.id, content: question, mentionBot: true });
    expect(msg.content.length).toBeLessThanOrEqual(2000); // what Discord lets a user send
    const reply = await emu.waitForRequest(replyTo(msg.id));
    expect(reply.status).toBe(200);
    expectWithinLimits(reply);
    expectNoPings(reply);
    expect(JSON.stringify(reply.body)).not.toMatch(/@everyone|<@&\d+>/);

    // the echoed question is cut at a space, marked with "…"
    const echoed = /“(.*)”/.exec(reply.body.content)![1]!;
    expect(echoed.length).toBeLessThan(question.length);
    expect(echoed.endsWith("…")).toBe(true);
    const echoedText = unmarkdown(echoed.slice(0, -1));
    expect(question.startsWith(echoedText)).toBe(true);
    expect(question[echoedText.length]).toBe(" ");

    const embeds = reply.body.embeds as any[];
    expect(embeds.length).toBe(direct.hits.length); // nothing dropped
    const total = embeds.reduce((n, e) => n + (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text.length ?? 0), 0);
    expect(total).toBeLessThanOrEqual(6000);
    for (const e of embeds) {
      const rank = Number(/\[(\d+)\]/.exec(e.title)![1]);
      const hit = direct.hits.find((h) => h.rank === rank)!;
      expect(unmarkdown(e.title)).toContain(hit.article.title.slice(0, 40));
      expectWholeWordStretches(e.description, hit.context);
      expect(e.description).toMatch(BOLD); // the matched sentence is kept, in bold
    }
  });
});

describe("an over-long answer from long, markup-heavy articles (real core on a generated corpus)", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let long: Citebot;
  const dirs: string[] = [];
  const QUESTION = "What was found on the turbine blades?";

  beforeAll(async () => {
    const corpusDir = writeLongCorpus();
    const dataDir = mkdtempSync(path.join(tmpdir(), "citebot-long-data-"));
    dirs.push(corpusDir, dataDir);
    long = await CitebotClass.open({ corpusDir, dataDir });
    emu = await DiscordEmulator.start();
    bot = await runBot({
      citebot: long,
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, answerExcerpts: 10 }),
      logger: captureLogs().logger,
    });
  }, 60_000);

  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("ten excerpts worth ~7,000 characters are fitted under 6,000, trimmed at sentence or word boundaries, escaped, pinging no one", async () => {
    const direct = await long.answer(QUESTION, { limit: 10 });
    const raw = direct.hits.reduce((n, h) => n + h.context.length + h.article.title.length + 80, 0);
    expect(direct.hits.length).toBe(10);
    expect(raw, "precondition: the untrimmed answer is over Discord's 6000").toBeGreaterThan(6000);

    const ia = emu.sendSlashCommand({ name: "ask", options: { question: QUESTION }, user: emu.addUser("engineer") });
    const edit = await emu.waitForInteractionResponse(ia);
    expect(edit.status).toBe(200);
    expectWithinLimits(edit);
    expectNoPings(edit);
    const embeds = edit.body.embeds as any[];
    expect(embeds).toHaveLength(10);
    const total = embeds.reduce((n, e) => n + (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text.length ?? 0), 0);
    expect(total).toBeLessThanOrEqual(6000);
    expect(total).toBeGreaterThan(4000); // trimmed to fit, not gutted
    const all = JSON.stringify(edit.body);
    expect(all).not.toMatch(/@everyone|<@&\d+>/);
    expect(embeds[0].title).toContain("\\*cracks\\*"); // markdown in titles is escaped
    expect(embeds[0].url).toMatch(/^https:\/\/example\.com\/blades\/\d$/);

    let trimmed = 0;
    for (const e of embeds) {
      expect(e.title.length).toBeLessThanOrEqual(256);
      expect(e.description.length).toBeLessThanOrEqual(4096);
      expect(e.footer.text.length).toBeLessThanOrEqual(2048);
      const rank = Number(/\[(\d+)\]/.exec(e.title)![1]);
      const hit = direct.hits.find((h) => h.rank === rank)!;
      if (expectWholeWordStretches(e.description, hit.context)) trimmed++;
      expect(unmarkdown(e.description)).toContain(hit.text.replace(/\s+/g, " ").trim().slice(0, 50)); // the matched sentence survives
      expect(e.description).toMatch(BOLD);
    }
    expect(trimmed, "some excerpts were trimmed").toBeGreaterThan(0);

    // and the next page, too
    const button = edit.body.components[0].components[0];
    const click = emu.clickButton({ messageId: edit.response.id, customId: button.custom_id, user: ia.user });
    const next = await emu.waitForRequest((r) => r.method === "POST" && r.path === `/webhooks/${emu.application.id}/${click.token}`);
    expect(next.status).toBe(200);
    expectWithinLimits(next);
    expect(next.body.embeds[0].title).toMatch(/^\[11\] /);
  });
});

describe("start-up failures", () => {
  it("a rejected token ends with a clear message saying how to get one (no token in it)", async () => {
    const emu = await DiscordEmulator.start();
    try {
      const err = await runBot({
        citebot: real,
        config: botConfig({ token: "not-the-right-token", apiUrl: emu.apiUrl }),
        logger: captureLogs().logger,
      }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe("BotStartError");
      expect((err as Error).message).toMatch(/Discord rejected DISCORD_TOKEN/);
      expect((err as Error).message).toMatch(/Developer Portal|developers\/applications/);
      expect((err as Error).message).not.toContain("not-the-right-token");
      const gw = emu.requests.find((r) => r.path === "/gateway/bot")!;
      expect(gw.status).toBe(401);
    } finally {
      await emu.stop();
    }
  });

  it("a Message Content intent not enabled in the portal ends with a message saying where to enable it", async () => {
    const emu = await DiscordEmulator.start({ allowedPrivilegedIntents: 0 });
    try {
      const err = await runBot({
        citebot: real,
        config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, messageContentIntent: true }),
        logger: captureLogs().logger,
        loginTimeoutMs: 10_000,
      }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/Message Content Intent in the Developer Portal/);
    } finally {
      await emu.stop();
    }
  });
});
