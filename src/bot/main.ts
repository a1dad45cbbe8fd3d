// Starting the bot and registering its commands, for the CLI (`npm run bot`,
// `npm run register-commands`) and for tests (which pass an already-open Citebot and a config).
import path from "node:path";
import { type Client, type ClientOptions, DiscordAPIError, Events, REST, Routes } from "discord.js";
import { Asker } from "../app/asker.js";
import type { Citebot } from "../citebot.js";
import { ConfigError, loadCoreConfig, loadDotenv, loadLogConfig } from "../config.js";
import { BuildFailedError } from "../index/isolated.js";
import { bindRootLogger, type Logger, rootLogger } from "../log.js";
import { createClient, gatewayReady, gatewayState } from "./client.js";
import { commandDefinitions, messageCommandsByName } from "./commands/index.js";
import { type BotConfig, BotConfigError, loadBotConfig, TOKEN_HELP } from "./config.js";
import type { BotContext } from "./context.js";
import { Conversations } from "./conversation.js";
import { DEFAULT_RETRY_DELAYS_MS } from "./deliver.js";
import { errInfo, redactSecrets, registerSecret } from "./errors.js";
import { FeedbackStore } from "./feedback.js";
import { type HealthReport, type HealthServer, startHealthServer } from "./health.js";
import { IndexKeeper, type IndexKeeperOptions, isReloadable } from "./indexwatch.js";
import { inviteUrl } from "./invite.js";
import { BotMetrics } from "./metrics.js";
import { checkPermissions } from "./permcheck.js";
import { QuestionStore } from "./questions.js";
import { RateLimiter } from "./ratelimit.js";
import { fetchGatewayInfo, prepareIndex, runShardManager, type ShardManagerHandle, ShardStartError, STOP_MESSAGE, shardOfProcess } from "./shards.js";
import type { CitebotLike } from "./types.js";
import { InFlight, SeenIds, WorkQueue } from "./work.js";

/** A start-up failure with a message meant for people (no stack trace needed). */
export class BotStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BotStartError";
  }
}

export interface RunBotOptions {
  citebot: CitebotLike;
  config: BotConfig;
  logger?: Logger;
  /** Extra discord.js client options (tests: shorter timeouts). */
  clientOptions?: Partial<ClientOptions>;
  /** Give up logging in after this long (default 60 s). */
  loginTimeoutMs?: number;
  /** Pauses before re-sending a reply Discord failed to take (default 1 s, 3 s, 8 s; tests: shorter). */
  retryDelaysMs?: readonly number[];
  /** Index watching (tests: faster polling). */
  indexWatch?: IndexKeeperOptions;
}

export interface StopOptions {
  /** Wait at most this long for answers in progress (default: config.shutdownTimeoutMs). */
  timeoutMs?: number;
}

export interface BotHandle {
  client: Client<true>;
  context: BotContext;
  /** The health server (HEALTH_PORT), when enabled. */
  health?: HealthServer;
  /** Health as /healthz reports it. */
  healthReport(): HealthReport;
  /**
   * Stops cleanly: new questions are told to ask again later, answers in progress are finished and
   * delivered (up to the timeout), then the gateway connection is closed.
   */
  stop(opts?: StopOptions): Promise<void>;
}

/** Warnings about settings that cannot work as configured. */
export function configWarnings(config: BotConfig): string[] {
  const warnings: string[] = [];
  if (config.answerChannels.length && !config.messageContentIntent) {
    warnings.push(
      "ANSWER_CHANNELS is set but the Message Content intent is not requested (MESSAGE_CONTENT_INTENT is not true): " +
        "Discord sends the bot empty text for messages that don't mention it, so those channels will only work with mentions. " +
        "Enable Message Content Intent in the Developer Portal (Bot → Privileged Gateway Intents) and set MESSAGE_CONTENT_INTENT=true.",
    );
  }
  return warnings;
}

