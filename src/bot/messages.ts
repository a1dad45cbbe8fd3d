// Questions asked in messages: a mention of the bot, a reply to one of its answers, any DM, and any
// message in an answer channel (ANSWER_CHANNELS, needs the Message Content intent).
import type { Message, MessageReplyOptions } from "discord.js";
import { placeOfMessage, refusalFor } from "./access.js";
import { deliver, type BotContext } from "./context.js";
import { cleanQuestion, QuestionError } from "../question.js";
import { canEmbedIn, renderAnswerFor } from "./plaintext.js";
import { moreCustomId } from "./questions.js";
import { NO_PINGS, TEXT } from "./render.js";
import { bindFeedback, recordForFeedback } from "./votes.js";
import { errInfo } from "./errors.js";

export type Trigger = "dm" | "mention" | "reply" | "answer-channel";

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
  return null;
}

const TYPING_REFRESH_MS = 8000; // Discord shows "typing" for about 10 s.
/** One typing indicator per channel per this long: under load, replies matter more than indicators. */
const TYPING_MIN_GAP_MS = 4000;

/**
 * Handles one message. Everything up to the busy/rate-limit decision is synchronous, so a burst is
 * admitted in arrival order. Each question ends in exactly one reply (answer, refusal, "slow down",
 * "busy", apology) or, for the rest of a rate-limited burst, a log line.
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
    log.info({ outcome: "not-allowed", reason: refused.reason }, refused.reason === "dm" ? "DM refused (ALLOWED_ROLES is set)" : "question outside ALLOWED_CHANNELS/ALLOWED_ROLES; ignored");
    if (refused.reason === "dm") {
      await deliver(ctx, "reply", () => message.reply({ content: refused.text, allowedMentions: NO_PINGS, failIfNotExists: false })).catch((err: unknown) =>
        log.warn({ err: errInfo(err) }, "could not send the refusal"),
      );
    }
    return;
  }
  ctx.metrics.questions.inc({ source });
  // The nonce makes Discord drop a second copy of the same reply (a retried create).
  const reply = (options: MessageReplyOptions, kind = "r") =>
    deliver(ctx, "reply", () =>
      message.reply({ ...options, allowedMentions: NO_PINGS, failIfNotExists: false, nonce: `${kind}${message.id}`.slice(0, 25), enforceNonce: true }),
    );
  let ticket: ReturnType<BotContext["work"]["admit"]>;
  try {
    if (ctx.draining) {
      log.info({ outcome: "restarting" }, "question during shutdown");
      await reply({ content: TEXT.restarting });
      return;
    }
    if (!q.question) {
      ctx.metrics.refused.inc({ source });
      log.info({ outcome: "empty" }, "empty question");
      // (A reply reaches here only when it pinged the bot, so its text was visible: it is empty.)
      await reply({ content: q.trigger === "dm" ? TEXT.emptyDm : TEXT.emptyQuestion });
      return;
    }
    let question: string;
    try {
      question = cleanQuestion(q.question);
    } catch (err) {
      if (!(err instanceof QuestionError)) throw err;
      ctx.metrics.refused.inc({ source });
      log.info({ outcome: "refused", reason: err.message }, "unusable question");
      await reply({ content: err.message });
      return;
    }
    const rate = ctx.limiter.take(message.author.id);
    if (!rate.allowed) {
      ctx.metrics.rateLimited.inc({ source, notified: String(rate.notify) });
      log.info({ outcome: "rate-limited", notify: rate.notify }, "rate limited");
      if (rate.notify) await reply({ content: TEXT.slowDown(rate.retryAfterMs) });
      return;
    }
    ticket = ctx.work.admit();
    if (!ticket) {
      ctx.metrics.busy.inc({ source });
      log.warn({ outcome: "busy", pending: ctx.work.pending }, "queue full; told the user to try again");
      await reply({ content: TEXT.busy });
      return;
    }
    const typing = startTyping(ctx, message, log);
    try {
      const answer = await ticket.compute(() => ctx.citebot.answer(question, { limit: ctx.config.answerExcerpts }));
      const key = answer.more ? ctx.questions.put({ question, askerId: message.author.id, offset: answer.hits.length }) : undefined;
      const embeds = canEmbedIn(message);
      const feedbackKey = recordForFeedback(ctx, answer, message.author.id);
      const r = renderAnswerFor(answer, embeds, { moreCustomId: key && moreCustomId(key), feedbackKey });
      await typing.first; // "typing…" shows before the answer lands
      const sent = await reply({ content: r.content, embeds: r.embeds, components: r.components });
      if (key) ctx.questions.bind(key, sent.id);
      bindFeedback(ctx, feedbackKey, sent.id);
      if (!embeds) log.warn({ channelId: message.channelId }, "no Embed Links permission in this channel; answered in plain text");
      ctx.metrics.answers.inc({ source, answered: String(answer.answered) });
      if (!answer.answered) ctx.metrics.abstentions.inc({ source });
      ctx.metrics.latency.observe({ source }, (Date.now() - received) / 1000);
      log.info({ outcome: "answered", answered: answer.answered, hits: answer.hits.length, ms: Date.now() - received }, "answered");
    } finally {
      typing.stop();
      ticket.done();
    }
  } catch (err) {
    ctx.metrics.errors.inc({ where: "message" });
    log.error({ err: errInfo(err), outcome: "error" }, "message handler failed");
    try {
      await reply({ content: TEXT.apology }, "a");
    } catch (e) {
      log.warn({ err: errInfo(e) }, "could not send the apology");
    }
  }
}

const lastTyping = new WeakMap<BotContext, Map<string, number>>();

/** Shows "typing…" until stopped; `first` settles when the first indicator was sent (or after 1 s). */
function startTyping(ctx: BotContext, message: Message, log: BotContext["log"]): { first: Promise<void>; stop(): void } {
  const channel = message.channel;
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
