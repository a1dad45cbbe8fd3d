// The discord.js client: intents, partials, safe defaults, and the event wiring.
import { Client, type ClientOptions, Events, GatewayIntentBits, type Interaction, Options, Partials, type RepliableInteraction, Status } from "discord.js";
import { placeOfInteraction, refusalFor } from "./access.js";
import { commandsByName, messageCommandsByName } from "./commands/index.js";
import { apologize, type BotContext, notice } from "./context.js";
import { errInfo } from "./errors.js";
import { handleMessage } from "./messages.js";
import { handleMore, isMoreButton } from "./more.js";
import { checkPermissions } from "./permcheck.js";
import { NO_PINGS } from "./render.js";
import { handleVote, isVoteButton } from "./votes.js";

/**
 * Intents: Guilds (channels, roles), GuildMessages (messages that mention the bot or reply to it;
 * Discord gives their content without the privileged intent), DirectMessages (+ Partials.Channel,
 * since DM channels are never cached up front), and MessageContent only when asked for.
 */
export function intentsFor(messageContent: boolean): GatewayIntentBits[] {
  return [
    GatewayIntentBits.Guilds,
    GatewayIntentBits.GuildMessages,
    GatewayIntentBits.DirectMessages,
    ...(messageContent ? [GatewayIntentBits.MessageContent] : []),
  ];
}

/**
 * Bounded caches for a long-running bot: the bot never reads old messages (each event carries what
 * it needs, a reply included), so no message is cached; users every new asker adds are swept out
 * after a while instead of accumulating.
 */
export const CACHE_OPTIONS: Pick<ClientOptions, "makeCache" | "sweepers"> = {
  makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0 }),
  sweepers: {
    ...Options.DefaultSweeperSettings,
    messages: { interval: 600, lifetime: 1800 },
    users: { interval: 3600, filter: () => (user) => user.id !== user.client.user.id },
  },
};

export function createClient(ctx: BotContext, extra: Partial<ClientOptions> = {}): Client {
  const client = new Client({
    intents: intentsFor(ctx.config.messageContentIntent),
    partials: [Partials.Channel],
    ...CACHE_OPTIONS,
    // Default for every payload; each handler passes it explicitly as well.
    allowedMentions: NO_PINGS,
    ...extra,
    rest: { ...(ctx.config.apiUrl && { api: ctx.config.apiUrl }), ...extra.rest },
  });
  wire(client, ctx);
  return client;
}

/** True while every shard's gateway connection is ready (identified or resumed). */
export function gatewayReady(client: Client): boolean {
  return client.isReady() && client.ws.shards.size > 0 && client.ws.shards.every((s) => s.status === Status.Ready);
}

export function gatewayState(client: Client): string {
  if (!client.ws.shards.size) return "not connected";
  const names: Record<number, string> = {
    [Status.Ready]: "ready",
    [Status.Connecting]: "connecting",
    [Status.Reconnecting]: "reconnecting",
    [Status.Idle]: "idle",
    [Status.Nearly]: "nearly ready",
    [Status.Disconnected]: "disconnected",
    [Status.WaitingForGuilds]: "waiting for guilds",
    [Status.Identifying]: "identifying",
    [Status.Resuming]: "resuming",
  };
  return [...new Set(client.ws.shards.map((s) => names[s.status] ?? String(s.status)))].join(", ");
}