/** Logs in and resolves once the bot is ready (guilds received). Throws BotStartError on a bad token etc. */
export async function runBot(opts: RunBotOptions): Promise<BotHandle> {
  const { citebot, config } = opts;
  const log = (opts.logger ?? rootLogger()).child({ component: "bot" });
  for (const w of configWarnings(config)) log.warn(w);

  registerSecret(config.token);
  const work = new WorkQueue(config.queue.concurrency, config.queue.max);
  const limiter = new RateLimiter(config.rateLimit.max, config.rateLimit.windowMs);
  const metrics = new BotMetrics(() => ({ pending: work.pending, waiting: work.waiting, active: work.active, max: work.max }));
  const context: BotContext = {
    citebot,
    config,
    log,
    asker: new Asker({ citebot, limiter, work, metrics, log, draining: () => context.draining }),
    questions: new QuestionStore(),
    conversations: new Conversations(),
    work,
    seen: new SeenIds(),
    inflight: new InFlight(),
    metrics,
    retryDelaysMs: opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
    draining: false,
  };
  if (isReloadable(citebot)) context.index = new IndexKeeper(citebot, log, context.metrics, opts.indexWatch);
  try {
    context.feedback = new FeedbackStore(config.feedbackFile ?? ":memory:");
    log.info({ file: config.feedbackFile ?? "(in memory)", ...context.feedback.counts() }, "feedback store open");
  } catch (err) {
    // Answers matter more than votes: the bot runs, without 👍/👎 buttons.
    log.error({ err: errInfo(err), file: config.feedbackFile }, "could not open the feedback database; answers go out without 👍/👎 buttons");
  }
  const client = createClient(context, opts.clientOptions);
  const healthReport = (): HealthReport => {
    const gateway = gatewayState(client);
    const loaded = !!context.citebot;
    const ok = gatewayReady(client) && loaded && !context.draining;
    return {
      ok,
      gateway,
      index: { loaded, articles: loaded ? context.citebot.articles().length : 0, disk: context.index?.disk ?? "unknown" },
      queue: { pending: work.pending, max: work.max },
      draining: context.draining,
    };
  };
  let health: HealthServer | undefined;
  if (config.health) {
    try {
      health = await startHealthServer({ ...config.health, registry: context.metrics.registry, report: healthReport, log });
      log.info({ host: health.host, port: health.port }, "health server listening (/healthz, /metrics)");
    } catch (err) {
      await client.destroy().catch(() => undefined);
      context.feedback?.close();
      throw new BotStartError(
        `Could not serve the health endpoint on ${config.health.host}:${config.health.port} (${(err as Error).message}). Pick another HEALTH_PORT or leave it unset.`,
        { cause: err },
      );
    }
  }
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BotStartError(`Could not connect to Discord within ${Math.round((opts.loginTimeoutMs ?? 60_000) / 1000)} s.`)),
      opts.loginTimeoutMs ?? 60_000,
    );
  });
  try {
    await Promise.race([client.login(config.token).then(() => ready), timeout]);
  } catch (err) {
    await client.destroy().catch(() => undefined);
    await health?.close();
    context.feedback?.close();
    throw friendlyStartError(err, config);
  } finally {
    clearTimeout(timer);
  }
  if (!client.isReady()) throw new BotStartError("The Discord client did not become ready.");

  const app = client.application;
  if (config.clientId && app.id !== config.clientId) {
    log.warn(
      { expected: config.clientId, actual: app.id },
      "DISCORD_CLIENT_ID does not match the token's application; commands may be registered to the wrong application",
    );
  }
  if (config.answerChannels.length && config.messageContentIntent) {
    const missing = config.answerChannels.filter((id) => !client.channels.cache.has(id));
    if (missing.length) log.warn({ channels: missing }, "some ANSWER_CHANNELS are not visible to the bot");
  }
  log.info(
    {
      user: client.user.tag,
      applicationId: app.id,
      guilds: client.guilds.cache.size,
      messageContent: config.messageContentIntent,
      answerChannels: config.answerChannels.length,
      allowedChannels: config.allowedChannels.length || "all",
      allowedRoles: config.allowedRoles.length || "everyone",
    },
    "bot ready",
  );
  for (const guild of client.guilds.cache.values()) checkPermissions(guild, config, log, "start");
  // What a new admin needs first: the link that adds the bot (with its slash commands) to a server.
  log.info({ url: inviteUrl(app.id, { threads: config.answerInThread }) }, "to add the bot to a server, open this invite URL");
  context.metrics.gatewayConnected.set(1);
  if (context.index && config.indexWatch) {
    context.index.start();
    void context.index.check();
  }
  let stopping: Promise<void> | undefined;
  return {
    client,
    context,
    health,
    healthReport,
    stop(stopOpts: StopOptions = {}) {
      stopping ??= (async () => {
        context.draining = true;
        const timeoutMs = stopOpts.timeoutMs ?? config.shutdownTimeoutMs;
        const inProgress = context.inflight.size;
        if (inProgress) log.info({ inProgress, timeoutMs }, "finishing the answers in progress before disconnecting");
        const drained = await context.inflight.settle(timeoutMs);
        if (!drained) log.warn({ abandoned: context.inflight.size }, "shutdown timeout: some answers were not delivered");
        context.index?.stop();
        context.closing = true;
        await client.destroy();
        await health?.close();
        context.feedback?.close();
        log.info({ drained }, "bot stopped");
      })();
      return stopping;
    },
  };
}

