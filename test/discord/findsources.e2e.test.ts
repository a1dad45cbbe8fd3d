// "Find sources" (message menu → Apps): the real discord.js client against the emulator, the real
// core on the shipped corpus. The bot runs without the Message Content intent: the claim comes from
// the interaction (resolved.messages), never from reading the channel.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLAIM_MAX_CHARS, claimFromText, FIND_SOURCES_TEXT } from "../../src/bot/commands/findsources.js";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { DiscordEmulator, EMBED_LINKS, EPHEMERAL, Intents } from "./emulator.js";
import { captureLogs, carriesMessage, expectNoPings, expectWithinLimits, openCitebot, transcript, unmarkdown } from "./helpers.js";

let core: Awaited<ReturnType<typeof openCitebot>>;
let emu: DiscordEmulator;
let bot: BotHandle;
let n = 0;
const member = () => emu.addUser(`checker${++n}`);

beforeAll(async () => {
  core = await openCitebot();
  emu = await DiscordEmulator.start();
  bot = await runBot({
    citebot: core.citebot,
    config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, rateLimit: { max: 20, windowMs: 60_000 } }),
    logger: captureLogs().logger,
  });
}, 60_000);

afterAll(async () => {
  await bot?.stop();
  await emu?.stop();
  core?.cleanup();
});

const CLAIM = "Antonov says Russia was not behind the cyber attacks on U.S. infrastructure.";
/** What the articles say on it (either sentence). */
const SUPPORT = /Russia was not involved in cyber attacks|Russia didn.t participate in such attacks/;

