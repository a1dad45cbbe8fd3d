// What a follow-up follows. A reply to one of the bot's answers, or a message in a thread the bot
// opened, is read with the question before it (src/followup.ts). The bot remembers which question
// each answer answered and the latest question of each thread it opened, in bounded in-memory maps
// (oldest forgotten first); after a restart it reads the question back from the answer itself,
// whose first line quotes it, or from the thread's name.
import type { Message } from "discord.js";
import type { Logger } from "../log.js";
import { errInfo } from "./errors.js";

/** A map that forgets its least recently used entries past `max`. */
class Recent<V> {
  private map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  get size(): number {
    return this.map.size;
  }
}

export class Conversations {
  private answers: Recent<string>;
  private threads: Recent<string>;

  constructor(readonly maxEntries = 5000) {
    this.answers = new Recent(maxEntries);
    this.threads = new Recent(maxEntries);
  }

  /** The question an answer message answered (as it was retrieved). */
  rememberAnswer(messageId: string, question: string): void {
    this.answers.set(messageId, question);
  }

  answerQuestion(messageId: string): string | undefined {
    return this.answers.get(messageId);
  }

  /** The latest question asked in a thread the bot opened. */
  rememberThread(threadId: string, question: string): void {
    this.threads.set(threadId, question);
  }

  threadQuestion(threadId: string): string | undefined {
    return this.threads.get(threadId);
  }

  get size(): { answers: number; threads: number } {
    return { answers: this.answers.size, threads: this.threads.size };
  }
}

/**
 * The question an answer quotes in its first line ("Here is what the articles say about “…”:",
 * "The articles don't cover “…”", "More from the articles on “…”"), with the escaping undone; a
 * question cut with "…" comes back without it. Undefined for any other message.
 */
export function questionFromAnswerText(content: string): string | undefined {
  const first = content.split("\n")[0] ?? "";
  const m = /^(?:Here is what the articles say about|More from the articles on|The articles don't cover) “(.+)”(?:[:.,]| \(excerpts)/.exec(first);
  if (!m) return undefined;
  const text = m[1]!
    .replace(/\u200b/g, "")
    .replace(/\\(.)/g, "$1")
    .replace(/\s*…$/, "")
    .trim();
  return text || undefined;
}

/**
 * The question before `message`: the one the bot's answer it replies to answered (remembered, else
 * read from that answer), else the latest question of the bot's thread it was sent in (remembered,
 * else the thread's name, which is the question it was opened for).
 */
export async function previousQuestion(
  conversations: Conversations,
  message: Message,
  botId: string,
  log: Logger,
): Promise<{ question: string; from: "answer" | "thread" } | undefined> {
  const refId = message.reference?.messageId;
  if (refId && message.mentions.repliedUser?.id === botId) {
    const known = conversations.answerQuestion(refId);
    if (known) return { question: known, from: "answer" };
    try {
      const answer = await message.fetchReference();
      const read = answer.author.id === botId ? questionFromAnswerText(answer.content) : undefined;
      if (read) {
        conversations.rememberAnswer(refId, read);
        return { question: read, from: "answer" };
      }
    } catch (err) {
      log.debug({ err: errInfo(err) }, "could not read the answer replied to");
    }
  }
  const channel = message.channel;
  if (channel.isThread() && channel.ownerId === botId) {
    const known = conversations.threadQuestion(channel.id) ?? channel.name;
    if (known) return { question: known.replace(/…$/, "").trim(), from: "thread" };
  }
  return undefined;
}