/** Turns discord.js/REST errors into messages that say what to do. Never includes the token. */
export function friendlyStartError(err: unknown, config: Pick<BotConfig, "apiUrl" | "messageContentIntent">): Error {
  if (err instanceof BotStartError) return err;
  const e = err as { code?: unknown; status?: unknown; message?: unknown };
  const message = String(e?.message ?? err);
  if (e?.code === "TokenInvalid" || e?.status === 401 || /Authentication failed|401/.test(message)) {
    return new BotStartError(`Discord rejected DISCORD_TOKEN (it is wrong, or was reset). ${TOKEN_HELP}`, { cause: err });
  }
  if (/disallowed intents/i.test(message)) {
    return new BotStartError(
      config.messageContentIntent
        ? "Discord refused the Message Content intent. Turn on Message Content Intent in the Developer Portal (your application → Bot → Privileged Gateway Intents), or set MESSAGE_CONTENT_INTENT=false."
        : "Discord refused a privileged intent. Check the Privileged Gateway Intents of your application in the Developer Portal.",
      { cause: err },
    );
  }
  const code = String(e?.code ?? (err as { cause?: { code?: unknown } })?.cause?.code ?? "");
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|UND_ERR/.test(code + message)) {
    return new BotStartError(
      `Could not reach Discord${config.apiUrl ? ` at ${config.apiUrl}` : ""} (${code || message}). Check the network connection${config.apiUrl ? " and DISCORD_API_URL" : ""}.`,
      { cause: err },
    );
  }
  return new BotStartError(`Could not start the bot: ${redactSecrets(message)}`, { cause: err });
}

export interface RegisterCommandsOptions {
  config: BotConfig;
  logger?: Logger;
  /** Remove the commands from that scope instead (e.g. a test guild's copies once they are global). */
  clear?: boolean;
}

export interface RegisterResult {
  scope: "guild" | "global";
  applicationId: string;
  guildId?: string;
  commands: string[];
}

/** PUTs every command: to DISCORD_GUILD_ID when set (instant), else globally (can take up to an hour to show). */
export async function registerCommands(opts: RegisterCommandsOptions): Promise<RegisterResult> {
  const { config } = opts;
  const log = (opts.logger ?? rootLogger()).child({ component: "register-commands" });
  const rest = new REST({ version: "10", ...(config.apiUrl && { api: config.apiUrl }), retries: 2 }).setToken(config.token);
  const body = opts.clear ? [] : commandDefinitions();
  try {
    let applicationId = config.clientId;
    if (!applicationId) {
      const app = (await rest.get(Routes.currentApplication())) as { id: string };
      applicationId = app.id;
    }
    const route = config.guildId ? Routes.applicationGuildCommands(applicationId, config.guildId) : Routes.applicationCommands(applicationId);
    const saved = (await rest.put(route, { body })) as Array<{ name: string }>;
    const result: RegisterResult = {
      scope: config.guildId ? "guild" : "global",
      applicationId,
      ...(config.guildId && { guildId: config.guildId }),
      commands: saved.map((c) => c.name),
    };
    log.info(result, opts.clear ? "commands removed" : "commands registered");
    return result;
  } catch (err) {
    if (err instanceof DiscordAPIError && (err.status === 403 || err.code === 50001)) {
      throw new BotStartError(
        config.guildId
          ? `Discord refused to register commands in guild ${config.guildId} (Missing Access). Check that DISCORD_GUILD_ID is right, that the bot was invited to that server with the applications.commands scope (see the README, section Discord), and that DISCORD_CLIENT_ID belongs to the token.`
          : "Discord refused to register commands (Missing Access). Check that DISCORD_CLIENT_ID belongs to the token's application.",
        { cause: err },
      );
    }
    if (err instanceof DiscordAPIError && err.status === 400) {
      throw new BotStartError(`Discord rejected the command definitions: ${err.message}`, { cause: err });
    }
    throw friendlyStartError(err, { apiUrl: config.apiUrl, messageContentIntent: false });
  } finally {
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
  }
}

