// Questions asked in messages: a mention of the bot, a reply to one of its answers, any DM, and any
// message in an answer channel (ANSWER_CHANNELS, needs the Message Content intent).
import type { Message, MessageReplyOptions } from "discord.js";
import type { BotContext } from "./context.js";
import { moreCustomId } from "./questions.js";
import { NO_PINGS, renderAnswer, TEXT } from "./render.js";
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
  const question = content.replace(new RegExp(mention, "g"), " ").replace(/\s+/g, " ").trim();

  if (!message.inGuild()) return { trigger: "dm", question };
  // A mention in the text (not @everyone, not merely the reply ping).
  if (new RegExp(mention).test(content)) return { trigger: "mention", question };
  if (message.mentions.repliedUser?.id === botId) return { trigger: "reply", question };
  const parentId = message.channel.isThread() ? message.channel.parentId : null;
  if (answerChannels.has(message.channelId) || (parentId && answerChannels.has(parentId))) {
    return question ? { trigger: "answer-channel", question } : null;
  }
  return null;
}

const TYPING_REFRESH_MS = 8000; // Discord shows "typing" for about 10 s.

export async function handleMessage(ctx: BotContext, message: Message, answerChannels: ReadonlySet<string>): Promise<void> {
  const botId = message.client.user.id;
  const q = questionOf(message, botId, answerChannels);
  if (!q) return;
  const log = ctx.log.child({ event: "message", trigger: q.trigger, userId: message.author.id, channelId: message.channelId, messageId: message.id });
  const reply = (options: MessageReplyOptions) =>
    message.reply({ ...options, allowedMentions: NO_PINGS, failIfNotExists: false });
  try {
    if (!q.question) {
      // With no Message Content intent, a reply that doesn't ping the bot arrives empty.
      await reply({ content: q.trigger === "reply" ? TEXT.unreadable : TEXT.emptyQuestion });
      return;
    }
    const rate = ctx.limiter.take(message.author.id);
    if (!rate.allowed) {
      log.info({ notify: rate.notify }, "rate limited");
      if (rate.notify) await reply({ content: TEXT.slowDown(rate.retryAfterMs) });
      return;
    }
    const typing = startTyping(message, log);
    try {
      const answer = await ctx.citebot.answer(q.question, { limit: ctx.config.answerExcerpts });
      const moreId = answer.more ? moreCustomId(ctx.questions.put(q.question), answer.hits.length) : undefined;
      const r = renderAnswer(answer, { moreCustomId: moreId });
      await typing.first; // "typing…" shows before the answer lands
      await reply({ content: r.content, embeds: r.embeds, components: r.components });
      log.info({ answered: answer.answered, hits: answer.hits.length }, "answered");
    } finally {
      typing.stop();
    }
  } catch (err) {
    log.error({ err: errInfo(err) }, "message handler failed");
    try {
      await reply({ content: TEXT.apology });
    } catch (e) {
      log.warn({ err: errInfo(e) }, "could not send the apology");
    }
  }
}

/** Shows "typing…" until stopped; `first` settles when the first indicator was sent (or after 1 s). */
function startTyping(message: Message, log: BotContext["log"]): { first: Promise<void>; stop(): void } {
  const channel = message.channel;
  const send = async () => {
    if (!channel.isSendable()) return;
    await channel.sendTyping().catch((err: unknown) => log.debug({ err: errInfo(err) }, "typing indicator failed"));
  };
  let timeout: NodeJS.Timeout | undefined;
  const first = Promise.race([send(), new Promise<void>((r) => (timeout = setTimeout(r, 1000)))]).finally(() => clearTimeout(timeout));
  const timer = setInterval(() => void send(), TYPING_REFRESH_MS);
  timer.unref();
  return { first, stop: () => clearInterval(timer) };
}
