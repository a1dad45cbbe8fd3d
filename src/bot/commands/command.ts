import type {
  AutocompleteInteraction,
  ChatInputCommandInteraction,
  MessageContextMenuCommandInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
  RESTPostAPIContextMenuApplicationCommandsJSONBody,
} from "discord.js";
import type { BotContext } from "../context.js";

/** A slash command: its definition (what register-commands sends) and its handlers, side by side. */
export interface Command {
  data: { name: string; toJSON(): RESTPostAPIChatInputApplicationCommandsJSONBody };
  execute(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<void>;
  autocomplete?(ctx: BotContext, interaction: AutocompleteInteraction): Promise<void>;
  /** Works outside ALLOWED_CHANNELS / ALLOWED_ROLES (help, admin commands); others are refused there. */
  everywhere?: boolean;
}

/** A message command (right-click a message → Apps): its definition and its handler. */
export interface MessageCommand {
  data: { name: string; toJSON(): RESTPostAPIContextMenuApplicationCommandsJSONBody };
  execute(ctx: BotContext, interaction: MessageContextMenuCommandInteraction): Promise<void>;
}
