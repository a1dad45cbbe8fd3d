// Questions asked in messages: a mention of the bot, a reply to one of its answers, any DM, any
// message in an answer channel (ANSWER_CHANNELS, needs the Message Content intent) and any message
// the bot can read in a thread it opened. A reply to an answer, or a message in the bot's thread,
// is read with the question before it (a follow-up, src/followup.ts); with ANSWER_IN_THREAD the
// answer to a question in a channel goes to a new thread on it (src/bot/threads.ts).
import type { Message, MessageCreateOptions, MessageReplyOptions, ThreadChannel } from "discord.js";
import { questionInContext } from "../followup.js";
import { placeOfMessage, refusalFor } from "./access.js";
import { type BotContext, deliver } from "./context.js";
import { previousQuestion } from "./conversation.js";
import { errInfo } from "./errors.js";
import { canEmbedIn, renderAnswerFor } from "./plaintext.js";
import { moreCustomId } from "./questions.js";
import { fit, NO_PINGS, TEXT, userText } from "./render.js";
import { isThreadRefusal, openThread, type Place, placeInThread, refusalReason, THREAD_NOTES, threadName, withNote } from "./threads.js";
import { bindFeedback, recordForFeedback } from "./votes.js";

export type Trigger = "dm" | "mention" | "reply" | "answer-channel" | "thread";

export interface MessageQuestion {
  trigger: Trigger;
  /** The question with the bot's mention removed (may be empty). */
  question: string;
}

/** Whether a message is a question for the bot, and which; null for everything the bot ignores. */
export function questionOf(message: Message, botId: string, answerChannels: ReadonlySet<string>): MessageQuestion | null {
  if (message.author.bot || message.author.id === botId || message.webhookId || message.system) return null;
  const botRoleId = message.guild?.roles.botRoleFor(botId)?.id;
  const mention = `<@!?${botId}>${botRoleId ? `|<@&${botRoleId}>` : ""}`;
  const content = message.content ?? "";
  // Whitespace is left alone here: cleanQuestion folds it (some "spaces" are invisible characters inside words).
  const question = content.replace(new RegExp(mention, "g"), " ").trim();

  if (!message.inGuild()) return { trigger: "dm", question };
  // A mention in the text (not @everyone, not merely the reply ping).
  if (new RegExp(mention).test(content)) return { trigger: "mention", question };
  if (message.mentions.repliedUser?.id === botId) {
    // A reply that doesn't ping the bot arrives without its text unless the bot has the Message
    // Content intent: then "thanks" under an answer would look empty. Only a ping is addressed to
    // the bot for sure, so an empty reply without one is left alone (no "can't read that" notice).
    if (!question && !message.mentions.users.has(botId)) return null;
    return { trigger: "reply", question };
  }
  const parentId = message.channel.isThread() ? message.channel.parentId : null;
  if (answerChannels.has(message.channelId) || (parentId && answerChannels.has(parentId))) {
    return question ? { trigger: "answer-channel", question } : null;
  }
  // A thread the bot opened for an answer: what is said there is for the bot (when it can read it).
  if (message.channel.isThread() && message.channel.ownerId === botId && question) return { trigger: "thread", question };
  return null;
}

/** The line under an answer to a follow-up: what it was read with. */
export function followUpNote(previous: string): string {
  return `-# Read as a follow-up to “${fit(previous, 200, userText)}”.`;
}

const TYPING_REFRESH_MS = 8000; // Discord shows "typing" for about 10 s.
/** One typing indicator per channel per this long: under load, replies matter more than indicators. */
const TYPING_MIN_GAP_MS = 4000;

/**
 * Handles one message. Everything up to the busy/rate-limit decision is synchronous (the Asker
 * admits before its first await), so a burst is admitted in arrival order. Each question ends in
 * exactly one reply (answer, refusal, "slow down", "busy", apology) or, for the rest of a
 * rate-limited burst, a log line.
 */
