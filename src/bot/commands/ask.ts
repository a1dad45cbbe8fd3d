// /ask question:<text> [private:<bool>]
import { InteractionContextType, SlashCommandBuilder } from "discord.js";
import { cleanQuestion, QuestionError } from "../../question.js";
import { admitCommand, defer, deliver, messageOf, notice } from "../context.js";
import { canEmbedFor, renderAnswerFor } from "../plaintext.js";
import { moreCustomId } from "../questions.js";
import { TEXT } from "../render.js";
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
    const source = "ask";
    ctx.metrics.questions.inc({ source });
    const log = ctx.log.child({ command: "ask", userId: interaction.user.id, interactionId: interaction.id });
    const isPrivate = interaction.options.getBoolean("private") ?? false;
    if (ctx.draining) return notice(interaction, TEXT.restarting);
    let question: string;
    try {
      question = cleanQuestion(interaction.options.getString("question", true));
    } catch (err) {
      if (!(err instanceof QuestionError)) throw err;
      ctx.metrics.refused.inc({ source });
      log.info({ outcome: "refused" }, "unusable question");
      return notice(interaction, err.message);
    }
    const ticket = await admitCommand(ctx, interaction, source, log);
    if (!ticket) return;
    try {
      // Acknowledge at once (Discord allows 3 s); the answer may then wait its turn in the queue.
      await defer(ctx, interaction, isPrivate);
      const answer = await ticket.compute(() => ctx.citebot.answer(question, { limit: ctx.config.answerExcerpts }));
      const key = answer.more ? ctx.questions.put({ question, askerId: interaction.user.id, offset: answer.hits.length }) : undefined;
      const feedbackKey = recordForFeedback(ctx, answer, interaction.user.id);
      const r = renderAnswerFor(answer, canEmbedFor(interaction), { moreCustomId: key && moreCustomId(key), feedbackKey });
      const sent = await deliver(ctx, "edit", () => interaction.editReply(messageOf(r)));
      if (key) ctx.questions.bind(key, sent.id);
      ctx.conversations.rememberAnswer(sent.id, question); // a reply to it is a follow-up
      bindFeedback(ctx, feedbackKey, sent.id);
      ctx.metrics.answers.inc({ source, answered: String(answer.answered) });
      if (!answer.answered) ctx.metrics.abstentions.inc({ source });
      ctx.metrics.latency.observe({ source }, (Date.now() - received) / 1000);
      log.info({ outcome: "answered", private: isPrivate, answered: answer.answered, hits: answer.hits.length, ms: Date.now() - received }, "answered");
    } finally {
      ticket.done();
    }
  },
};
