// Who may ask (ALLOWED_CHANNELS, ALLOWED_ROLES), against the Discord emulator: outside the allowed
// channels a slash command gets a private note naming them and a mention is ignored; threads under
// an allowed channel count as inside; members without an allowed role are told which roles can ask;
// DMs are refused (one line) when ALLOWED_ROLES is set and answered when only channels are scoped;
// /help works everywhere.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { DiscordEmulator, EPHEMERAL } from "./emulator.js";
import { captureLogs, expectNoPings, type LogCapture, openCitebot, replyTo, sleep } from "./helpers.js";
import { Transcript } from "./transcript.js";

const Q = "What did Antonov say about the Geneva summit?";

let core: Awaited<ReturnType<typeof openCitebot>>;
let emu: DiscordEmulator;
let bot: BotHandle;
let logs: LogCapture;
const t = new Transcript("access");

beforeAll(async () => {
  core = await openCitebot();
  emu = await DiscordEmulator.start();
  logs = captureLogs();
  bot = await runBot({
    citebot: core.citebot,
    config: botConfig({
      token: emu.token,
      apiUrl: emu.apiUrl,
      rateLimit: { max: 1000, windowMs: 60_000 },
      allowedChannels: [emu.channels.answers.id],
      allowedRoles: [emu.guild.modRoleId], // bob has it; alice and mallory don't
    }),
    logger: logs.logger,
  });
  t.note(`ALLOWED_CHANNELS=#${emu.channels.answers.name} ALLOWED_ROLES=@Moderators (bob has it)`);
}, 60_000);

afterAll(async () => {
  t.write();
  await bot?.stop();
  await emu?.stop();
  core?.cleanup();
});

async function slash(user: typeof emu.users.alice, channelId: string, name = "ask", options: Record<string, string> = { question: Q }) {
  const channel = [...Object.values(emu.channels)].find((c) => c.id === channelId)?.name ?? "thread";
  t.user(
    user.username,
    `/${name} ${Object.entries(options)
      .map(([k, v]) => `${k}:${v}`)
      .join(" ")}   (in #${channel})`,
  );
  const ia = emu.sendSlashCommand({ name, options, user, channelId });
  const res = await emu.waitForInteractionResponse(ia);
  t.bot(res);
  expectNoPings(res);
  return { ia, res };
}

async function mention(user: typeof emu.users.alice, channelId: string, label: string) {
  t.user(user.username, `@citebot ${Q}   (in ${label})`);
  return emu.sendMessage({ author: user, content: Q, mentionBot: true, channelId });
}

describe("ALLOWED_CHANNELS", () => {
  it("/ask elsewhere gets a private note naming the allowed channels; nothing is posted, nothing deferred", async () => {
    const { ia, res } = await slash(emu.users.bob, emu.channels.general.id);
    expect(res.body).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });
    expect(res.body.data.content).toBe(`I answer questions only in <#${emu.channels.answers.id}>. Ask me there.`);
    expect(emu.requestsFor(ia).map((r) => r.body?.type)).toEqual([4]);
  });

  it("a mention elsewhere is ignored (no reply, no typing), logged and counted", async () => {
    const msg = await mention(emu.users.bob, emu.channels.general.id, "#general");
    await sleep(400);
    t.note("no reply");
    expect(emu.requests.filter(replyTo(msg.id))).toEqual([]);
    expect(emu.requests.filter((r) => r.path === `/channels/${emu.channels.general.id}/typing`)).toEqual([]);
    expect(logs.lines.some((l) => l.messageId === msg.id && l.outcome === "not-allowed" && l.reason === "channel")).toBe(true);
    expect(await bot.context.metrics.registry.getSingleMetricAsString("citebot_not_allowed_total")).toMatch(/source="mention",reason="channel"\} 1/);
  });

  it("inside the allowed channel, and in a thread under it, a member with the role is answered", async () => {
    const { res } = await slash(emu.users.bob, emu.channels.answers.id);
    expect(res.body.content).toMatch(/^Here is what the articles say/);
    const m = await mention(emu.users.bob, emu.channels.answers.id, "#ask-the-archive");
    const reply = await emu.waitForRequest(replyTo(m.id));
    t.bot(reply);
    expect(reply.body.content).toMatch(/^Here is what the articles say/);
    const thread = emu.createThread(emu.channels.answers.id, "geneva follow-up", emu.users.bob);
    await sleep(100);
    const inThread = await mention(emu.users.bob, thread.id, "a thread under #ask-the-archive");
    const r2 = await emu.waitForRequest(replyTo(inThread.id));
    t.bot(r2);
    expect(r2.body.content).toMatch(/^Here is what the articles say/);
  });

  it("/help works everywhere", async () => {
    const { res } = await slash(emu.users.alice, emu.channels.general.id, "help", {});
    expect(res.body.data.embeds[0].title).toMatch(/How to use/);
  });
});

describe("ALLOWED_ROLES", () => {
  it("a member without an allowed role is told privately which roles can ask (the role mention pings no one)", async () => {
    const { res } = await slash(emu.users.alice, emu.channels.answers.id);
    expect(res.body).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });
    expect(res.body.data.content).toBe(`Asking me needs one of these roles: <@&${emu.guild.modRoleId}>. A server admin can give you one.`);
    expect(emu.pings.filter((p) => p.roles.length)).toEqual([]);
  });

  it("their mention is ignored", async () => {
    const msg = await mention(emu.users.alice, emu.channels.answers.id, "#ask-the-archive");
    await sleep(400);
    t.note("no reply");
    expect(emu.requests.filter(replyTo(msg.id))).toEqual([]);
    expect(logs.lines.some((l) => l.messageId === msg.id && l.reason === "role")).toBe(true);
  });

  it("DMs are refused with one line (roles can't be checked there)", async () => {
    t.user("bob", `(DM) ${Q}`);
    const dm = emu.sendDM({ author: emu.users.bob, content: Q });
    const reply = await emu.waitForRequest(replyTo(dm.id));
    t.bot(reply);
    expect(reply.body.content).toMatch(/^I only answer in the server, to members with certain roles, so not in direct messages/);
    expectNoPings(reply);
  });
});

describe("ALLOWED_CHANNELS alone", () => {
  it("leaves DMs open and every member may ask in the allowed channel", async () => {
    const own = await DiscordEmulator.start();
    const b = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: own.token, apiUrl: own.apiUrl, allowedChannels: [own.channels.answers.id] }),
      logger: captureLogs().logger,
    });
    try {
      const dm = own.sendDM({ author: own.users.alice, content: Q });
      expect((await own.waitForRequest(replyTo(dm.id))).body.content).toMatch(/^Here is what the articles say/);
      const m = own.sendMessage({ author: own.users.mallory, content: Q, mentionBot: true, channelId: own.channels.answers.id });
      expect((await own.waitForRequest(replyTo(m.id))).body.content).toMatch(/^Here is what the articles say/);
    } finally {
      await b.stop();
      await own.stop();
    }
  }, 30_000);
});