export async function handleMessage(ctx: BotContext, message: Message, answerChannels: ReadonlySet<string>): Promise<void> {
  const received = Date.now();
  const botId = message.client.user.id;
  const q = questionOf(message, botId, answerChannels);
  if (!q) return;
  const log = ctx.log.child({ event: "message", trigger: q.trigger, userId: message.author.id, channelId: message.channelId, messageId: message.id });
  if (!ctx.seen.add(message.id)) {
    log.warn("message delivered twice; answered once");
    return;
  }
  const source = q.trigger;
  const refused = refusalFor(ctx.config, placeOfMessage(message));
  if (refused) {
    ctx.metrics.notAllowed.inc({ source, reason: refused.reason });
    // Silent in a server (see access.ts); a DM is private, so it gets the one-line reason.
    log.info(
      { outcome: "not-allowed", reason: refused.reason },
      refused.reason === "dm" ? "DM refused (ALLOWED_ROLES is set)" : "question outside ALLOWED_CHANNELS/ALLOWED_ROLES; ignored",
    );
    if (refused.reason === "dm") {
      await deliver(ctx, "reply", () => message.reply({ content: refused.text, allowedMentions: NO_PINGS, failIfNotExists: false })).catch((err: unknown) =>
        log.warn({ err: errInfo(err) }, "could not send the refusal"),
      );
    }
    return;
  }
  // The nonce makes Discord drop a second copy of the same reply (a retried create).
  const reply = (options: MessageReplyOptions, kind = "r") =>
    deliver(ctx, "reply", () =>
      message.reply({ ...options, allowedMentions: NO_PINGS, failIfNotExists: false, nonce: `${kind}${message.id}`.slice(0, 25), enforceNonce: true }),
    );
  // What preparing the answer decided, for its delivery and the log line.
  const state: { place: Place; typing?: ReturnType<typeof startTyping>; inContext?: string; followUp: string; where: string } = {
    place: { kind: "reply" },
    followUp: "standalone",
    where: "reply",
  };
  try {
    const asked = await ctx.asker.ask({
      who: message.author.id,
      where: source,
      question: q.question,
      options: { limit: ctx.config.answerExcerpts },
      notifyOnce: true,
      received,
      log,
      prepare: async (question) => {
        // A follow-up is read with the question it follows; a self-contained one stays as it is.
        const previous = await previousQuestion(ctx.conversations, message, botId, log);
        const reading = questionInContext(previous?.question, question);
        state.followUp = reading.kind;
        state.inContext = reading.kind !== "standalone" && previous ? previous.question : undefined;
        if (previous)
          log.info(
            { followUp: reading.kind, from: previous.from },
            reading.kind === "standalone" ? "self-contained question after an answer" : "read as a follow-up",
          );
        // Where the answer goes: a new thread (ANSWER_IN_THREAD), the thread it was asked in, or a reply.
        let place: Place = { kind: "reply" };
        if (message.inGuild() && message.channel.isThread()) place = placeInThread(message, message.channel);
        else if (message.inGuild() && ctx.config.answerInThread) place = await openThread(message, question, log);
        state.place = place;
        state.typing = startTyping(
          ctx,
          place.kind === "thread" && place.created ? place.thread : place.kind === "parent" ? place.channel : message.channel,
          log,
        );
        return reading.question;
      },
      deliver: async (answer, question) => {
        const key = answer.more ? ctx.questions.put({ question, askerId: message.author.id, offset: answer.hits.length }) : undefined;
        const embeds = canEmbedIn(message);
        const feedbackKey = recordForFeedback(ctx, answer, message.author.id);
        const r = renderAnswerFor(answer, embeds, { moreCustomId: key && moreCustomId(key), feedbackKey });
        const payload = { content: withNote(r.content, state.inContext && followUpNote(state.inContext)), embeds: r.embeds, components: r.components };
        await state.typing?.first; // "typing…" shows before the answer lands
        const sent = await deliverAnswer(ctx, message, state.place, payload, log);
        if (key) ctx.questions.bind(key, sent.id);
        ctx.conversations.rememberAnswer(sent.id, question);
        if (sent.channel.isThread() && sent.channel.ownerId === botId) ctx.conversations.rememberThread(sent.channelId, question);
        bindFeedback(ctx, feedbackKey, sent.id);
        if (!embeds) log.warn({ channelId: message.channelId }, "no Embed Links permission in this channel; answered in plain text");
        state.where = sent.channelId === message.channelId ? "reply" : sent.channel.isThread() ? "thread" : "channel";
      },
    });
    if (asked.kind === "refused") {
      // Once per rate-limited burst; an empty question gets an example of what to ask.
      // (A reply reaches here empty only when it pinged the bot, so its text was visible: it is empty.)
      const text = asked.reason === "empty" ? (q.trigger === "dm" ? TEXT.emptyDm : TEXT.emptyQuestion) : asked.message;
      if (asked.notify) await reply({ content: text });
      return;
    }
    const { answer } = asked;
    log.info(
      { outcome: "answered", answered: answer.answered, hits: answer.hits.length, followUp: state.followUp, where: state.where, ms: Date.now() - received },
      "answered",
    );
  } catch (err) {
    ctx.metrics.errors.inc({ where: "message" });
    log.error({ err: errInfo(err), outcome: "error" }, "message handler failed");
    try {
      await reply({ content: TEXT.apology }, "a");
    } catch (e) {
      log.warn({ err: errInfo(e) }, "could not send the apology");
    }
  } finally {
    state.typing?.stop();
  }
}

