import { add } from "./add.js";
import { ask } from "./ask.js";
import type { Command } from "./command.js";
import { help } from "./help.js";
import { reindex } from "./reindex.js";
import { remove } from "./remove.js";
import { source } from "./source.js";
import { sources } from "./sources.js";

export type { Command } from "./command.js";

/** Every slash command, in the order they are registered. */
export const commands: Command[] = [ask, source, sources, help, reindex, add, remove];

export const commandsByName = new Map(commands.map((c) => [c.data.name, c]));

/** The JSON register-commands sends. */
export function commandDefinitions() {
  return commands.map((c) => c.data.toJSON());
}
