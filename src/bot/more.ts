// The "More" button under an answer: the next excerpts of the same question, for the person who
// asked it. The button's id is a random key bound to the asker and to the message it sits under.
//
// Someone else pressing it gets a private, polite note to ask their own question, not a page of
// that answer: in a shared channel the buttons under an answer are the asker's controls (as will
// be the planned per-asker feedback buttons, 👍/👎, so all of an answer's buttons behave alike),
// and others paging through it would spend the asker's button and post pages they didn't ask for.
import { type APIActionRowComponent, type APIComponentInMessageActionRow, type ButtonInteraction, ComponentType, MessageFlags } from "discord.js";
import { type BotContext, deliver, messageOf, notice } from "./context.js";
import { canEmbedFor, renderAnswerFor } from "./plaintext.js";
import { moreCustomId, parseMoreCustomId } from "./questions.js";
import { NO_PINGS, TEXT } from "./render.js";
import { bindFeedback, recordForFeedback } from "./votes.js";

export const NOT_YOUR_BUTTON =
  "That **More** button belongs to someone else's question, so only they can page through it. Ask your own with `/ask` (add `private: True` to see the answer by yourself), or mention me with your question.";

/** The message's button rows without the one pressed (the 👍/👎 of that answer stay usable). */
function withoutButton(interaction: ButtonInteraction, customId: string): APIActionRowComponent<APIComponentInMessageActionRow>[] {
  return interaction.message.components
    .map((row) => row.toJSON() as APIActionRowComponent<APIComponentInMessageActionRow>)
    .filter((row) => row.type === ComponentType.ActionRow)
    .map((row) => ({ ...row, components: row.components.filter((c) => !("custom_id" in c) || c.custom_id !== customId) }))
    .filter((row) => row.components.length > 0);
}

export function isMoreButton(customId: string): boolean {
  return customId.startsWith("more:");
}

export async function handleMore(ctx: BotContext, interaction: ButtonInteraction): Promise<void> {
  const received = Date.now();
  const parsed = parseMoreCustomId(interaction.customId);
  const stored = parsed && ctx.questions.get(parsed.key);
  // An unknown key, or one pressed under another message than its own (a forged or copied id).
  if (!parsed || !stored || (stored.messageId !== undefined && stored.messageId !== interaction.message.id)) return notice(interaction, TEXT.expired);
  if (stored.askerId !== interaction.user.id) {
    ctx.log.info({ event: "more", userId: interaction.user.id, outcome: "not-asker" }, "More pressed by someone other than the asker");
    return notice(interaction, NOT_YOUR_BUTTON);
  }
  const ephemeral = interaction.message.flags.has(MessageFlags.Ephemeral);
  const asked = await ctx.asker.ask({
    who: interaction.user.id,
    where: "more",
    question: stored.question,
    stored: true,
    options: { limit: ctx.config.answerExcerpts, offset: stored.offset },
    received,
    log: ctx.log.child({ event: "more", userId: interaction.user.id }),
    prepare: async () => {
      // Spent: the button comes off the answer and its key is forgotten, so it can't be replayed.
      ctx.questions.delete(parsed.key);
      // Acknowledge at once by taking the button off the answer it was under, then post the next
      // excerpts as a follow-up, private if that answer was.
      await interaction.update({ components: withoutButton(interaction, interaction.customId), allowedMentions: NO_PINGS });
    },
    deliver: async (answer) => {
      const key = answer.more
        ? ctx.questions.put({ question: stored.question, askerId: stored.askerId, offset: stored.offset + answer.hits.length })
        : undefined;
      const feedbackKey = recordForFeedback(ctx, answer, stored.askerId);
      const r = renderAnswerFor(answer, canEmbedFor(interaction), { moreCustomId: key && moreCustomId(key), feedbackKey });
      const sent = await deliver(ctx, "follow-up", () =>
        interaction.followUp({
          ...messageOf(r),
          ...(ephemeral && { flags: MessageFlags.Ephemeral }),
        }),
      );
      if (key) ctx.questions.bind(key, sent.id);
      bindFeedback(ctx, feedbackKey, sent.id);
    },
  });
  if (asked.kind === "refused") return notice(interaction, asked.message);
  ctx.log.info({ event: "more", userId: interaction.user.id, offset: stored.offset, hits: asked.answer.hits.length }, "more excerpts");
}
