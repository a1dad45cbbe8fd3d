// Answers in threads (ANSWER_IN_THREAD=true): a question asked in a channel gets a public thread on
// its message, named after it, and the answer goes there; follow-ups in that thread keep its
// context (src/bot/conversation.ts). Where a thread can't be used (missing permissions, a thread
// already on the message, a thread archived or locked), the answer goes to the channel instead, as
// a reply to the question (or to the thread's starter message), with a one-line note saying why: a
// question is never left unanswered for want of a thread.
import {
  ChannelType,
  DiscordAPIError,
  type Message,
  PermissionFlagsBits,
  RESTJSONErrorCodes,
  type SendableChannels,
  ThreadAutoArchiveDuration,
  type ThreadChannel,
} from "discord.js";
import type { Logger } from "../log.js";
import { errInfo } from "./errors.js";
import { LIMITS } from "./render.js";

/** Discord's limit for a channel (thread) name. */
export const THREAD_NAME_MAX = 100;

/**
 * A thread name from a question: one line, no mentions (user, role, channel, @everyone), no
 * markdown characters, cut between words to Discord's 100 characters with "…". Never empty.
 */
export function threadName(question: string): string {
  const clean = question
    .replace(/<@[!&]?\d+>|<#\d+>|<a?:\w+:\d+>|<t:\d+(?::\w)?>/g, " ")
    .replace(/@(everyone|here)\b/gi, "$1")
    .replace(/[*_~`|>#[\]\\]/g, " ")
    .replace(/\bhttps?:\/\/\S+/gi, " ")
    .replace(/[\p{Cc}\p{Cf}]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  const text = clean || "Question";
  if (text.length <= THREAD_NAME_MAX) return text;
  const cut = text.slice(0, THREAD_NAME_MAX).lastIndexOf(" ");
  return `${text.slice(0, cut > THREAD_NAME_MAX / 2 ? cut : THREAD_NAME_MAX - 1).trimEnd()}…`;
}

export const THREAD_NOTES = {
  missingPermissions: (missing: string[]) =>
    `-# I couldn't open a thread for this (I'm missing the ${missing.join(" and ")} permission${missing.length > 1 ? "s" : ""} here), so I answered here.`,
  failed: "-# I couldn't open a thread for this, so I answered here.",
  closed: (name: string, why: string) => `-# I couldn't answer in the thread “${name}” (it is ${why}), so I answered here.`,
};

/** Errors that mean "not in this thread" (as opposed to a Discord outage, which is retried and then apologised for). */
const THREAD_REFUSALS = new Set<number | string>([
  RESTJSONErrorCodes.ThreadLocked,
  RESTJSONErrorCodes.CannotExecuteActionOnThisChannelType,
  RESTJSONErrorCodes.MissingPermissions,
  RESTJSONErrorCodes.MissingAccess,
  RESTJSONErrorCodes.UnknownChannel,
  RESTJSONErrorCodes.ThreadAlreadyCreatedForMessage,
  RESTJSONErrorCodes.InvalidFormBodyOrContentType,
  RESTJSONErrorCodes.InvalidActionOnArchivedThread,
]);

export function isThreadRefusal(err: unknown): err is DiscordAPIError {
  return err instanceof DiscordAPIError && THREAD_REFUSALS.has(err.code);
}

/** Why a thread refused a message, as the note says it: Discord's error first (the cached state may lag behind). */
export function refusalReason(err: DiscordAPIError, thread: ThreadChannel): string {
  if (err.code === RESTJSONErrorCodes.InvalidActionOnArchivedThread) return "archived";
  if (err.code === RESTJSONErrorCodes.ThreadLocked) return "locked";
  return thread.locked ? "locked" : thread.archived ? "archived" : "closed to me";
}

/** Where an answer goes: a thread (new, or the one the question was asked in), or the channel with a note. */
export type Place =
  | { kind: "thread"; thread: ThreadChannel; created: boolean }
  | { kind: "reply"; note?: string }
  | { kind: "parent"; channel: SendableChannels; note: string };

/** Whether the bot can post in a thread the question was asked in; else the parent channel, with the reason. */
export function placeInThread(message: Message<true>, thread: ThreadChannel): Place {
  const me = message.client.user;
  const manage = thread.permissionsFor(me)?.has(PermissionFlagsBits.ManageThreads) ?? false;
  const why = thread.locked && !manage ? "locked" : thread.archived && !manage ? "archived" : undefined;
  if (!why) return { kind: "thread", thread, created: false };
  const parent = thread.parent;
  if (parent?.isSendable()) return { kind: "parent", channel: parent, note: THREAD_NOTES.closed(threadName(thread.name), why) };
  return { kind: "thread", thread, created: false };
}

/**
 * ANSWER_IN_THREAD: a new public thread on the question's message. A channel that can't have one,
 * missing permissions or a refusal from Discord give a reply in the channel with a note.
 */
export async function openThread(message: Message<true>, question: string, log: Logger): Promise<Place> {
  const channel = message.channel;
  if (channel.type !== ChannelType.GuildText && channel.type !== ChannelType.GuildAnnouncement) return { kind: "reply" };
  if (message.hasThread) return { kind: "reply", note: THREAD_NOTES.failed };
  const perms = channel.permissionsFor(message.client.user);
  const missing = [
    [PermissionFlagsBits.CreatePublicThreads, "Create Public Threads"],
    [PermissionFlagsBits.SendMessagesInThreads, "Send Messages in Threads"],
  ]
    .filter(([bit]) => perms && !perms.has(bit as bigint))
    .map(([, name]) => name as string);
  if (missing.length) {
    log.warn({ channelId: channel.id, missing }, "can't open a thread here (missing permissions); answering in the channel");
    return { kind: "reply", note: THREAD_NOTES.missingPermissions(missing) };
  }
  try {
    const thread = await message.startThread({
      name: threadName(question),
      autoArchiveDuration: ThreadAutoArchiveDuration.OneDay,
      reason: "citebot: answer in a thread",
    });
    log.info({ threadId: thread.id }, "opened a thread for the answer");
    return { kind: "thread", thread, created: true };
  } catch (err) {
    if (!isThreadRefusal(err)) throw err;
    log.warn({ err: errInfo(err), channelId: channel.id }, "Discord refused to open a thread; answering in the channel");
    return { kind: "reply", note: THREAD_NOTES.failed };
  }
}

/** The content with a note line under it, within Discord's 2000 characters. */
export function withNote(content: string, note: string | undefined): string {
  if (!note) return content;
  const room = LIMITS.content - note.length - 1;
  return `${content.length > room ? `${content.slice(0, room - 1)}…` : content}\n${note}`;
}
