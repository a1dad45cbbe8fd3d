// /ask question:<text> [private:<bool>]
import { InteractionContextType, SlashCommandBuilder } from "discord.js";
import { defer, deliver, messageOf, notice } from "../context.js";
import { canEmbedFor, renderAnswerFor } from "../plaintext.js";
import { moreCustomId } from "../questions.js";
import { bindFeedback, recordForFeedback } from "../votes.js";
import type { Command } from "./command.js";

export const ask: Command = {
  data: new SlashCommandBuilder()
    .setName("ask")
    .setDescription("Ask a question; I answer by quoting the articles, with citations.")
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .addStringOption((o) => o.setName("question").setDescription("Your question, in your own words").setRequired(true).setMinLength(2).setMaxLength(500))
    .addBooleanOption((o) => o.setName("private").setDescription("Only you see the answer (default: everyone in the channel)")),

  async execute(ctx, interaction) {
    const received = Date.now();
    const log = ctx.log.child({ command: "ask", userId: interaction.user.id, interactionId: interaction.id });
    const isPrivate = interaction.options.getBoolean("private") ?? false;
    const asked = await ctx.asker.ask({
      who: interaction.user.id,
      where: "ask",
      question: interaction.options.getString("question", true),
      options: { limit: ctx.config.answerExcerpts },
      received,
      log,
      // Acknowledge at once (Discord allows 3 s); the answer may then wait its turn in the queue.
      prepare: () => defer(ctx, interaction, isPrivate),
      deliver: async (answer, question) => {
        const key = answer.more ? ctx.questions.put({ question, askerId: interaction.user.id, offset: answer.hits.length }) : undefined;
        const feedbackKey = recordForFeedback(ctx, answer, interaction.user.id);
        const r = renderAnswerFor(answer, canEmbedFor(interaction), { moreCustomId: key && moreCustomId(key), feedbackKey });
        const sent = await deliver(ctx, "edit", () => interaction.editReply(messageOf(r)));
        if (key) ctx.questions.bind(key, sent.id);
        ctx.conversations.rememberAnswer(sent.id, question); // a reply to it is a follow-up
        bindFeedback(ctx, feedbackKey, sent.id);
      },
    });
    if (asked.kind === "refused") return notice(interaction, asked.message);
    const { answer } = asked;
    log.info({ outcome: "answered", private: isPrivate, answered: answer.answered, hits: answer.hits.length, ms: Date.now() - received }, "answered");
  },
};
