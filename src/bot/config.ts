// The bot's settings, typed. The variables behind them are parsed and validated with the others
// in ../config.ts; every bad or missing one gets its own line, and no value appears in any message.
import { ConfigError, readBotEnv, TOKEN_HELP } from "../config.js";

export interface BotConfig {
  /** Bot token (Developer Portal → Bot → Reset Token). */
  token: string;
  /** Application id; optional for the bot (READY tells it), used by register-commands when set. */
  clientId?: string;
  /** Register commands in this guild only (instant) instead of globally. */
  guildId?: string;
  /** Channels where every message is a question (needs the Message Content intent). */
  answerChannels: string[];
  /** Channels where the bot answers questions (threads in them too); empty: everywhere. */
  allowedChannels: string[];
  /** Roles allowed to ask (any one of them); empty: everyone. When set, DMs are refused (no roles there). */
  allowedRoles: string[];
  /** Request the privileged Message Content intent (must be enabled in the Developer Portal too). */
  messageContentIntent: boolean;
  /** Answer a question asked in a channel in a new public thread on it (ANSWER_IN_THREAD). */
  answerInThread: boolean;
  /** Questions allowed per user per window. */
  rateLimit: { max: number; windowMs: number };
  /** Excerpts per answer (1–10). */
  answerExcerpts: number;
  /** REST API base override, e.g. http://127.0.0.1:PORT/api for the local emulator. */
  apiUrl?: string;
  /**
   * Bounded work: `concurrency` answers are computed at once, and at most `max` questions are
   * accepted and not yet delivered; past that the bot answers "busy, try again in a moment".
   */
  queue: { concurrency: number; max: number };
  /** Serve /healthz and /metrics on this address (HEALTH_PORT; unset = off; 0 = any free port). */
  health?: { port: number; host: string };
  /** Follow the index on disk: a rebuild by another process (`npm run index`) is loaded without a restart. */
  indexWatch: boolean;
  /** On SIGINT/SIGTERM, how long to wait for answers in progress before disconnecting. */
  shutdownTimeoutMs: number;
  /** /add download limits (defaults: ADD_DEFAULTS). `allowLoopback` is for tests only (a page served on 127.0.0.1). */
  add?: Partial<AddLimits>;
  /** The 👍/👎 database (DATA_DIR/feedback.sqlite when run from the CLI); unset: an in-memory one. */
  feedbackFile?: string;
  /** DISCORD_SHARDS: run as this many shard processes ("auto": Discord's recommendation); unset: one process. */
  shards?: "auto" | number;
}

/** Bad or missing bot variables: one line per problem, each naming the variable (never its value). */
export class BotConfigError extends ConfigError {
  constructor(problems: string[]) {
    super(problems, `Bot configuration problem${problems.length > 1 ? "s" : ""}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "BotConfigError";
  }
}

export { TOKEN_HELP };

/**
 * Reads the bot's variables (parsed and validated in ../config.ts) into a BotConfig. The token is
 * required; throws BotConfigError listing every problem at once.
 */
export function loadBotConfig(env?: NodeJS.ProcessEnv): BotConfig {
  let v: ReturnType<typeof readBotEnv>;
  try {
    v = readBotEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new BotConfigError(err.problems);
    throw err;
  }
  return {
    token: v.DISCORD_TOKEN,
    clientId: v.DISCORD_CLIENT_ID,
    guildId: v.DISCORD_GUILD_ID,
    answerChannels: v.ANSWER_CHANNELS ?? [],
    allowedChannels: v.ALLOWED_CHANNELS ?? [],
    allowedRoles: v.ALLOWED_ROLES ?? [],
    messageContentIntent: v.MESSAGE_CONTENT_INTENT ?? false,
    answerInThread: v.ANSWER_IN_THREAD ?? false,
    rateLimit: { max: v.RATE_LIMIT_MAX ?? 5, windowMs: (v.RATE_LIMIT_WINDOW_SECONDS ?? 60) * 1000 },
    answerExcerpts: v.ANSWER_EXCERPTS ?? 3,
    apiUrl: v.DISCORD_API_URL?.replace(/\/+$/, ""),
    queue: { concurrency: v.QUEUE_CONCURRENCY ?? DEFAULTS.queue.concurrency, max: v.QUEUE_MAX ?? DEFAULTS.queue.max },
    health: v.HEALTH_PORT === undefined ? undefined : { port: v.HEALTH_PORT, host: v.HEALTH_HOST ?? DEFAULTS.healthHost },
    indexWatch: v.INDEX_WATCH ?? true,
    shutdownTimeoutMs: (v.SHUTDOWN_TIMEOUT_SECONDS ?? DEFAULTS.shutdownTimeoutSeconds) * 1000,
    shards: v.DISCORD_SHARDS,
  };
}

export interface AddLimits {
  /** Largest file or page /add downloads, in bytes. */
  maxBytes: number;
  /** Longest a download may take, redirects included. */
  timeoutMs: number;
  allowLoopback: boolean;
}

export const ADD_DEFAULTS: AddLimits = { maxBytes: 10 * 1024 * 1024, timeoutMs: 20_000, allowLoopback: false };

export const DEFAULTS = {
  queue: { concurrency: 2, max: 200 },
  healthHost: "127.0.0.1",
  shutdownTimeoutSeconds: 10,
} as const;

/** Config for tests and embedding: defaults filled in. */
export function botConfig(partial: Partial<BotConfig> & Pick<BotConfig, "token">): BotConfig {
  return {
    answerChannels: [],
    allowedChannels: [],
    allowedRoles: [],
    messageContentIntent: false,
    answerInThread: false,
    rateLimit: { max: 5, windowMs: 60_000 },
    answerExcerpts: 3,
    queue: { ...DEFAULTS.queue },
    indexWatch: true,
    shutdownTimeoutMs: DEFAULTS.shutdownTimeoutSeconds * 1000,
    ...partial,
  };
}
