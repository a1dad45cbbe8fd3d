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

/** https://discord.com/oauth2/authorize?client_id=…&scope=bot+applications.commands&permissions=274877991936 */
export function inviteUrl(applicationId: string): string {
  const params = new URLSearchParams({ client_id: applicationId, scope: BOT_SCOPES.join(" "), permissions: BOT_PERMISSIONS.bitfield.toString() });
  return `https://discord.com/oauth2/authorize?${params}`;
}
