// Bot settings from the environment (.env via dotenv), validated with zod. Every bad or missing
// variable gets its own friendly line; the token's value never appears in any message.
import { z } from "zod";

export interface BotConfig {
  /** Bot token (Developer Portal → Bot → Reset Token). */
  token: string;
  /** Application id; optional for the bot (READY tells it), used by register-commands when set. */
  clientId?: string;
  /** Register commands in this guild only (instant) instead of globally. */
  guildId?: string;
  /** Channels where every message is a question (needs the Message Content intent). */
  answerChannels: string[];
  /** Request the privileged Message Content intent (must be enabled in the Developer Portal too). */
  messageContentIntent: boolean;
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
}

export class BotConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Bot configuration problem${problems.length > 1 ? "s" : ""}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "BotConfigError";
  }
}

export const TOKEN_HELP =
  "Get one at https://discord.com/developers/applications → your application → Bot → Reset Token, " +
  "then put DISCORD_TOKEN=<token> in .env (see the README, section Discord).";

const snowflake = z.string().regex(/^\d{17,20}$/);
const bool = z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"]);
const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);

type Check = { schema: z.ZodType; problem: (value: string) => string };

const checks: Record<string, Check> = {
  DISCORD_TOKEN: {
    // Only the shape is checked here; Discord itself says whether the token is valid.
    schema: z.string().regex(/^[A-Za-z0-9._-]+$/),
    problem: () => `DISCORD_TOKEN does not look like a bot token (it should be one word of letters, digits, dots, - and _; no quotes or spaces). ${TOKEN_HELP}`,
  },
  DISCORD_CLIENT_ID: {
    schema: snowflake,
    problem: (v) => `DISCORD_CLIENT_ID must be the application id, a number of 17–20 digits (got "${clip(v)}"). Copy it from the Developer Portal → General Information → Application ID.`,
  },
  DISCORD_GUILD_ID: {
    schema: snowflake,
    problem: (v) => `DISCORD_GUILD_ID must be a server id, a number of 17–20 digits (got "${clip(v)}"). In Discord enable Developer Mode, then right-click the server → Copy Server ID.`,
  },
  ANSWER_CHANNELS: {
    schema: z.string().transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean)).pipe(z.array(snowflake)),
    problem: (v) => `ANSWER_CHANNELS must be a comma-separated list of channel ids (17–20 digits each), got "${clip(v)}". Right-click a channel → Copy Channel ID (Developer Mode).`,
  },
  MESSAGE_CONTENT_INTENT: {
    schema: bool,
    problem: (v) => `MESSAGE_CONTENT_INTENT must be true or false (got "${clip(v)}").`,
  },
  RATE_LIMIT_MAX: {
    schema: positiveInt(1000),
    problem: (v) => `RATE_LIMIT_MAX must be a whole number from 1 to 1000: questions per user per window (got "${clip(v)}").`,
  },
  RATE_LIMIT_WINDOW_SECONDS: {
    schema: z.coerce.number().positive().max(86400),
    problem: (v) => `RATE_LIMIT_WINDOW_SECONDS must be a number of seconds between 0 and 86400 (got "${clip(v)}").`,
  },
  ANSWER_EXCERPTS: {
    schema: positiveInt(10),
    problem: (v) => `ANSWER_EXCERPTS must be a whole number from 1 to 10 (got "${clip(v)}").`,
  },
  QUEUE_CONCURRENCY: {
    schema: positiveInt(64),
    problem: (v) => `QUEUE_CONCURRENCY must be a whole number from 1 to 64: answers computed at once (got "${clip(v)}").`,
  },
  QUEUE_MAX: {
    schema: positiveInt(100_000),
    problem: (v) => `QUEUE_MAX must be a whole number from 1 to 100000: questions accepted and not yet answered before the bot says it is busy (got "${clip(v)}").`,
  },
  HEALTH_PORT: {
    schema: z.coerce.number().int().min(0).max(65535),
    problem: (v) => `HEALTH_PORT must be a port number from 0 to 65535 (got "${clip(v)}"); leave it unset for no health server.`,
  },
  HEALTH_HOST: {
    schema: z.string().regex(/^[\w.:-]+$/),
    problem: (v) => `HEALTH_HOST must be an address to listen on, such as 127.0.0.1 or 0.0.0.0 (got "${clip(v)}").`,
  },
  INDEX_WATCH: {
    schema: bool,
    problem: (v) => `INDEX_WATCH must be true or false (got "${clip(v)}").`,
  },
  SHUTDOWN_TIMEOUT_SECONDS: {
    schema: z.coerce.number().min(0).max(600),
    problem: (v) => `SHUTDOWN_TIMEOUT_SECONDS must be a number of seconds from 0 to 600 (got "${clip(v)}").`,
  },
  DISCORD_API_URL: {
    schema: z.url({ protocol: /^https?$/ }),
    problem: (v) => `DISCORD_API_URL must be an http(s) URL such as http://127.0.0.1:8080/api (got "${clip(v)}"). Leave it unset to talk to Discord.`,
  },
};

