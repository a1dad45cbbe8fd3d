// The bot fixes of issue 11, each against the Discord emulator: "More" buttons belong to the asker
// and their message (random ids; others get a private note; a copied id under another message is
// refused); a failed public /ask apologizes privately; a deliberate stop logs a clean shutdown, not
// a lost connection; a no-ping reply without readable text is not answered, a pinged empty one is;
// where the bot lacks Embed Links the answer comes as plain text with its excerpts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { NOT_YOUR_BUTTON } from "../../src/bot/more.js";
import { NO_EMBEDS_NOTE } from "../../src/bot/plaintext.js";
import { DiscordEmulator, EMBED_LINKS, EPHEMERAL } from "./emulator.js";
import { captureLogs, expectNoPings, type LogCapture, openCitebot, replyTo, sleep, unmarkdown, waitUntil, withAnswer } from "./helpers.js";
import { messagePayloadProblems } from "./limits.js";

const Q = "What did Antonov say about the Geneva summit?";

let core: Awaited<ReturnType<typeof openCitebot>>;
let emu: DiscordEmulator;
let bot: BotHandle;
let logs: LogCapture;
let n = 0;
const member = () => emu.addUser(`fx${++n}`);

beforeAll(async () => {
  core = await openCitebot();
  emu = await DiscordEmulator.start();
  logs = captureLogs();
  const c = core.citebot;
  bot = await runBot({
    citebot: withAnswer(c, (q, o) => (q.includes("EXPLODE") ? Promise.reject(new Error("simulated failure")) : c.answer(q, o))),
    config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, rateLimit: { max: 1000, windowMs: 60_000 }, answerExcerpts: 2 }),
    logger: logs.logger,
  });
}, 60_000);

afterAll(async () => {
  await bot?.stop();
  await emu?.stop();
  core?.cleanup();
});

const webhookPost = (token: string) => (r: { method: string; path: string }) => r.method === "POST" && r.path === `/webhooks/${emu.application.id}/${token}`;

async function askInChannel(author = member(), channelId?: string) {
  const msg = emu.sendMessage({ author, content: Q, mentionBot: true, channelId });
  const reply = await emu.waitForRequest(replyTo(msg.id));
  return { author, msg, reply };
}

describe("More buttons belong to the asker and their message", () => {
  it("ids are random 128-bit keys, different for every answer", async () => {
    const a = await askInChannel();
    const b = await askInChannel(a.author);
    const ida = a.reply.body.components[0].components[0].custom_id as string;
    const idb = b.reply.body.components[0].components[0].custom_id as string;
    for (const id of [ida, idb]) expect(id).toMatch(/^more:[A-Za-z0-9_-]{22}$/);
    expect(ida).not.toBe(idb);
    expect(ida.slice(0, 9)).not.toBe(idb.slice(0, 9)); // no shared counter prefix
  });

  it("someone else pressing it gets a private, polite note; the asker's button stays and nothing is posted publicly", async () => {
    const { reply } = await askInChannel();
    const id = reply.body.components[0].components[0].custom_id;
    const before = emu.botMessages().length;
    const click = emu.clickButton({ messageId: reply.response.id, customId: id, user: member() });
    const res = await emu.waitForInteractionResponse(click);
    expect(res.body).toMatchObject({ type: 4, data: { flags: EPHEMERAL, content: NOT_YOUR_BUTTON } });
    expectNoPings(res);
    expect(emu.messages.get(reply.response.id)!.components[0].components[0].custom_id).toBe(id);
    await sleep(200);
    expect(emu.botMessages().length).toBe(before + 1); // only the ephemeral note
  });

  it("the asker pages on; the spent id, or an id copied under another message, is refused (no replay of anyone's answer)", async () => {
    const { author, reply } = await askInChannel();
    const id = reply.body.components[0].components[0].custom_id;
    const click = emu.clickButton({ messageId: reply.response.id, customId: id, user: author });
    const page = await emu.waitForRequest(webhookPost(click.token));
    expect(page.body.content).toMatch(/excerpts 3–/);
    const nextId = page.body.components[0].components[0].custom_id;
    expect(nextId).toMatch(/^more:[A-Za-z0-9_-]{22}$/);
    expect(nextId).not.toBe(id);

    // Replaying the spent id (as a forged interaction would): put it back on the message and press.
    emu.messages.get(reply.response.id)!.components = reply.body.components;
    const replay = emu.clickButton({ messageId: reply.response.id, customId: id, user: author });
    expect((await emu.waitForInteractionResponse(replay)).body.data.content).toMatch(/too old to continue/);

    // A private answer's live id copied under a public message of the same asker: refused, nothing public.
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: Q, private: true }, user: author });
    const priv = await emu.waitForInteractionResponse(ia);
    expect(priv.response.flags & EPHEMERAL).toBe(EPHEMERAL);
    const privId = priv.body.components[0].components[0].custom_id;
    const other = await askInChannel(author);
    emu.messages.get(other.reply.response.id)!.components = priv.body.components;
    const forged = emu.clickButton({ messageId: other.reply.response.id, customId: privId, user: author });
    const res = await emu.waitForInteractionResponse(forged);
    expect(res.body).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });
    expect(res.body.data.content).toMatch(/too old to continue/);
    await sleep(200);
    expect(emu.requests.filter(webhookPost(forged.token))).toEqual([]);
  });
});

