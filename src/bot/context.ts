// What every handler gets, and the shared ways of answering an interaction safely.
import { MessageFlags, type RepliableInteraction } from "discord.js";
import type { Logger } from "../log.js";
import type { BotConfig } from "./config.js";
import type { QuestionStore } from "./questions.js";
import type { RateLimiter } from "./ratelimit.js";
import { NO_PINGS, TEXT, type Rendered } from "./render.js";
import type { CitebotLike } from "./types.js";
import { errInfo } from "./errors.js";

export interface BotContext {
  citebot: CitebotLike;
  config: BotConfig;
  log: Logger;
  limiter: RateLimiter;
  questions: QuestionStore;
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

/** Logs a handler failure and tells the user briefly; never throws. */
export async function apologize(ctx: BotContext, interaction: RepliableInteraction, err: unknown, where: string): Promise<void> {
  ctx.log.error({ err: errInfo(err), where, userId: interaction.user.id, channelId: interaction.channelId, interactionId: interaction.id }, "interaction handler failed");
  try {
    await notice(interaction, TEXT.apology);
  } catch (e) {
    ctx.log.warn({ err: errInfo(e), where }, "could not send the apology");
  }
}
