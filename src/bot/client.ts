// The discord.js client: intents, partials, safe defaults, and the event wiring.
import { Client, Events, GatewayIntentBits, Partials, type ClientOptions, type Interaction } from "discord.js";
import { apologize, type BotContext } from "./context.js";
import { commandsByName } from "./commands/index.js";
import { handleMessage } from "./messages.js";
import { handleMore, isMoreButton } from "./more.js";
import { NO_PINGS } from "./render.js";
import { errInfo } from "./errors.js";

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

export function createClient(ctx: BotContext, extra: Partial<ClientOptions> = {}): Client {
  const client = new Client({
    intents: intentsFor(ctx.config.messageContentIntent),
    partials: [Partials.Channel],
    // Default for every payload; each handler passes it explicitly as well.
    allowedMentions: NO_PINGS,
    ...extra,
    rest: { ...(ctx.config.apiUrl && { api: ctx.config.apiUrl }), ...extra.rest },
  });
  wire(client, ctx);
  return client;
}

function wire(client: Client, ctx: BotContext): void {
  const answerChannels = new Set(ctx.config.answerChannels);
  const log = ctx.log;

  client.on(Events.MessageCreate, (message) => {
    void handleMessage(ctx, message, answerChannels).catch((err: unknown) => log.error({ err: errInfo(err) }, "message handler crashed"));
  });
  client.on(Events.InteractionCreate, (interaction) => {
    void handleInteraction(ctx, interaction).catch((err: unknown) => log.error({ err: errInfo(err) }, "interaction handler crashed"));
  });

  client.on(Events.Error, (err) => log.error({ err: errInfo(err) }, "discord client error"));
  client.on(Events.Warn, (message) => log.warn({ message }, "discord client warning"));
  client.on(Events.ShardDisconnect, (event, shardId) => log.warn({ code: event.code, shardId }, "gateway disconnected; not reconnecting"));
  client.on(Events.ShardReconnecting, (shardId) => log.info({ shardId }, "gateway reconnecting"));
  client.on(Events.ShardResume, (shardId, replayed) => log.info({ shardId, replayed }, "gateway session resumed"));
  client.on(Events.ShardError, (err, shardId) => log.error({ err: errInfo(err), shardId }, "gateway error"));
  client.rest.on("rateLimited", (info) =>
    log.warn({ route: info.route, method: info.method, retryAfter: info.retryAfter, global: info.global, scope: info.scope }, "Discord rate limit hit; waiting"),
  );
}

export async function handleInteraction(ctx: BotContext, interaction: Interaction): Promise<void> {
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
      await command.execute(ctx, interaction);
    } catch (err) {
      await apologize(ctx, interaction, err, `/${interaction.commandName}`);
    }
    return;
  }
  if (interaction.isButton() && isMoreButton(interaction.customId)) {
    try {
      await handleMore(ctx, interaction);
    } catch (err) {
      await apologize(ctx, interaction, err, "more");
    }
  }
}
