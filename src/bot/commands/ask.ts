// /ask question:<text> [private:<bool>]
import { InteractionContextType, MessageFlags, SlashCommandBuilder } from "discord.js";
import { messageOf, notice } from "../context.js";
import { moreCustomId } from "../questions.js";
import { renderAnswer, TEXT } from "../render.js";
import type { Command } from "./command.js";

export const ask: Command = {
  data: new SlashCommandBuilder()
    .setName("ask")
    .setDescription("Ask a question; I answer by quoting the articles, with citations.")
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .addStringOption((o) =>
      o.setName("question").setDescription("Your question, in your own words").setRequired(true).setMinLength(2).setMaxLength(500),
    )
    .addBooleanOption((o) => o.setName("private").setDescription("Only you see the answer (default: everyone in the channel)")),

  async execute(ctx, interaction) {
    const question = interaction.options.getString("question", true).trim();
    const isPrivate = interaction.options.getBoolean("private") ?? false;
    const rate = ctx.limiter.take(interaction.user.id);
    if (!rate.allowed) {
      ctx.log.info({ userId: interaction.user.id, command: "ask" }, "rate limited");
      return notice(interaction, TEXT.slowDown(rate.retryAfterMs));
    }
    // Answering may take longer than Discord's 3 s acknowledgement window: defer first.
    await interaction.deferReply(isPrivate ? { flags: MessageFlags.Ephemeral } : {});
    const answer = await ctx.citebot.answer(question, { limit: ctx.config.answerExcerpts });
    const moreId = answer.more ? moreCustomId(ctx.questions.put(question), answer.hits.length) : undefined;
    await interaction.editReply(messageOf(renderAnswer(answer, { moreCustomId: moreId })));
    ctx.log.info({ command: "ask", userId: interaction.user.id, private: isPrivate, answered: answer.answered, hits: answer.hits.length }, "answered");
  },
};