function wire(client: Client, ctx: BotContext): void {
  const answerChannels = new Set(ctx.config.answerChannels);
  const log = ctx.log;
  const connected = (up: boolean) => ctx.metrics.gatewayConnected.set(up ? 1 : 0);

  client.on(Events.MessageCreate, (message) => {
    void ctx.inflight.track(handleMessage(ctx, message, answerChannels)).catch((err: unknown) => log.error({ err: errInfo(err) }, "message handler crashed"));
  });
  client.on(Events.InteractionCreate, (interaction) => {
    void ctx.inflight.track(handleInteraction(ctx, interaction)).catch((err: unknown) => log.error({ err: errInfo(err) }, "interaction handler crashed"));
  });

  // Added to a new server: say what permissions it lacks there (the same check as at start-up).
  client.on(Events.GuildCreate, (guild) => {
    log.info({ guildId: guild.id, guild: guild.name }, "added to a server");
    checkPermissions(guild, ctx.config, log, "joined");
  });
  client.on(Events.Error, (err) => log.error({ err: errInfo(err) }, "discord client error"));
  client.on(Events.Warn, (message) => log.warn({ message }, "discord client warning"));
  client.on(Events.ShardReady, (shardId) => {
    connected(true);
    log.info({ shardId }, "gateway ready");
  });
  // A close the bot asked for (shutdown) is logged as such, once, not as a lost connection.
  let closeLogged = false;
  const shutdownClose = (shardId: number): boolean => {
    if (!ctx.closing) return false;
    if (!closeLogged) log.info({ shardId }, "gateway connection closed for shutdown");
    closeLogged = true;
    return true;
  };
  client.on(Events.ShardDisconnect, (event, shardId) => {
    connected(false);
    if (shutdownClose(shardId)) return;
    log.warn({ code: event.code, shardId }, "gateway disconnected; not reconnecting");
  });
  client.on(Events.ShardReconnecting, (shardId) => {
    connected(false);
    if (shutdownClose(shardId)) return;
    log.info({ shardId }, "gateway connection lost; reconnecting");
  });
  client.on(Events.ShardResume, (shardId, replayed) => {
    connected(true);
    log.info({ shardId, replayed }, "gateway session resumed");
  });
  client.on(Events.ShardError, (err, shardId) => log.error({ err: errInfo(err), shardId }, "gateway error"));
  client.rest.on("rateLimited", (info) =>
    log.warn(
      { route: info.route, method: info.method, retryAfter: info.retryAfter, global: info.global, scope: info.scope },
      "Discord rate limit hit; waiting",
    ),
  );
}

/** ALLOWED_CHANNELS / ALLOWED_ROLES for a command: outside them, a private note saying where the bot answers. */
export async function refuseOutside(ctx: BotContext, interaction: RepliableInteraction & { commandName: string }): Promise<boolean> {
  const refused = refusalFor(ctx.config, placeOfInteraction(interaction));
  if (!refused) return false;
  ctx.metrics.notAllowed.inc({ source: interaction.commandName, reason: refused.reason });
  ctx.log.info(
    { command: interaction.commandName, userId: interaction.user.id, channelId: interaction.channelId, outcome: "not-allowed", reason: refused.reason },
    "command outside ALLOWED_CHANNELS/ALLOWED_ROLES; told where the bot answers",
  );
  await notice(interaction, refused.text);
  return true;
}

export async function handleInteraction(ctx: BotContext, interaction: Interaction): Promise<void> {
  if (!ctx.seen.add(interaction.id)) {
    ctx.log.warn({ interactionId: interaction.id }, "interaction delivered twice; handled once");
    return;
  }
  if (interaction.isAutocomplete()) {
    const command = commandsByName.get(interaction.commandName);
    try {
      if (command?.autocomplete) await command.autocomplete(ctx, interaction);
      else await interaction.respond([]);
    } catch (err) {
      ctx.log.error({ err: errInfo(err), command: interaction.commandName }, "autocomplete failed");
      if (!interaction.responded) await interaction.respond([]).catch(() => undefined);
    }
    return;
  }
  if (interaction.isChatInputCommand()) {
    const command = commandsByName.get(interaction.commandName);
    if (!command) {
      ctx.log.warn({ command: interaction.commandName }, "unknown command (stale registration? run npm run register-commands)");
      return apologize(ctx, interaction, new Error(`unknown command ${interaction.commandName}`), "command");
    }
    try {
      if (!command.everywhere && (await refuseOutside(ctx, interaction))) return;
      await command.execute(ctx, interaction);
    } catch (err) {
      await apologize(ctx, interaction, err, `/${interaction.commandName}`);
    }
    return;
  }
  if (interaction.isMessageContextMenuCommand()) {
    const command = messageCommandsByName.get(interaction.commandName);
    if (!command) {
      ctx.log.warn({ command: interaction.commandName }, "unknown message command (stale registration? run npm run register-commands)");
      return apologize(ctx, interaction, new Error(`unknown message command ${interaction.commandName}`), "command");
    }
    try {
      if (await refuseOutside(ctx, interaction)) return;
      await command.execute(ctx, interaction);
    } catch (err) {
      await apologize(ctx, interaction, err, interaction.commandName);
    }
    return;
  }
  if (interaction.isButton() && isMoreButton(interaction.customId)) {
    try {
      await handleMore(ctx, interaction);
    } catch (err) {
      await apologize(ctx, interaction, err, "more");
    }
    return;
  }
  if (interaction.isButton() && isVoteButton(interaction.customId)) {
    try {
      await handleVote(ctx, interaction);
    } catch (err) {
      await apologize(ctx, interaction, err, "vote");
    }
  }
}
