// Follow-ups and answers in threads, end to end: the real discord.js client against the emulator and
// the real core on the shipped corpus. A reply to an answer (or a message in the bot's thread) is
// read with the question it follows; ANSWER_IN_THREAD opens a thread per question, with fallbacks.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { Conversations } from "../../src/bot/conversation.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { THREAD_NAME_MAX } from "../../src/bot/threads.js";
import { CREATE_PUBLIC_THREADS, DiscordEmulator, type EmuUser, SEND_MESSAGES_IN_THREADS } from "./emulator.js";
import { captureLogs, carriesMessage, expectNoPings, expectWithinLimits, isCreateMessage, openCitebot, replyTo, transcript, unmarkdown } from "./helpers.js";

let core: Awaited<ReturnType<typeof openCitebot>>;

beforeAll(async () => {
  core = await openCitebot();
}, 60_000);

afterAll(() => core?.cleanup());

const ARMS = "What did Antonov say about arms control?";
const show = (text: string) => {
  if (process.env.TRANSCRIPTS) console.log(text);
};

describe("follow-ups: a reply to an answer is read with its question (no Message Content intent)", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let n = 0;
  const member = () => emu.addUser(`asker${++n}`);

  beforeAll(async () => {
    emu = await DiscordEmulator.start();
    bot = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, rateLimit: { max: 20, windowMs: 60_000 } }),
      logger: captureLogs().logger,
    });
  });

  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
  });

  async function ask(author: EmuUser, content: string) {
    const msg = emu.sendMessage({ author, content, mentionBot: true });
    return { msg, reply: await emu.waitForRequest(replyTo(msg.id)) };
  }
  async function followUp(author: EmuUser, answerId: string, content: string) {
    const msg = emu.sendMessage({ author, content, replyTo: answerId }); // the reply ping makes the text visible
    return { msg, reply: await emu.waitForRequest(replyTo(msg.id)) };
  }

  it("'and what about cyber?' under an answer on arms control is answered about Antonov and cyber, and says how it was read", async () => {
    const u = member();
    const first = await ask(u, ARMS);
    expect(first.reply.body.content).toContain(`“${ARMS}”`);
    const second = await followUp(u, first.reply.response.id, "and what about cyber?");
    expect(second.reply.body.content.split("\n")[0]).toBe("Here is what the articles say about “What did Antonov say about cyber?”:");
    expect(second.reply.body.content).toContain(`-# Read as a follow-up to “${ARMS}”.`);
    expect(unmarkdown(JSON.stringify(second.reply.body.embeds))).toMatch(/cyber/i);
    expectNoPings(second.reply);

    // A follow-up of the follow-up: read with the question the second answer answered.
    const third = await followUp(u, second.reply.response.id, "and who reported that?");
    expect(third.reply.body.content).toContain("-# Read as a follow-up to “What did Antonov say about cyber?”.");
    show(transcript(emu, [first.msg.id, first.reply.response.id, second.msg.id, second.reply.response.id, third.msg.id, third.reply.response.id]));
  });

  it("a self-contained reply is answered as it is", async () => {
    const u = member();
    const first = await ask(u, ARMS);
    const own = "Which treaty did Russia and the U.S. extend early this year?";
    const { reply } = await followUp(u, first.reply.response.id, own);
    expect(reply.body.content).toBe(`Here is what the articles say about “${own}”:`);
    expect(unmarkdown(JSON.stringify(reply.body.embeds))).toMatch(/New START/);
  });

  it("after a restart (nothing remembered) the question is read back from the answer replied to", async () => {
    const u = member();
    const first = await ask(u, "What did the embassy say about the hacking of the Republican National Committee?");
    bot.context.conversations = new Conversations(); // as after a restart
    const { reply } = await followUp(u, first.reply.response.id, "and what about the summit?");
    const fetched = emu.requests.find((r) => r.method === "GET" && r.path === `/channels/${first.msg.channel_id}/messages/${first.reply.response.id}`);
    expect(fetched?.status).toBe(200);
    expect(reply.body.content.split("\n")[0]).toBe("Here is what the articles say about “What did the embassy say about the hacking of the summit?”:");
    expect(unmarkdown(JSON.stringify(reply.body.embeds))).toMatch(/the topic of cybersecurity took one of the central places/);
  });

  it("a reply to a /ask answer is a follow-up too", async () => {
    const u = member();
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: "Does Moscow expect pivotal breakthroughs with the U.S.?" }, user: u });
    const edit = await emu.waitForInteractionResponse(ia);
    const { reply } = await followUp(u, edit.response.id, "why not?");
    expect(reply.body.content).toContain("-# Read as a follow-up to “Does Moscow expect pivotal breakthroughs with the U.S.?”.");
    // "why not?" alone names nothing; read with the /ask question it finds the breakthroughs passage.
    expect(unmarkdown(JSON.stringify(reply.body.embeds))).toMatch(/illusions on pivotal breakthroughs/);
  });

  it("never pinged anyone or broke a limit", () => {
    for (const r of emu.requests.filter((r) => carriesMessage(r) && r.status < 300)) {
      expectNoPings(r);
      expectWithinLimits(r);
    }
    expect(emu.pings).toEqual([]);
  });
});

