// /help
import { InteractionContextType, MessageFlags, SlashCommandBuilder } from "discord.js";
import { messageOf } from "../context.js";
import { renderHelp } from "../render.js";
import type { Command } from "./command.js";

export const help: Command = {
  everywhere: true,
  data: new SlashCommandBuilder()
    .setName("help")
    .setDescription("How to ask me questions and read the sources.")
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM),

  async execute(_ctx, interaction) {
    await interaction.reply({ ...messageOf(renderHelp(interaction.client.user.username)), flags: MessageFlags.Ephemeral });
  },
};
