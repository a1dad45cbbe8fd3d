// /source article:<autocomplete> [query:<text>] [passage:<int>]
import { type ChatInputCommandInteraction, InteractionContextType, SlashCommandBuilder } from "discord.js";
import type { Article, Hit } from "../../types.js";
import { type BotContext, defer, deliver, messageOf, notice } from "../context.js";
import { fit, LIMITS, renderSource, userText } from "../render.js";
import type { Command } from "./command.js";

/** An article named by the autocomplete value (its id) or by what the user typed (title match). */
export function resolveArticle(ctx: BotContext, value: string): Article | undefined {
  const v = value.trim();
  if (!v) return undefined;
  return ctx.citebot.article(v) ?? ctx.citebot.findArticles(v, 1)[0];
}

export const source: Command = {
  data: new SlashCommandBuilder()
    .setName("source")
    .setDescription("Show an article: title, publisher, date, link, and a passage from it.")
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .addStringOption((o) => o.setName("article").setDescription("Start typing a title").setRequired(true).setAutocomplete(true).setMaxLength(100))
    .addStringOption((o) => o.setName("query").setDescription("Show the passage of this article that best matches these words").setMaxLength(300))
    .addIntegerOption((o) => o.setName("passage").setDescription("Sentence number, as shown in a citation (1 = first)").setMinValue(1)),

  async autocomplete(ctx, interaction) {
    const focused = interaction.options.getFocused(true);
    if (focused.name !== "article") return interaction.respond([]);
    const typed = String(focused.value).trim();
    const found = typed ? ctx.citebot.findArticles(typed, LIMITS.fields) : ctx.citebot.articles();
    const choices = found
      .filter((a) => a.id.length >= 1 && a.id.length <= 100)
      .slice(0, 25)
      .map((a) => ({ name: fit(a.title || a.id, LIMITS.choiceName, (s) => s), value: a.id }));
    await interaction.respond(choices);
  },

  async execute(ctx, interaction) {
    const value = interaction.options.getString("article", true);
    const query = interaction.options.getString("query")?.trim() || undefined;
    const passage = interaction.options.getInteger("passage") ?? undefined;
    const article = resolveArticle(ctx, value);
    if (!article) {
      return notice(interaction, `I can't find an article matching “${fit(value, 100, userText)}”. Pick one from the suggestions, or see \`/sources\`.`);
    }
    // A sentence number wins over a query (it names the passage outright).
    if (!query || passage !== undefined) {
      await defer(ctx, interaction, false);
      return show(ctx, interaction, article, { passage });
    }
    // Matching a query embeds it: that costs like a question (cleaning, rate limit and queue).
    const asked = await ctx.asker.lookUp({
      who: interaction.user.id,
      where: "source",
      question: query,
      articleId: article.id,
      prepare: () => defer(ctx, interaction, false),
      log: ctx.log.child({ command: "source", userId: interaction.user.id, interactionId: interaction.id }),
      deliver: (hit, question) => show(ctx, interaction, article, { query: question, found: hit }),
    });
    if (asked.kind === "refused") return notice(interaction, asked.message);
  },
};

async function show(
  ctx: BotContext,
  interaction: ChatInputCommandInteraction,
  article: Article,
  { query, passage, found }: { query?: string; passage?: number; found?: Hit },
): Promise<void> {
  const total = (await ctx.citebot.passages(article.id)).length;
  let hit: Hit | undefined;
  let lead: string;
  if (passage !== undefined && passage <= total) {
    hit = await ctx.citebot.excerpt(article.id, passage - 1);
    lead = `Sentence ${passage} of ${total}, with its context:`;
  } else if (passage !== undefined) {
    hit = await ctx.citebot.excerpt(article.id, 0);
    lead = `This article has ${total} sentence${total === 1 ? "" : "s"}, so there is no sentence ${passage}. Here is its opening:`;
  } else if (query) {
    hit = found;
    lead = hit
      ? `The passage that best matches “${fit(query, 200, userText)}”:`
      : `Nothing in this article matches “${fit(query, 200, userText)}”. Here is its opening:`;
    hit ??= await ctx.citebot.excerpt(article.id, 0);
  } else {
    hit = await ctx.citebot.excerpt(article.id, 0);
    lead = "The opening of the article:";
  }
  await deliver(ctx, "edit", () => interaction.editReply(messageOf(renderSource(article, hit, { lead }))));
  ctx.log.info({ command: "source", userId: interaction.user.id, article: article.id, passage, query: !!query }, "source shown");
}
