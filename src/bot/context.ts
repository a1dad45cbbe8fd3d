// What every handler gets, and the shared ways of answering an interaction safely.
import { DiscordAPIError, MessageFlags, RESTJSONErrorCodes, type RepliableInteraction } from "discord.js";
import type { Asker } from "../app/asker.js";
import type { Logger } from "../log.js";
import type { BotConfig } from "./config.js";
import type { Conversations } from "./conversation.js";
import { withRetry } from "./deliver.js";
import { errInfo } from "./errors.js";
import type { FeedbackStore } from "./feedback.js";
import type { IndexKeeper } from "./indexwatch.js";
import type { BotMetrics } from "./metrics.js";
import type { QuestionStore } from "./questions.js";
import { NO_PINGS, type Rendered, TEXT } from "./render.js";
import type { CitebotLike } from "./types.js";
import type { InFlight, SeenIds, WorkQueue } from "./work.js";

export interface BotContext {
  citebot: CitebotLike;
  config: BotConfig;
  log: Logger;
  /** Admits and answers every question (clean, rate limit, queue, answer, metrics): src/app/asker.ts. */
  asker: Asker;
  questions: QuestionStore;
  /** Which question each answer (and each thread the bot opened) was about, for follow-ups. */
  conversations: Conversations;
  /** The Asker's queue, for shutdown (wait until idle) and the queue gauges. */
  work: WorkQueue;
  /** Message and interaction ids already handled (a replayed event is answered once). */
  seen: SeenIds;
  /** Every handler in progress, for a clean shutdown. */
  inflight: InFlight;
  metrics: BotMetrics;
  /** Pauses before sending a reply again after a transient Discord failure. */
  retryDelaysMs: readonly number[];
  /** Set on SIGINT/SIGTERM: answers in progress finish, new questions are told to ask again later. */
  draining: boolean;
  /** Set just before the gateway connection is closed on purpose: its close is a shutdown, not a loss. */
  closing?: boolean;
  /** The index on disk (live updates, /reindex), when the core supports it. */
  index?: IndexKeeper;
  /** Answers and their 👍/👎 votes (SQLite); absent when the database could not be opened. */
  feedback?: FeedbackStore;
}

/** Sends with the context's retry policy (transient failures only). */
export function deliver<T>(ctx: BotContext, what: string, send: () => Promise<T>, deadline?: number): Promise<T> {
  return withRetry(send, { log: ctx.log, delaysMs: ctx.retryDelaysMs, what, deadline, onRetry: () => ctx.metrics.deliveryRetries.inc() });
}

/** Discord allows 3 s to acknowledge an interaction. */
export const ACK_DEADLINE_MS = 3000;

/**
 * Acknowledges an interaction ("thinking…") so the answer may take as long as it needs (15 min).
 * Retries a transient failure while the 3 s window lasts; if Discord says it was already
 * acknowledged (a retry after a lost response), carries on as deferred.
 */
export async function defer(ctx: BotContext, interaction: RepliableInteraction, ephemeral: boolean): Promise<void> {
  try {
    await deliver(
      ctx,
      "defer",
      () => interaction.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {}),
      interaction.createdTimestamp + ACK_DEADLINE_MS,
    );
  } catch (err) {
    if (err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.InteractionHasAlreadyBeenAcknowledged) {
      interaction.deferred = true;
      return;
    }
    throw err;
  }
}

/** Ephemeral notice (slow down, not found, ...), whatever state the interaction is in. */
export async function notice(interaction: RepliableInteraction, content: string): Promise<void> {
  const payload = { content, allowedMentions: NO_PINGS };
  if (interaction.deferred && !interaction.replied) await interaction.editReply(payload);
  else if (interaction.replied || interaction.deferred) await interaction.followUp({ ...payload, flags: MessageFlags.Ephemeral });
  else await interaction.reply({ ...payload, flags: MessageFlags.Ephemeral });
}

/** The message form of a rendered reply, with pings disabled. */
export function messageOf(r: Rendered) {
  return { content: r.content, embeds: r.embeds, components: r.components, allowedMentions: NO_PINGS };
}

/**
 * Logs a handler failure and tells the user briefly; never throws. The apology is always private:
 * when the interaction was deferred publicly (a public /ask "thinking…"), it goes as an ephemeral
 * follow-up and the public placeholder is deleted, so the channel never shows an error reply.
 */
export async function apologize(ctx: BotContext, interaction: RepliableInteraction, err: unknown, where: string): Promise<void> {
  ctx.metrics.errors.inc({ where });
  ctx.log.error(
    { err: errInfo(err), where, userId: interaction.user.id, channelId: interaction.channelId, interactionId: interaction.id },
    "interaction handler failed",
  );
  try {
    if (interaction.deferred && !interaction.replied && !interaction.ephemeral) {
      await interaction.followUp({ content: TEXT.apology, allowedMentions: NO_PINGS, flags: MessageFlags.Ephemeral });
      await interaction.deleteReply().catch((e: unknown) => ctx.log.warn({ err: errInfo(e), where }, "could not remove the public placeholder reply"));
    } else await notice(interaction, TEXT.apology);
  } catch (e) {
    ctx.log.warn({ err: errInfo(e), where }, "could not send the apology");
  }
}
