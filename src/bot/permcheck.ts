// On start and on joining a server: which channels the bot answers in lack a permission it needs.
// One log line per such channel, saying what is missing, what that breaks, and how to fix it; then
// one summary line per server. The channels checked: ALLOWED_CHANNELS and ANSWER_CHANNELS of that
// server when ALLOWED_CHANNELS is set (the bot answers nowhere else), otherwise every text channel
// (the bot answers mentions anywhere), at most MAX_CHANNELS of them, first by position.
import { ChannelType, type Guild, type GuildBasedChannel, PermissionFlagsBits } from "discord.js";
import type { Logger } from "../log.js";
import type { BotConfig } from "./config.js";
import { errInfo } from "./errors.js";

/** Past this many text channels in one server, the rest are not checked (and the log says so). */
export const MAX_CHANNELS = 50;

export const NEEDED: ReadonlyArray<{ bit: bigint; name: string; breaks: string }> = [
  { bit: PermissionFlagsBits.ViewChannel, name: "View Channel", breaks: "the bot can't see the channel at all" },
  { bit: PermissionFlagsBits.SendMessages, name: "Send Messages", breaks: "no answers there" },
  { bit: PermissionFlagsBits.EmbedLinks, name: "Embed Links", breaks: "answers come as plain text instead of excerpt cards" },
  { bit: PermissionFlagsBits.ReadMessageHistory, name: "Read Message History", breaks: "answers can't be posted as replies to the question" },
  { bit: PermissionFlagsBits.CreatePublicThreads, name: "Create Public Threads", breaks: "no answer threads there" },
];

export interface ChannelProblem {
  channelId: string;
  channel: string;
  missing: string[];
}

export interface GuildPermissionReport {
  guildId: string;
  guild: string;
  checked: number;
  /** Text channels left unchecked past MAX_CHANNELS. */
  unchecked: number;
  problems: ChannelProblem[];
}

const TEXT_TYPES = new Set([ChannelType.GuildText, ChannelType.GuildAnnouncement]);

function channelsToCheck(guild: Guild, config: Pick<BotConfig, "allowedChannels" | "answerChannels">): { channels: GuildBasedChannel[]; unchecked: number } {
  if (config.allowedChannels.length) {
    const ids = [...new Set([...config.allowedChannels, ...config.answerChannels])];
    return { channels: ids.map((id) => guild.channels.cache.get(id)).filter((c): c is GuildBasedChannel => !!c), unchecked: 0 };
  }
  const all = [...guild.channels.cache.values()]
    .filter((c) => TEXT_TYPES.has(c.type))
    .sort((a, b) => ("rawPosition" in a && "rawPosition" in b ? a.rawPosition - b.rawPosition : 0));
  return { channels: all.slice(0, MAX_CHANNELS), unchecked: Math.max(0, all.length - MAX_CHANNELS) };
}

/** What the bot lacks in each channel it answers in, in one server. */
export function checkGuild(guild: Guild, config: Pick<BotConfig, "allowedChannels" | "answerChannels">): GuildPermissionReport {
  const me = guild.members.me ?? guild.client.user;
  const { channels, unchecked } = channelsToCheck(guild, config);
  const problems: ChannelProblem[] = [];
  for (const channel of channels) {
    const perms = channel.permissionsFor(me);
    // Without View Channel nothing else counts (Discord denies the rest implicitly): that is the one fix.
    const missing = !perms?.has(PermissionFlagsBits.ViewChannel, true) ? ["View Channel"] : NEEDED.filter((p) => !perms.has(p.bit, true)).map((p) => p.name);
    if (missing.length) problems.push({ channelId: channel.id, channel: channel.name, missing });
  }
  return { guildId: guild.id, guild: guild.name, checked: channels.length, unchecked, problems };
}

/** Checks one server and logs each channel that lacks something (warn), then a summary (info). */
export function logGuildPermissions(
  guild: Guild,
  config: Pick<BotConfig, "allowedChannels" | "answerChannels">,
  log: Logger,
  when: "start" | "joined",
): GuildPermissionReport {
  const report = checkGuild(guild, config);
  const role = guild.members.me?.roles.botRole?.name ?? guild.client.user.username;
  for (const p of report.problems) {
    const breaks = NEEDED.filter((n) => p.missing.includes(n.name)).map((n) => n.breaks);
    log.warn(
      { guildId: report.guildId, channelId: p.channelId, missing: p.missing },
      `#${p.channel} in ${report.guild}: missing ${p.missing.join(", ")} (${breaks.join("; ")}). ` +
        `Fix: Server Settings → Channels → #${p.channel} → Edit Channel → Permissions → the ${role} role → allow ${p.missing.join(", ")} ` +
        "(or re-invite the bot with the invite URL logged at start-up).",
    );
  }
  if (config.allowedChannels.length && report.checked === 0) {
    log.info({ guildId: report.guildId, when }, `none of ALLOWED_CHANNELS is in ${report.guild}: the bot answers no questions there`);
  }
  log.info(
    { guildId: report.guildId, when, checked: report.checked, unchecked: report.unchecked, withProblems: report.problems.length },
    report.unchecked
      ? `permissions checked in ${report.guild}: ${report.checked} channels (the first ${MAX_CHANNELS}; ${report.unchecked} more not checked), ${report.problems.length} missing something`
      : `permissions checked in ${report.guild}: ${report.checked} channel${report.checked === 1 ? "" : "s"}, ${report.problems.length} missing something`,
  );
  return report;
}

/** logGuildPermissions that never throws (a check must not stop the bot). */
export function checkPermissions(guild: Guild, config: Pick<BotConfig, "allowedChannels" | "answerChannels">, log: Logger, when: "start" | "joined"): void {
  try {
    logGuildPermissions(guild, config, log, when);
  } catch (err) {
    log.warn({ err: errInfo(err), guildId: guild.id }, "could not check the bot's permissions in this server");
  }
}