describe("a failed public /ask apologizes privately", () => {
  it("the apology is an ephemeral follow-up, the public placeholder is deleted, nothing public says sorry", async () => {
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: "EXPLODE please" }, user: member() });
    const apology = await emu.waitForRequest(webhookPost(ia.token));
    expect(apology.body.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(apology.body.content).toMatch(/^Sorry, something went wrong/);
    expectNoPings(apology);
    await emu.waitForRequest((r) => r.method === "DELETE" && r.path === `/webhooks/${emu.application.id}/${ia.token}/messages/@original`);
    const [defer] = emu.requestsFor(ia);
    expect(defer!.body.type).toBe(5);
    expect((defer!.body.data?.flags ?? 0) & EPHEMERAL).toBe(0); // it was public
    const publicSorry = emu.botMessages().filter((m) => !(m.flags & EPHEMERAL) && /Sorry/.test(m.content ?? ""));
    expect(publicSorry).toEqual([]);
  });
});

describe("replies without the Message Content intent", () => {
  it("a no-ping reply ('thanks', text hidden) gets no answer; a pinged empty reply gets a hint", async () => {
    const { author, reply } = await askInChannel();
    const thanks = emu.sendMessage({ author, content: "thanks", replyTo: reply.response.id, pingReply: false });
    const empty = emu.sendMessage({ author, content: "", replyTo: reply.response.id });
    const hint = await emu.waitForRequest(replyTo(empty.id));
    expect(hint.body.content).toMatch(/^Ask me something/);
    await sleep(300);
    expect(emu.requests.filter(replyTo(thanks.id))).toEqual([]);
    expect(JSON.stringify(emu.requests)).not.toMatch(/can't read that message/);
  });
});

describe("a channel where the bot lacks Embed Links", () => {
  it("a question there is answered in plain text, excerpts and citations included, within limits and without pings", async () => {
    emu.denyBotPermissions(emu.channels.news.id, EMBED_LINKS);
    await sleep(100); // CHANNEL_UPDATE reaches the client
    const { reply } = await askInChannel(member(), emu.channels.news.id);
    expect(reply.body.embeds ?? []).toEqual([]);
    const text = reply.body.content as string;
    expect(text).toMatch(/^Here is what the articles say about/);
    expect(text).toMatch(/\*\*\[1\] .*Envoy/);
    expect(text).toMatch(/\n> .{40,}/); // a quoted excerpt
    expect(unmarkdown(text)).toMatch(/Antonov/);
    expect(text.endsWith(NO_EMBEDS_NOTE)).toBe(true);
    expect(messagePayloadProblems(reply.body)).toEqual([]);
    expectNoPings(reply);
    expect(reply.body.components[0].components[0].label).toBe("More");
    await waitUntil(() => logs.lines.some((l) => l.msg === "no Embed Links permission in this channel; answered in plain text"), 2000, "the log line");
  });

  it("/ask there (app_permissions without Embed Links) also answers in plain text; other channels keep embeds", async () => {
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: Q }, user: member(), channelId: emu.channels.news.id });
    const res = await emu.waitForInteractionResponse(ia);
    expect(res.body.embeds).toEqual([]);
    expect(res.body.content).toMatch(/\*\*\[1\] /);
    expect(res.body.content.endsWith(NO_EMBEDS_NOTE)).toBe(true);
    const { reply } = await askInChannel();
    expect(reply.body.embeds.length).toBeGreaterThan(0);
    expect(reply.body.content).not.toContain(NO_EMBEDS_NOTE);
  });
});

describe("a deliberate stop", () => {
  it("logs a clean shutdown, not 'gateway connection lost; reconnecting'", async () => {
    const own = await DiscordEmulator.start();
    const l = captureLogs();
    const b = await runBot({ citebot: core.citebot, config: botConfig({ token: own.token, apiUrl: own.apiUrl }), logger: l.logger });
    await b.stop();
    await own.stop();
    const msgs = l.lines.map((x) => x.msg);
    expect(msgs).not.toContain("gateway connection lost; reconnecting");
    expect(msgs).not.toContain("gateway disconnected; not reconnecting");
    expect(l.lines.filter((x) => x.level >= 40)).toEqual([]);
    expect(msgs).toContain("bot stopped");
    expect(own.gatewayCloses.at(-1)?.code).toBe(1000);
  });
});