function clip(v: string): string {
  return v.length > 60 ? `${v.slice(0, 57)}...` : v;
}

/**
 * Reads and validates the bot's variables. `require: ["DISCORD_TOKEN"]` by default; throws
 * BotConfigError listing every problem at once.
 */
export function loadBotConfig(env: NodeJS.ProcessEnv = process.env): BotConfig {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, check] of Object.entries(checks)) {
    let raw = env[name]?.trim();
    if (name === "DISCORD_TOKEN") raw = raw?.replace(/^Bot\s+/i, ""); // a pasted "Bot <token>" header value
    if (raw === undefined || raw === "") continue;
    const parsed = check.schema.safeParse(raw);
    if (parsed.success) values[name] = parsed.data;
    else problems.push(check.problem(raw));
  }
  if (!env.DISCORD_TOKEN?.trim()) problems.unshift(`DISCORD_TOKEN is missing. ${TOKEN_HELP}`);
  if (problems.length) throw new BotConfigError(problems);

  const truthy = (v: unknown) => v === "true" || v === "1" || v === "yes" || v === "on";
  return {
    token: String(values.DISCORD_TOKEN),
    clientId: values.DISCORD_CLIENT_ID as string | undefined,
    guildId: values.DISCORD_GUILD_ID as string | undefined,
    answerChannels: (values.ANSWER_CHANNELS as string[] | undefined) ?? [],
    messageContentIntent: truthy(values.MESSAGE_CONTENT_INTENT),
    rateLimit: {
      max: (values.RATE_LIMIT_MAX as number | undefined) ?? 5,
      windowMs: ((values.RATE_LIMIT_WINDOW_SECONDS as number | undefined) ?? 60) * 1000,
    },
    answerExcerpts: (values.ANSWER_EXCERPTS as number | undefined) ?? 3,
    apiUrl: (values.DISCORD_API_URL as string | undefined)?.replace(/\/+$/, ""),
    queue: {
      concurrency: (values.QUEUE_CONCURRENCY as number | undefined) ?? DEFAULTS.queue.concurrency,
      max: (values.QUEUE_MAX as number | undefined) ?? DEFAULTS.queue.max,
    },
    health:
      values.HEALTH_PORT === undefined ? undefined : { port: values.HEALTH_PORT as number, host: (values.HEALTH_HOST as string | undefined) ?? DEFAULTS.healthHost },
    indexWatch: values.INDEX_WATCH === undefined ? true : truthy(values.INDEX_WATCH),
    shutdownTimeoutMs: ((values.SHUTDOWN_TIMEOUT_SECONDS as number | undefined) ?? DEFAULTS.shutdownTimeoutSeconds) * 1000,
  };
}

export const DEFAULTS = {
  queue: { concurrency: 2, max: 200 },
  healthHost: "127.0.0.1",
  shutdownTimeoutSeconds: 10,
} as const;

/** Config for tests and embedding: defaults filled in. */
export function botConfig(partial: Partial<BotConfig> & Pick<BotConfig, "token">): BotConfig {
  return {
    answerChannels: [],
    messageContentIntent: false,
    rateLimit: { max: 5, windowMs: 60_000 },
    answerExcerpts: 3,
    queue: { ...DEFAULTS.queue },
    indexWatch: true,
    shutdownTimeoutMs: DEFAULTS.shutdownTimeoutSeconds * 1000,
    ...partial,
  };
}