describe("ANSWER_IN_THREAD=true: answers in a thread on the question, with fallbacks", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let n = 0;
  const member = () => emu.addUser(`threader${++n}`);
  const isThreadStart = (messageId: string) => (r: { method: string; path: string }) =>
    r.method === "POST" && r.path.endsWith(`/messages/${messageId}/threads`);
  const postedIn =
    (channelId: string, after = 0) =>
    (r: any) =>
      isCreateMessage(r) && r.status === 200 && r.path === `/channels/${channelId}/messages` && r.seq > after;

  beforeAll(async () => {
    emu = await DiscordEmulator.start();
    bot = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, answerInThread: true, messageContentIntent: true, rateLimit: { max: 30, windowMs: 60_000 } }),
      logger: captureLogs().logger,
    });
  });

  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
  });

  it("opens a public thread named after the question, answers there, and keeps follow-ups in the thread in context", async () => {
    const u = member();
    const q = emu.sendMessage({ author: u, content: ARMS, mentionBot: true });
    const start = await emu.waitForRequest(isThreadStart(q.id));
    expect(start.status).toBe(201);
    expect(start.body.name).toBe(ARMS);
    const thread = emu.threadChannels.find((t) => t.id === q.id)!;
    expect(thread).toMatchObject({ type: 11, parent_id: q.channel_id, owner_id: emu.botUser.id, name: ARMS });
    const answer = await emu.waitForRequest(postedIn(thread.id));
    expect(answer.seq).toBeGreaterThan(start.seq);
    expect(answer.body.content).toContain(`“${ARMS}”`);
    expect(answer.body.embeds.length).toBeGreaterThan(0);
    expectNoPings(answer);
    expect(emu.requests.some(replyTo(q.id))).toBe(false); // nothing in the channel itself
    expect(emu.gatewayFrames.some((f) => f.t === "THREAD_CREATE" && f.d.id === thread.id && f.d.newly_created)).toBe(true);

    // In the thread, no mention needed (Message Content): read with the thread's question.
    const fu = emu.sendMessage({ author: u, channelId: thread.id, content: "and what about cyber?" });
    const fuAnswer = await emu.waitForRequest(replyTo(fu.id));
    expect(fuAnswer.path).toBe(`/channels/${thread.id}/messages`);
    expect(fuAnswer.body.content.split("\n")[0]).toBe("Here is what the articles say about “What did Antonov say about cyber?”:");
    expect(emu.requests.filter(isThreadStart(fu.id))).toEqual([]); // no thread in a thread

    // After a restart the thread's name still says what it is about.
    bot.context.conversations = new Conversations();
    const fu2 = emu.sendMessage({ author: u, channelId: thread.id, content: "how about New START?" });
    const fu2Answer = await emu.waitForRequest(replyTo(fu2.id));
    expect(fu2Answer.body.content).toContain(`-# Read as a follow-up to “${ARMS}”.`);
    expect(unmarkdown(JSON.stringify(fu2Answer.body.embeds))).toMatch(/New START/);
    show(transcript(emu, [q.id, answer.response.id, fu.id, fuAnswer.response.id, fu2.id, fu2Answer.response.id]));
  });

  it("a long question with mentions and markdown gives a clean thread name within 100 characters", async () => {
    const long = `**Please** @everyone <@&${emu.guild.modRoleId}> tell me __exactly__ what Antonov said about the expert dialogue on cybersecurity and the Geneva summit and New START`;
    const q = emu.sendMessage({ author: member(), content: long, mentionBot: true });
    const start = await emu.waitForRequest(isThreadStart(q.id));
    const name: string = start.body.name;
    expect(name.length).toBeLessThanOrEqual(THREAD_NAME_MAX);
    expect(name).not.toMatch(/[*_<>@]|\d{17}/);
    expect(name.endsWith("…")).toBe(true);
    expect(name.startsWith("Please everyone tell me exactly what Antonov said")).toBe(true);
    await emu.waitForRequest(postedIn(q.id));
  });

  it("a locked or archived thread: the answer goes to the channel with a note saying why", async () => {
    const u = member();
    const q = emu.sendMessage({ author: u, content: "Who will lead the delegations?", mentionBot: true });
    await emu.waitForRequest(postedIn(q.id));
    emu.setThreadState(q.id, { locked: true });
    const fu = emu.sendMessage({ author: emu.users.bob, channelId: q.id, content: "when will they meet?" }); // a moderator can still post
    const inChannel = await emu.waitForRequest(postedIn(q.channel_id));
    expect(inChannel.body.content).toContain("-# I couldn't answer in the thread “Who will lead the delegations?” (it is locked), so I answered here.");
    expect(inChannel.body.message_reference).toMatchObject({ message_id: q.id, fail_if_not_exists: false }); // under the question
    expect(inChannel.body.embeds.length).toBeGreaterThan(0);
    expect(emu.requests.filter((r) => isCreateMessage(r) && r.path === `/channels/${q.id}/messages` && r.seq > fu.seq)).toEqual([]);
    expectNoPings(inChannel);

    emu.setThreadState(q.id, { locked: false, archived: true });
    const before = emu.requests.length;
    emu.sendMessage({ author: u, channelId: q.id, content: "and where?" });
    const again = await emu.waitForRequest(postedIn(q.channel_id, emu.requests[before - 1]!.seq));
    expect(again.body.content).toContain("(it is archived), so I answered here.");
    show(transcript(emu, [q.id, fu.id, inChannel.response.id, again.response.id]));
  });

  it("without Create Public Threads or Send Messages in Threads: a reply in the channel, with a note naming the permission", async () => {
    emu.denyBotPermissions(emu.channels.news.id, CREATE_PUBLIC_THREADS);
    const q = emu.sendMessage({ author: member(), channelId: emu.channels.news.id, content: ARMS, mentionBot: true });
    const reply = await emu.waitForRequest(replyTo(q.id));
    expect(reply.path).toBe(`/channels/${emu.channels.news.id}/messages`);
    expect(reply.body.content).toContain("-# I couldn't open a thread for this (I'm missing the Create Public Threads permission here), so I answered here.");
    expect(reply.body.embeds.length).toBeGreaterThan(0);
    expect(emu.requests.some(isThreadStart(q.id))).toBe(false);
    show(transcript(emu, [q.id, reply.response.id]));

    emu.denyBotPermissions(emu.channels.answers.id, SEND_MESSAGES_IN_THREADS);
    const q2 = emu.sendMessage({ author: member(), channelId: emu.channels.answers.id, content: ARMS, mentionBot: true });
    const reply2 = await emu.waitForRequest(replyTo(q2.id));
    expect(reply2.body.content).toContain("(I'm missing the Send Messages in Threads permission here)");
    expect(emu.requests.some(isThreadStart(q2.id))).toBe(false);
  });

  it("Discord refusing the thread, or the new thread refusing the answer: a reply in the channel", async () => {
    emu.injectFault({ method: "POST", path: /\/messages\/\d+\/threads$/, status: 403, body: { message: "Missing Permissions", code: 50013 } });
    const q = emu.sendMessage({ author: member(), content: "Who met at the June 16 summit?", mentionBot: true });
    const reply = await emu.waitForRequest(replyTo(q.id));
    expect(reply.body.content).toContain("-# I couldn't open a thread for this, so I answered here.");

    const q2 = emu.sendMessage({ author: member(), content: "Where did Antonov give his speech?", mentionBot: true });
    await emu.waitForRequest(isThreadStart(q2.id));
    emu.setThreadState(q2.id, { archived: true }); // archived before the answer lands
    const reply2 = await emu.waitForRequest(replyTo(q2.id));
    expect(reply2.path).toBe(`/channels/${q2.channel_id}/messages`);
    expect(reply2.body.content).toContain("(it is archived), so I answered here.");
    expect(emu.requests.find((r) => isCreateMessage(r) && r.path === `/channels/${q2.id}/messages`)?.status).toBe(400);
  });

  it("DMs and messages already in a thread get no new thread", async () => {
    const u = member();
    const dm = emu.sendDM({ author: u, content: ARMS });
    expect((await emu.waitForRequest(replyTo(dm.id))).path).toBe(`/channels/${emu.dmChannel(u).id}/messages`);
    const userThread = emu.createThread(emu.channels.general.id, "chatter");
    const inThread = emu.sendMessage({ author: u, channelId: userThread.id, content: ARMS, mentionBot: true });
    expect((await emu.waitForRequest(replyTo(inThread.id))).path).toBe(`/channels/${userThread.id}/messages`);
    expect(emu.requests.filter((r) => r.path.endsWith("/threads") && (r.path.includes(dm.id) || r.path.includes(inThread.id)))).toEqual([]);
  });

  it("never pinged anyone or broke a limit", () => {
    for (const r of emu.requests.filter((r) => carriesMessage(r) && r.status < 300)) {
      expectNoPings(r);
      expectWithinLimits(r);
    }
    expect(emu.pings).toEqual([]);
  });
});
