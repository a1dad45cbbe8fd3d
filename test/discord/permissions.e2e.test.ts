// The bot's permissions, checked on start and on joining a server, against the Discord emulator
// (permission overwrites on the bot's role): one log line per channel that lacks Send Messages,
// Embed Links, Create Public Threads or Read Message History (or View Channel), saying what it
// breaks and how to fix it; a summary per server; bounded to MAX_CHANNELS text channels; only the
// allowed channels when ALLOWED_CHANNELS is set. Where Embed Links is missing, answers come as text.
import { PermissionFlagsBits } from "discord.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { MAX_CHANNELS } from "../../src/bot/permcheck.js";
import { NO_EMBEDS_NOTE } from "../../src/bot/plaintext.js";
import { DiscordEmulator, EMBED_LINKS } from "./emulator.js";
import { captureLogs, type LogCapture, openCitebot, replyTo, waitUntil } from "./helpers.js";
import { Transcript } from "./transcript.js";

let core: Awaited<ReturnType<typeof openCitebot>>;
let emu: DiscordEmulator;
let bot: BotHandle;
let logs: LogCapture;
const t = new Transcript("permissions");
const warnings = (l: LogCapture) => l.lines.filter((x) => x.level === 40 && Array.isArray(x.missing));
const summaries = (l: LogCapture) => l.lines.filter((x) => typeof x.msg === "string" && x.msg.startsWith("permissions checked in"));

beforeAll(async () => {
  core = await openCitebot();
  emu = await DiscordEmulator.start();
  // Set by a server admin before the bot starts.
  emu.denyBotPermissions(emu.channels.news.id, EMBED_LINKS);
  emu.denyBotPermissions(emu.channels.answers.id, PermissionFlagsBits.ReadMessageHistory | PermissionFlagsBits.CreatePublicThreads);
  logs = captureLogs();
  bot = await runBot({ citebot: core.citebot, config: botConfig({ token: emu.token, apiUrl: emu.apiUrl }), logger: logs.logger });
  for (const l of [...warnings(logs), ...summaries(logs)]) t.log(String(l.msg));
}, 60_000);

afterAll(async () => {
  t.write();
  await bot?.stop();
  await emu?.stop();
  core?.cleanup();
});

describe("on start", () => {
  it("logs one line per channel that lacks something, with what it breaks and the fix; none for a channel that has everything", () => {
    const w = warnings(logs);
    expect(w.map((x) => x.channelId).sort()).toEqual([emu.channels.answers.id, emu.channels.news.id].sort());
    const news = w.find((x) => x.channelId === emu.channels.news.id)!;
    expect(news.missing).toEqual(["Embed Links"]);
    expect(news.msg).toBe(
      "#news in Newsroom: missing Embed Links (answers come as plain text instead of excerpt cards). Fix: Server Settings → Channels → #news → Edit Channel → Permissions → the citebot role → allow Embed Links (or re-invite the bot with the invite URL logged at start-up).",
    );
    const answers = w.find((x) => x.channelId === emu.channels.answers.id)!;
    expect(answers.missing).toEqual(["Read Message History", "Create Public Threads"]);
    expect(answers.msg).toMatch(/answers can't be posted as replies to the question; no answer threads there/);
    expect(summaries(logs).map((x) => x.msg)).toEqual(["permissions checked in Newsroom: 3 channels, 2 missing something"]);
  });

  it("and answers in the channel without Embed Links come as plain text", async () => {
    t.user("alice", "@citebot What did Antonov say about the Geneva summit?   (in #news)");
    const msg = emu.sendMessage({ content: "What did Antonov say about the Geneva summit?", mentionBot: true, channelId: emu.channels.news.id });
    const reply = await emu.waitForRequest(replyTo(msg.id));
    t.bot(reply);
    expect(reply.body.embeds).toEqual([]);
    expect(reply.body.content.endsWith(NO_EMBEDS_NOTE)).toBe(true);
  });
});

describe("on joining a server", () => {
  it("checks the new server's channels (GUILD_CREATE) the same way", async () => {
    const { channels } = emu.joinGuild("Second Newsroom", [
      { name: "lobby" },
      { name: "read-only", deny: PermissionFlagsBits.SendMessages },
      { name: "hidden", deny: PermissionFlagsBits.ViewChannel },
    ]);
    t.note("the bot is added to Second Newsroom");
    await waitUntil(() => summaries(logs).length === 2, 5000, "the second summary");
    const w = warnings(logs).filter((x) => channels.some((c) => c.id === x.channelId));
    for (const l of w) t.log(String(l.msg));
    t.log(String(summaries(logs)[1]!.msg));
    expect(logs.lines.some((l) => l.msg === "added to a server" && l.guild === "Second Newsroom")).toBe(true);
    expect(w.map((x) => [String(x.msg).split(":")[0], x.missing])).toEqual([
      ["#read-only in Second Newsroom", ["Send Messages"]],
      ["#hidden in Second Newsroom", ["View Channel"]],
    ]);
    expect(summaries(logs)[1]!.msg).toBe("permissions checked in Second Newsroom: 3 channels, 2 missing something");
  });

  it("checks at most MAX_CHANNELS text channels of a large server, and says so", async () => {
    const many = Array.from({ length: MAX_CHANNELS + 10 }, (_, i) => ({ name: `c${i}`, ...(i === MAX_CHANNELS + 5 && { deny: EMBED_LINKS }) }));
    const before = summaries(logs).length;
    emu.joinGuild("Big Server", many);
    await waitUntil(() => summaries(logs).length === before + 1, 5000, "the summary");
    const s = summaries(logs).at(-1)!;
    expect(s.msg).toBe(`permissions checked in Big Server: ${MAX_CHANNELS} channels (the first ${MAX_CHANNELS}; 10 more not checked), 0 missing something`);
    expect(s).toMatchObject({ checked: MAX_CHANNELS, unchecked: 10 });
  });
});

describe("with ALLOWED_CHANNELS", () => {
  it("checks only the channels the bot answers in", async () => {
    const own = await DiscordEmulator.start();
    own.denyBotPermissions(own.channels.news.id, EMBED_LINKS); // not an allowed channel: not reported
    own.denyBotPermissions(own.channels.answers.id, EMBED_LINKS);
    const l = captureLogs();
    const b = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: own.token, apiUrl: own.apiUrl, allowedChannels: [own.channels.answers.id] }),
      logger: l.logger,
    });
    try {
      expect(warnings(l).map((x) => x.channelId)).toEqual([own.channels.answers.id]);
      expect(summaries(l).map((x) => x.msg)).toEqual(["permissions checked in Newsroom: 1 channel, 1 missing something"]);
    } finally {
      await b.stop();
      await own.stop();
    }
  }, 30_000);
});