// ───────────────────────────── CLI entry points ─────────────────────────────

/** Every variable the bot reads, checked before anything starts: all problems at once (BotConfigError). */
function loadAllBotSettings(): BotConfig {
  loadDotenv();
  const problems: string[] = [];
  let config: BotConfig | undefined;
  let dataDir: string | undefined;
  for (const load of [() => (dataDir = loadCoreConfig().DATA_DIR), () => loadLogConfig(), () => (config = loadBotConfig())]) {
    try {
      load();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length || !config) throw new BotConfigError(problems);
  return { ...config, feedbackFile: path.join(dataDir!, "feedback.sqlite") };
}

function explain(err: unknown): string {
  if (err instanceof ConfigError || err instanceof BotStartError || err instanceof ShardStartError) return err.message;
  if (err instanceof BuildFailedError) return `Could not build the index: ${err.message}`;
  return `Unexpected error: ${(err as Error)?.message ?? String(err)}`;
}

/** Loads (or builds, when missing or stale) the index before the bot logs in, so the first question is answered at once. */
async function openIndexForBot(corpusDir: string | undefined, log: Logger): Promise<Citebot> {
  const { Citebot } = await import("../citebot.js");
  log.info("loading the index (built on first use)");
  let lastStage = "";
  const citebot = await Citebot.open({
    corpusDir,
    onProgress: (done: number, total: number, stage: string) => {
      if (stage !== lastStage || done === total) log.info({ stage, done, total }, "index progress");
      lastStage = stage;
    },
    onStatus: (status) => {
      for (const s of status.skipped) log.warn({ file: s.file, reason: s.reason }, "skipped a corpus file");
      log.info({ index: status.index, reason: status.reason }, status.index === "built" ? "index built" : "index loaded");
    },
  });
  log.info({ articles: citebot.articles().length }, "corpus ready");
  return citebot;
}

/** Resolves after the first SIGINT/SIGTERM has run `stop`; a second signal exits at once. */
function untilSignal(log: Logger, stop: (signal: string) => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let signals = 0;
    const shutdown = (signal: string) => {
      if (++signals > 1) {
        log.warn({ signal }, "second signal: exiting without waiting");
        process.exit(130);
      }
      void stop(signal)
        .catch((err: unknown) => log.error({ err: errInfo(err) }, "shutdown failed"))
        .finally(resolve);
    };
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGTERM", () => shutdown("SIGTERM"));
  });
}

/**
 * `npm run bot` (src/cli.ts → here): loads .env, validates it, loads (or builds) the index, then logs
 * in. On a start-up failure it prints what to do (no stack trace) and sets process.exitCode = 1; when
 * running, it resolves after SIGINT/SIGTERM has stopped the bot. With `shards` (--shards, or
 * DISCORD_SHARDS) it builds the index, then runs the shards as child processes (see shards.ts); in a
 * shard process (started by that manager) it runs one shard.
 */
