// The 👍/👎 buttons under an answer: one vote per answer, by the person who asked (the buttons
// under an answer are the asker's controls, like "More"; others get a private "ask your own" note).
// A second press of the same thumb takes the vote back, the other thumb changes it; every press
// gets a private reply saying which, so a vote is never silently recorded or lost.
import type { ButtonInteraction } from "discord.js";
import type { Answer } from "../types.js";
import { type BotContext, notice } from "./context.js";
import { errInfo } from "./errors.js";
import { parseVoteCustomId, type Vote, type VoteOutcome } from "./feedback.js";

export const NOT_YOUR_VOTE =
  "Only the person who asked can vote on this answer. Ask your own question with `/ask` (add `private: True` to see the answer by yourself), or mention me, and vote on that answer.";

export const VOTE_EXPIRED = "I no longer have that answer on record (it is too old, or the bot's feedback store was reset), so I can't take a vote on it.";

const THUMB: Record<Vote, string> = { up: "👍", down: "👎" };

/** The private reply to a press: what happened to the vote and how to change it. */
export function voteText(o: VoteOutcome): string {
  const other: Vote = o.vote === "up" ? "down" : "up";
  switch (o.action) {
    case "recorded":
      return `Thanks, I recorded your ${THUMB[o.vote]} for this answer. Press ${THUMB[o.vote]} again to take it back, or ${THUMB[other]} to change it.`;
    case "changed":
      return `Changed your vote on this answer from ${THUMB[o.from]} to ${THUMB[o.vote]} (one vote per answer). Press ${THUMB[o.vote]} again to take it back.`;
    case "withdrawn":
      return `Took back your ${THUMB[o.vote]}: you pressed it a second time, and a second press withdraws a vote. Press ${THUMB.up} or ${THUMB.down} to vote again.`;
  }
}

export function isVoteButton(customId: string): boolean {
  return customId.startsWith("vote:");
}

/**
 * Records an answer about to be sent, for its vote buttons. Never fails the answer: without a store,
 * or when the database can't be written, the answer simply goes out without 👍/👎.
 */
export function recordForFeedback(ctx: BotContext, answer: Answer, askerId: string): string | undefined {
  if (!ctx.feedback) return undefined;
  try {
    return ctx.feedback.recordAnswer(answer, askerId);
  } catch (err) {
    ctx.metrics.errors.inc({ where: "feedback" });
    ctx.log.error({ err: errInfo(err) }, "could not record the answer for feedback; sending it without vote buttons");
    return undefined;
  }
}

/** Ties recorded feedback to the message the buttons went out under (a press from any other message is refused). */
export function bindFeedback(ctx: BotContext, key: string | undefined, messageId: string): void {
  if (!key || !ctx.feedback) return;
  try {
    ctx.feedback.bind(key, messageId);
  } catch (err) {
    ctx.log.warn({ err: errInfo(err) }, "could not bind the answer's vote buttons to its message");
  }
}

export async function handleVote(ctx: BotContext, interaction: ButtonInteraction): Promise<void> {
  const parsed = parseVoteCustomId(interaction.customId);
  const store = ctx.feedback;
  const record = parsed && store?.get(parsed.key);
  const log = ctx.log.child({ event: "vote", userId: interaction.user.id, interactionId: interaction.id });
  // Unknown key, or one pressed under another message than its own (a forged or copied id).
  if (!parsed || !store || !record || (record.messageId !== undefined && record.messageId !== interaction.message.id)) {
    ctx.metrics.votes.inc({ vote: parsed?.vote ?? "unknown", action: "expired" });
    log.info({ outcome: "expired" }, "vote on an unknown answer");
    return notice(interaction, VOTE_EXPIRED);
  }
  if (!store.isAsker(record, interaction.user.id)) {
    ctx.metrics.votes.inc({ vote: parsed.vote, action: "not-asker" });
    log.info({ outcome: "not-asker" }, "vote pressed by someone other than the asker");
    return notice(interaction, NOT_YOUR_VOTE);
  }
  const outcome = store.vote(parsed.key, interaction.user.id, parsed.vote);
  ctx.metrics.votes.inc({ vote: parsed.vote, action: outcome.action });
  log.info({ outcome: outcome.action, vote: outcome.vote, answered: record.answered, excerpts: record.excerpts.length }, "vote");
  await notice(interaction, voteText(outcome));
}
