// The "More" button under an answer: the next excerpts of the same question.
import { MessageFlags, type ButtonInteraction } from "discord.js";
import { messageOf, notice, type BotContext } from "./context.js";
import { moreCustomId, parseMoreCustomId } from "./questions.js";
import { NO_PINGS, renderAnswer, TEXT } from "./render.js";

export function isMoreButton(customId: string): boolean {
  return customId.startsWith("more:");
}

export async function handleMore(ctx: BotContext, interaction: ButtonInteraction): Promise<void> {
  const parsed = parseMoreCustomId(interaction.customId);
  const stored = parsed && ctx.questions.get(parsed.key);
  if (!parsed || !stored) return notice(interaction, TEXT.expired);
  const rate = ctx.limiter.take(interaction.user.id);
  if (!rate.allowed) return notice(interaction, TEXT.slowDown(rate.retryAfterMs));

  // Acknowledge at once by taking the button off the answer it was under (it is spent), then post
  // the next excerpts as a follow-up, private if that answer was.
  const ephemeral = interaction.message.flags.has(MessageFlags.Ephemeral);
  await interaction.update({ components: [], allowedMentions: NO_PINGS });
  const answer = await ctx.citebot.answer(stored.question, { limit: ctx.config.answerExcerpts, offset: parsed.offset });
  const moreId = answer.more ? moreCustomId(parsed.key, parsed.offset + answer.hits.length) : undefined;
  await interaction.followUp({
    ...messageOf(renderAnswer(answer, { moreCustomId: moreId })),
    ...(ephemeral && { flags: MessageFlags.Ephemeral }),
  });
  ctx.log.info({ event: "more", userId: interaction.user.id, offset: parsed.offset, hits: answer.hits.length }, "more excerpts");
}
