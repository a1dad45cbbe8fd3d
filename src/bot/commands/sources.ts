// /sources
import { InteractionContextType, SlashCommandBuilder } from "discord.js";
import { messageOf } from "../context.js";
import { renderSources } from "../render.js";
import type { Command } from "./command.js";

export const sources: Command = {
  data: new SlashCommandBuilder()
    .setName("sources")
    .setDescription("List the articles I answer from.")
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM),

  async execute(ctx, interaction) {
    await interaction.reply(messageOf(renderSources(ctx.citebot.articles())));
  },
};