/**
 * Sends the answer where `place` says. A thread that turns out to refuse it (archived or locked
 * meanwhile, permissions taken away) gets the answer in the channel instead, with a note.
 */
async function deliverAnswer(
  ctx: BotContext,
  message: Message,
  place: Place,
  payload: { content: string; embeds: MessageCreateOptions["embeds"]; components: MessageCreateOptions["components"] },
  log: BotContext["log"],
): Promise<Message> {
  const once = { allowedMentions: NO_PINGS, nonce: `r${message.id}`.slice(0, 25), enforceNonce: true };
  const reply = (note?: string) =>
    deliver(ctx, "reply", () => message.reply({ ...payload, content: withNote(payload.content, note), ...once, failIfNotExists: false }));
  // In the parent channel, a reply to the thread's starter message (a thread opened on a question
  // has the question's id), so the answer sits under the question; without one, a plain message.
  const toParent = (channel: Extract<Place, { kind: "parent" }>["channel"], note: string, starterId: string): Promise<Message> =>
    deliver(
      ctx,
      "send",
      () =>
        channel.send({
          ...payload,
          content: withNote(payload.content, note),
          ...once,
          reply: { messageReference: starterId, failIfNotExists: false },
        }) as Promise<Message>,
    );
  if (place.kind === "reply") return reply(place.note);
  if (place.kind === "parent") return toParent(place.channel, place.note, message.channelId);
  const thread = place.thread;
  try {
    return place.created ? await deliver(ctx, "send", () => thread.send({ ...payload, ...once })) : await reply();
  } catch (err) {
    if (!isThreadRefusal(err)) throw err;
    log.warn({ err: errInfo(err), threadId: thread.id }, "the thread refused the answer; answering in the channel");
    const why = refusalReason(err, thread);
    if (place.created) return reply(THREAD_NOTES.closed(threadName(thread.name), why));
    const parent = thread.parent;
    if (!parent?.isSendable()) throw err;
    return toParent(parent, THREAD_NOTES.closed(threadName(thread.name), why), thread.id);
  }
}

const lastTyping = new WeakMap<BotContext, Map<string, number>>();

/** Shows "typing…" in `channel` until stopped; `first` settles when the first indicator was sent (or after 1 s). */
function startTyping(ctx: BotContext, channel: Message["channel"] | ThreadChannel, log: BotContext["log"]): { first: Promise<void>; stop(): void } {
  let sent = lastTyping.get(ctx);
  if (!sent) lastTyping.set(ctx, (sent = new Map()));
  const send = async () => {
    if (!channel.isSendable()) return;
    const now = Date.now();
    if (now - (sent.get(channel.id) ?? 0) < TYPING_MIN_GAP_MS) return;
    sent.set(channel.id, now);
    if (sent.size > 5000) for (const [id, at] of sent) if (now - at > TYPING_REFRESH_MS) sent.delete(id);
    await channel.sendTyping().catch((err: unknown) => log.debug({ err: errInfo(err) }, "typing indicator failed"));
  };
  let timeout: NodeJS.Timeout | undefined;
  const first = Promise.race([send(), new Promise<void>((r) => (timeout = setTimeout(r, 1000)))]).finally(() => clearTimeout(timeout));
  const timer = setInterval(() => void send(), TYPING_REFRESH_MS);
  timer.unref();
  return { first, stop: () => clearInterval(timer) };
}
