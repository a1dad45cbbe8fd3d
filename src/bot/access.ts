// Who may ask, and where (ALLOWED_CHANNELS, ALLOWED_ROLES). Decisions:
// - Channels: with ALLOWED_CHANNELS set, the bot answers in those channels, in threads under them,
//   and in ANSWER_CHANNELS (listing a channel as an answer channel says the bot answers there).
// - Roles: with ALLOWED_ROLES set, only members holding one of them may ask.
// - Outside: a slash command gets a private note saying where (or with which role) the bot answers;
//   a mention, reply or answer-channel message is ignored (logged and counted): a public reply would
//   put the bot exactly where the server's admins chose not to have it, and a message can't be
//   answered privately.
// - DMs: allowed unless ALLOWED_ROLES is set (a DM carries no roles, and the asker may share no
//   server with the bot's admins' rules); then a DM gets a one-line reply (it is private anyway).
//   ALLOWED_CHANNELS alone leaves DMs open: it scopes the server's channels.
// - /help and the admin commands (/reindex, /add, /remove) work everywhere; buttons are bound to
//   the asker of the answer they sit under.
import type { Interaction, Message } from "discord.js";
import type { BotConfig } from "./config.js";

export type Refusal = { reason: "channel" | "role" | "dm"; text: string };

export interface Place {
  inGuild: boolean;
  channelId: string;
  /** The parent channel, for a thread. */
  parentId?: string | null;
  roleIds: readonly string[];
}

/** Why `place` may not ask, or undefined when it may. */
export function refusalFor(config: Pick<BotConfig, "allowedChannels" | "allowedRoles" | "answerChannels">, place: Place): Refusal | undefined {
  const { allowedChannels, allowedRoles, answerChannels } = config;
  if (!place.inGuild) {
    if (!allowedRoles.length) return undefined;
    return { reason: "dm", text: "I only answer in the server, to members with certain roles, so not in direct messages. Ask me there (`/ask`)." };
  }
  if (allowedChannels.length) {
    const open = new Set([...allowedChannels, ...answerChannels]);
    const here = open.has(place.channelId) || (!!place.parentId && open.has(place.parentId));
    if (!here) {
      const list = [...open]
        .slice(0, 10)
        .map((id) => `<#${id}>`)
        .join(", ");
      return { reason: "channel", text: `I answer questions only in ${list}${open.size > 10 ? " and a few more" : ""}. Ask me there.` };
    }
  }
  if (allowedRoles.length && !place.roleIds.some((r) => allowedRoles.includes(r))) {
    const list = allowedRoles
      .slice(0, 10)
      .map((id) => `<@&${id}>`)
      .join(", ");
    return { reason: "role", text: `Asking me needs one of these roles: ${list}. A server admin can give you one.` };
  }
  return undefined;
}

export function placeOfMessage(message: Message): Place {
  if (!message.inGuild()) return { inGuild: false, channelId: message.channelId, roleIds: [] };
  return {
    inGuild: true,
    channelId: message.channelId,
    parentId: message.channel.isThread() ? message.channel.parentId : null,
    roleIds: message.member ? [...message.member.roles.cache.keys()] : [],
  };
}

export function placeOfInteraction(interaction: Interaction): Place {
  if (!interaction.inGuild()) return { inGuild: false, channelId: interaction.channelId ?? "", roleIds: [] };
  const roles = interaction.member.roles;
  const channel = interaction.channel;
  return {
    inGuild: true,
    channelId: interaction.channelId ?? "",
    parentId: channel?.isThread() ? channel.parentId : null,
    // A cached member has a role manager; otherwise Discord's raw member carries the role ids.
    roleIds: Array.isArray(roles) ? roles : [...roles.cache.keys()],
  };
}