export async function runBotFromCli(opts: { corpusDir?: string; shards?: "auto" | number } = {}): Promise<void> {
  let config: BotConfig;
  try {
    config = loadAllBotSettings();
  } catch (err) {
    console.error(explain(err));
    process.exitCode = 1;
    return;
  }
  const shard = shardOfProcess();
  const shards = opts.shards ?? config.shards;
  if (!shard && shards !== undefined) return runShardsFromCli(config, shards, opts.corpusDir);
  if (shard) {
    // Every line this process logs says which shard wrote it; each shard serves health on its own port.
    bindRootLogger({ shard: shard.id });
    if (config.health && config.health.port !== 0) config = { ...config, health: { ...config.health, port: config.health.port + shard.id } };
  }
  const log = rootLogger().child({ component: "bot" });
  // A shard is stopped by its manager over IPC, and stops when its manager is gone (killed) rather
  // than stay connected beside the shards of a new manager. Before it is connected there is nothing
  // to finish: it just exits.
  let stopFromManager = (reason: string): void => {
    log.info({ reason }, "stopping before the shard was connected");
    process.exit(0);
  };
  if (shard) {
    process.on("message", (m: unknown) => {
      if ((m as { citebot?: unknown } | null)?.citebot === STOP_MESSAGE.citebot) stopFromManager("manager");
    });
    process.on("disconnect", () => stopFromManager("manager gone"));
  }
  let handle: BotHandle;
  try {
    const citebot = await openIndexForBot(opts.corpusDir, log);
    handle = await runBot({ citebot, config });
  } catch (err) {
    console.error(explain(err));
    log.debug({ err: errInfo(err) }, "start-up failed");
    process.exitCode = 1;
    // A shard's IPC channel to its manager would keep the process alive; closing it is not a stop request.
    stopFromManager = () => undefined;
    if (shard && process.connected) process.disconnect();
    return;
  }
  process.on("unhandledRejection", (err) => log.error({ err: errInfo(err) }, "unhandled rejection"));
  let stopping: Promise<void> | undefined;
  const stop = (reason: string) => {
    if (!stopping) log.info({ reason, inProgress: handle.context.inflight.size }, "shutting down: finishing answers in progress, then disconnecting");
    stopping ??= handle.stop();
    return stopping;
  };
  const stopped = untilSignal(log, stop);
  if (shard) {
    // Connected now: the manager's stop finishes the answers in progress first (and is not a second signal).
    const byManager = new Promise<void>((resolve) => {
      stopFromManager = (reason: string) =>
        void stop(reason)
          .catch((err: unknown) => log.error({ err: errInfo(err) }, "shutdown failed"))
          .finally(resolve);
    });
    await Promise.race([stopped, byManager]);
    if (process.connected) process.disconnect();
  } else await stopped;
  // Everything is closed; should a library still hold the event loop open, don't hang.
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
}

/** The sharding manager: builds the index once (so no shard has to), then starts and supervises the shards. */
async function runShardsFromCli(config: BotConfig, shards: "auto" | number, corpusDir: string | undefined): Promise<void> {
  const log = rootLogger().child({ component: "shards" });
  let handle: ShardManagerHandle;
  try {
    registerSecret(config.token);
    // The token and the shard count first (seconds, not the minutes a large index may take to build).
    const gateway = await fetchGatewayInfo(config);
    // The manager answers nothing: it only makes sure the index is built. The shards load their own copies.
    await prepareIndex(corpusDir, log);
    if (config.feedbackFile) {
      // Created here, once, before several processes open it at the same moment.
      try {
        new FeedbackStore(config.feedbackFile).close();
      } catch (err) {
        log.error({ err: errInfo(err), file: config.feedbackFile }, "could not open the feedback database; answers go out without 👍/👎 buttons");
      }
    }
    handle = await runShardManager({ config, shards, log, corpusDir, gateway });
  } catch (err) {
    console.error(explain(err instanceof ShardStartError || err instanceof BuildFailedError ? err : friendlyStartError(err, config)));
    log.debug({ err: errInfo(err) }, "start-up failed");
    process.exitCode = 1;
    return;
  }
  await untilSignal(log, (signal) => {
    log.info({ signal }, "shutting down: each shard finishes its answers in progress, then disconnects");
    return handle.stop();
  });
  log.info("all shards stopped");
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
}

/** `npm run register-commands` (src/cli.ts → here). Prints the outcome; sets process.exitCode = 1 on failure. */
export async function registerCommandsFromCli(opts: { clear?: boolean } = {}): Promise<void> {
  try {
    const config = loadAllBotSettings();
    const r = await registerCommands({ config, clear: opts.clear });
    if (opts.clear) {
      console.log(
        r.scope === "guild"
          ? `Removed citebot's slash commands from guild ${r.guildId}.`
          : "Removed citebot's global slash commands (Discord may take a while to hide them).",
      );
      return;
    }
    // Slash commands as "/ask"; message commands as the menu entry people look for.
    const names = r.commands.map((c) => (messageCommandsByName.has(c) ? `“${c}” (message menu → Apps)` : `/${c}`)).join(", ");
    console.log(
      r.scope === "guild"
        ? `Registered ${names} in guild ${r.guildId} (available now).`
        : `Registered ${names} globally (Discord may take up to an hour to show them everywhere).`,
    );
  } catch (err) {
    console.error(explain(err));
    process.exitCode = 1;
  }
}
