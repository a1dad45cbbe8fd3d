// The "More" button under an answer: the next excerpts of the same question.
import { MessageFlags, type ButtonInteraction } from "discord.js";
import { deliver, messageOf, notice, type BotContext } from "./context.js";
import { moreCustomId, parseMoreCustomId } from "./questions.js";
import { NO_PINGS, renderAnswer, TEXT } from "./render.js";

export function isMoreButton(customId: string): boolean {
  return customId.startsWith("more:");
}

export async function handleMore(ctx: BotContext, interaction: ButtonInteraction): Promise<void> {
  const received = Date.now();
  const source = "more";
  const parsed = parseMoreCustomId(interaction.customId);
  const stored = parsed && ctx.questions.get(parsed.key);
  if (!parsed || !stored) return notice(interaction, TEXT.expired);
  ctx.metrics.questions.inc({ source });
  if (ctx.draining) return notice(interaction, TEXT.restarting);
  const rate = ctx.limiter.take(interaction.user.id);
  if (!rate.allowed) {
    ctx.metrics.rateLimited.inc({ source, notified: "true" });
    return notice(interaction, TEXT.slowDown(rate.retryAfterMs));
  }
  const ticket = ctx.work.admit();
  if (!ticket) {
    ctx.metrics.busy.inc({ source });
    return notice(interaction, TEXT.busy);
  }
  try {
    // Acknowledge at once by taking the button off the answer it was under (it is spent), then post
    // the next excerpts as a follow-up, private if that answer was.
    const ephemeral = interaction.message.flags.has(MessageFlags.Ephemeral);
    await interaction.update({ components: [], allowedMentions: NO_PINGS });
    const answer = await ticket.compute(() => ctx.citebot.answer(stored.question, { limit: ctx.config.answerExcerpts, offset: parsed.offset }));
    const moreId = answer.more ? moreCustomId(parsed.key, parsed.offset + answer.hits.length) : undefined;
    await deliver(ctx, "follow-up", () =>
      interaction.followUp({
        ...messageOf(renderAnswer(answer, { moreCustomId: moreId })),
        ...(ephemeral && { flags: MessageFlags.Ephemeral }),
      }),
    );
    ctx.metrics.answers.inc({ source, answered: String(answer.answered) });
    ctx.metrics.latency.observe({ source }, (Date.now() - received) / 1000);
    ctx.log.info({ event: "more", userId: interaction.user.id, offset: parsed.offset, hits: answer.hits.length }, "more excerpts");
  } finally {
    ticket.done();
  }
}