describe("Find sources (message command)", () => {
  it("runs without the Message Content intent", () => {
    expect(emu.intents! & Intents.MessageContent).toBe(0);
  });

  it("looks up the claim of someone else's message and answers privately with the excerpts that bear on it", async () => {
    const author = member();
    const msg = emu.sendMessage({ author, content: CLAIM }); // no mention: the bot can't read it in the channel
    const ia = emu.sendMessageCommand({ name: "Find sources", messageId: msg.id, user: member() });
    const edit = await emu.waitForInteractionResponse(ia);
    const [callback] = emu.requestsFor(ia);
    expect(callback!.body).toEqual({ type: 5, data: { flags: EPHEMERAL } }); // private "thinking…"
    expect(edit.method).toBe("PATCH");
    expect(edit.response.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(edit.body.content).toMatch(
      /^Here is what the articles say on the claim in \[this message\]\(https:\/\/discord\.com\/channels\/\d+\/\d+\/\d+\): “Antonov says Russia/,
    );
    expect(edit.body.content).toContain(`/${msg.id})`);
    const excerpts = unmarkdown(edit.body.embeds.map((e: any) => e.description).join("\n"));
    expect(excerpts).toMatch(SUPPORT);
    // 👍/👎 like every answer, for the one who asked for the check
    const buttons = (edit.body.components ?? []).flatMap((row: any) => row.components.map((c: any) => c.custom_id));
    expect(buttons.filter((id: string) => id.startsWith("vote:"))).toHaveLength(2);
    expectNoPings(edit);
    expectWithinLimits(edit);
    // Nothing was posted in the channel.
    expect(emu.botMessages(msg.channel_id).filter((m) => !(m.flags & EPHEMERAL))).toEqual([]);
    const text = transcript(emu, [msg.id], ia);
    expect(text).toContain("[message menu → Apps → Find sources on message");
    if (process.env.TRANSCRIPTS) console.log(text);
  });

  it("says plainly when the articles don't cover a claim", async () => {
    const msg = emu.sendMessage({ author: member(), content: "Bitcoin passed one hundred thousand dollars this morning, the exchanges say." });
    const ia = emu.sendMessageCommand({ name: "Find sources", messageId: msg.id, user: member() });
    const edit = await emu.waitForInteractionResponse(ia);
    expect(edit.body.content).toMatch(/^The articles don't cover the claim in \[this message\]/);
    for (const e of edit.body.embeds) expect(e.title).toMatch(/^Related · /);
    expect(edit.response.flags & EPHEMERAL).toBe(EPHEMERAL);
    expectNoPings(edit);
  });

  it("takes the first sentences of a long message, and says so", async () => {
    const long = `${CLAIM} ${"The talks in Geneva were calm and business-like according to the ambassador. ".repeat(12)}And finally the embassy denied any breach of the Republican National Committee.`;
    expect(long.length).toBeGreaterThan(CLAIM_MAX_CHARS);
    const msg = emu.sendMessage({ author: member(), content: long });
    const ia = emu.sendMessageCommand({ name: "Find sources", messageId: msg.id, user: member() });
    const edit = await emu.waitForInteractionResponse(ia);
    expect(edit.body.content).toMatch(
      new RegExp(
        `-# The message is long \\(${long.length.toLocaleString("en-US")} characters\\), so I looked up its first \\d+ sentences \\(up to ${CLAIM_MAX_CHARS} characters\\)\\.`,
      ),
    );
    expect(edit.body.content).not.toContain("Republican"); // the last sentence was left out
    expect(edit.body.embeds.length).toBeGreaterThan(0);
    expectWithinLimits(edit);
  });

  it("an image-only message gets a clear private note; a bare link is checked by its preview", async () => {
    const image = emu.sendMessage({ author: member(), content: "", attachments: [{ filename: "screenshot.png", content_type: "image/png" }] });
    const ia = emu.sendMessageCommand({ name: "Find sources", messageId: image.id, user: member() });
    const note = await emu.waitForInteractionResponse(ia);
    expect(note.body).toMatchObject({ type: 4, data: { content: FIND_SOURCES_TEXT.noText, flags: EPHEMERAL } });
    expectNoPings(note);

    const link = emu.sendMessage({
      author: member(),
      content: "https://example.com/news/42",
      embeds: [
        {
          type: "link",
          url: "https://example.com/news/42",
          title: "Kremlin: expert dialogue on cybersecurity to launch soon",
          description: "Peskov told journalists the mechanism would discuss attacks and critical infrastructure.",
        },
      ],
    });
    const ia2 = emu.sendMessageCommand({ name: "Find sources", messageId: link.id, user: member() });
    const edit = await emu.waitForInteractionResponse(ia2);
    expect(edit.body.content).toMatch(/^Here is what the articles say on the claim in the link preview in \[this message\]/);
    expect(unmarkdown(JSON.stringify(edit.body.embeds))).toMatch(/mechanism for expert dialogue on cybersecurity/);
  });

  it("a claim full of mentions pings no one; in a channel without Embed Links it answers in text", async () => {
    const mod = `<@&${emu.guild.modRoleId}>`;
    const msg = emu.sendMessage({ author: member(), content: `@everyone ${mod} <@${emu.users.bob.id}> ${CLAIM}` });
    const ia = emu.sendMessageCommand({ name: "Find sources", messageId: msg.id, user: member() });
    const edit = await emu.waitForInteractionResponse(ia);
    expectNoPings(edit);
    expect(JSON.stringify(edit.body)).not.toMatch(/<@&\d+>|<@\d+>/);
    expect(edit.body.content).toContain("@\u200beveryone");

    emu.denyBotPermissions(emu.channels.news.id, EMBED_LINKS);
    const inNews = emu.sendMessage({ author: member(), channelId: emu.channels.news.id, content: CLAIM });
    const ia2 = emu.sendMessageCommand({ name: "Find sources", messageId: inNews.id, user: member() });
    const plain = await emu.waitForInteractionResponse(ia2);
    expect(plain.body.embeds).toEqual([]);
    expect(unmarkdown(plain.body.content)).toMatch(SUPPORT);
  });

  it("never sent a public message, a ping, or a payload outside Discord's limits", () => {
    const visible = emu.requests.filter((r) => carriesMessage(r) && r.status < 300);
    expect(visible.length).toBeGreaterThanOrEqual(6);
    for (const r of visible) {
      expectNoPings(r);
      expectWithinLimits(r);
    }
    expect(emu.pings).toEqual([]);
    expect(emu.requests.filter((r) => r.status >= 400).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([]);
  });
});

describe("claimFromText", () => {
  it("keeps a short claim whole, without mentions, emoji or links", () => {
    expect(claimFromText("<@123456789012345678> look: https://x.example/a <:wow:123456789012345678> Antonov met Biden")).toEqual({
      text: "look: Antonov met Biden",
    });
    expect(claimFromText("   ")).toBeNull();
    expect(claimFromText("<@123456789012345678> 🎉")).toBeNull();
  });

  it("cuts a long text at sentence ends, or between words when one sentence is too long", () => {
    const s = "This sentence is about forty characters. ";
    const r = claimFromText(s.repeat(20), 100)!;
    expect(r.text).toBe(s.repeat(2).trim());
    expect(r.cut).toEqual({ sentences: 2, of: 20, chars: s.repeat(20).trim().length });
    const word = claimFromText("word ".repeat(100), 50)!;
    expect(word.text.length).toBeLessThanOrEqual(50);
    expect(word.text.endsWith("word")).toBe(true);
  });
});
