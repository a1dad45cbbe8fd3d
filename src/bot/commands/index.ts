import { add } from "./add.js";
import { ask } from "./ask.js";
import type { Command, MessageCommand } from "./command.js";
import { findSources } from "./findsources.js";
import { help } from "./help.js";
import { reindex } from "./reindex.js";
import { remove } from "./remove.js";
import { source } from "./source.js";
import { sources } from "./sources.js";

export type { Command, MessageCommand } from "./command.js";

/** Every slash command, in the order they are registered. */
export const commands: Command[] = [ask, source, sources, help, reindex, add, remove];

export const commandsByName = new Map(commands.map((c) => [c.data.name, c]));

/** Every message command (the message menu's Apps entries). */
export const messageCommands: MessageCommand[] = [findSources];

export const messageCommandsByName = new Map(messageCommands.map((c) => [c.data.name, c]));

/** The JSON register-commands sends. */
export function commandDefinitions() {
  return [...commands.map((c) => c.data.toJSON()), ...messageCommands.map((c) => c.data.toJSON())];
}
