// The link an admin opens to add the bot to a server: the scopes and the permissions it needs.
import { OAuth2Scopes, PermissionFlagsBits, PermissionsBitField } from "discord.js";

/** What the bot needs in the channels where it answers (the README's table gives the reasons). */
export const BOT_PERMISSIONS = new PermissionsBitField([
  PermissionFlagsBits.ViewChannel,
  PermissionFlagsBits.SendMessages,
  PermissionFlagsBits.EmbedLinks,
  PermissionFlagsBits.ReadMessageHistory,
  PermissionFlagsBits.SendMessagesInThreads,
]);

/** The bot user plus slash commands. */
export const BOT_SCOPES = [OAuth2Scopes.Bot, OAuth2Scopes.ApplicationsCommands];

/**
 * https://discord.com/oauth2/authorize?client_id=…&scope=bot+applications.commands&permissions=274877991936,
 * plus Create Public Threads (309237730304 in all) when the bot answers in threads (ANSWER_IN_THREAD).
 */
export function inviteUrl(applicationId: string, opts: { threads?: boolean } = {}): string {
  const permissions = opts.threads ? new PermissionsBitField(BOT_PERMISSIONS).add(PermissionFlagsBits.CreatePublicThreads) : BOT_PERMISSIONS;
  const params = new URLSearchParams({ client_id: applicationId, scope: BOT_SCOPES.join(" "), permissions: permissions.bitfield.toString() });
  return `https://discord.com/oauth2/authorize?${params}`;
}
