// Every environment variable citebot reads (.env via dotenv, then the environment) is declared,
// parsed and validated here with zod, and nowhere else. An empty value counts as unset everywhere.
// A bad value gets one line that names the variable and says what it should be, but never repeats
// the value: a token pasted into the wrong variable must not end up on a screen or in a log.
import path from "node:path";
import dotenv from "dotenv";
import { z } from "zod";
import { PROJECT_ROOT } from "./paths.js";

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    message = problems.join("\n"),
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

export const TOKEN_HELP =
  "Get one at https://discord.com/developers/applications → your application → Bot → Reset Token, " +
  "then put DISCORD_TOKEN=<token> in .env (see the README, section Discord).";

/** The shipped sentence-transformer (models/all-MiniLM-L6-v2); glove-sif-100d stays available by name. */
export const DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const snowflake = z.string().regex(/^\d{17,20}$/);
const bool = z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"]).transform((v) => v === "true" || v === "1" || v === "yes" || v === "on");
/** A comma-separated list of ids (spaces and empty items ignored). */
const idList = z
  .string()
  .transform((s) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(snowflake));
const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);

interface Variable {
  /** Who reads it: every command, the logger, or the Discord bot. */
  group: "core" | "log" | "bot";
  schema: z.ZodType;
  /** The default, as people read it (for --help and messages). */
  default: string;
  /** What it is, for --help. */
  help: string;
  /** What is wrong when it does not parse (never includes the value). */
  problem: string;
}

/** The one list of variables: parsing, validation, defaults and the --help text all come from here. */
export const VARIABLES = {
  CORPUS_DIR: {
    group: "core",
    schema: z.string(),
    default: "./corpus",
    help: "folder of articles (--corpus overrides it)",
    problem: "CORPUS_DIR must be a folder.",
  },
  DATA_DIR: {
    group: "core",
    schema: z.string(),
    default: "./data",
    help: "where indexes and downloaded models are kept",
    problem: "DATA_DIR must be a folder.",
  },
  EMBED_MODEL: {
    group: "core",
    schema: z.string(),
    default: DEFAULT_EMBED_MODEL,
    help: "embedding model: a folder under models/, a model folder, or a Hugging Face id",
    problem: "EMBED_MODEL must name a model.",
  },
  EMBED_REMOTE_HOST: {
    group: "core",
    schema: z.url({ protocol: /^https?$/ }),
    default: "huggingface.co",
    help: "base URL of a model hub mirror for EMBED_MODEL downloads",
    problem: "EMBED_REMOTE_HOST must be a URL such as http://127.0.0.1:8080/",
  },
  STORE: {
    group: "core",
    schema: z.enum(["files", "postgres"]),
    default: "files",
    help: "where the index lives: files (under DATA_DIR, no server) or postgres (DATABASE_URL, shared by every bot)",
    problem: "STORE must be files or postgres.",
  },
  DATABASE_URL: {
    group: "core",
    schema: z.string().regex(/^postgres(ql)?:\/\/\S*$/i),
    default: "unset (needed when STORE=postgres)",
    help: "PostgreSQL ≥ 15 with pgvector ≥ 0.5, as postgresql://user:password@host:5432/database",
    problem: "DATABASE_URL must be a PostgreSQL connection URL such as postgresql://user:password@host:5432/citebot (no spaces).",
  },
  PG_SCHEMA: {
    group: "core",
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/),
    default: "citebot",
    help: "the PostgreSQL schema holding the index (one corpus per schema)",
    problem: "PG_SCHEMA must be a lower-case PostgreSQL name: letters, digits and _ (at most 63), not starting with a digit.",
  },
  DEBUG: {
    group: "core",
    schema: z.string(),
    default: "off",
    help: "any value: print the stack trace of an unexpected error",
    problem: "DEBUG must be a word such as 1.",
  },
  NO_COLOR: {
    group: "core",
    schema: z.string(),
    default: "unset",
    help: "any value: no colour or bold in answers (they are plain when piped anyway)",
    problem: "NO_COLOR must be a word such as 1.",
  },
  LOG_LEVEL: {
    group: "log",
    schema: z.enum(LOG_LEVELS),
    default: "info",
    help: `bot log level: ${LOG_LEVELS.join(", ")}`,
    problem: `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}.`,
  },
  LOG_FORMAT: {
    group: "log",
    schema: z.enum(["pretty", "json"]),
    default: "pretty on a terminal, else json",
    help: "bot log lines: pretty (readable) or json (one object per line)",
    problem: "LOG_FORMAT must be pretty or json.",
  },
  DISCORD_TOKEN: {
    group: "bot",
    // Only the shape is checked here; Discord itself says whether the token is valid. A pasted "Bot <token>" header value is accepted.
    schema: z
      .string()
      .transform((s) => s.replace(/^Bot\s+/i, ""))
      .pipe(z.string().regex(/^[A-Za-z0-9._-]+$/)),
    default: "(required for the bot)",
    help: "the bot token (Developer Portal → Bot → Reset Token)",
    problem: `DISCORD_TOKEN does not look like a bot token (it should be one word of letters, digits, dots, - and _; no quotes or spaces). ${TOKEN_HELP}`,
  },
  DISCORD_CLIENT_ID: {
    group: "bot",
    schema: snowflake,
    default: "from the token",
    help: "the Application ID, for register-commands",
    problem:
      "DISCORD_CLIENT_ID must be the application id, a number of 17–20 digits. Copy it from the Developer Portal → General Information → Application ID.",
  },
  DISCORD_GUILD_ID: {
    group: "bot",
    schema: snowflake,
    default: "unset: global commands",
    help: "register the slash commands in this server only (they appear at once)",
    problem: "DISCORD_GUILD_ID must be a server id, a number of 17–20 digits. In Discord enable Developer Mode, then right-click the server → Copy Server ID.",
  },
  ANSWER_CHANNELS: {
    group: "bot",
    schema: z
      .string()
      .transform((s) =>
        s
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .pipe(z.array(snowflake)),
    default: "none",
    help: "comma-separated channel ids where every message is a question",
    problem: "ANSWER_CHANNELS must be a comma-separated list of channel ids (17–20 digits each). Right-click a channel → Copy Channel ID (Developer Mode).",
  },
  ALLOWED_CHANNELS: {
    group: "bot",
    schema: idList,
    default: "all",
    help: "comma-separated channel ids where the bot answers (threads in them too); elsewhere it points there privately",
    problem: "ALLOWED_CHANNELS must be a comma-separated list of channel ids (17–20 digits each). Right-click a channel → Copy Channel ID (Developer Mode).",
  },
  ALLOWED_ROLES: {
    group: "bot",
    schema: idList,
    default: "everyone",
    help: "comma-separated role ids; only members with one of them may ask (and no DMs)",
    problem:
      "ALLOWED_ROLES must be a comma-separated list of role ids (17–20 digits each). Server Settings → Roles → right-click a role → Copy Role ID (Developer Mode).",
  },
  MESSAGE_CONTENT_INTENT: {
    group: "bot",
    schema: bool,
    default: "false",
    help: "request the privileged Message Content intent (needed for ANSWER_CHANNELS)",
    problem: "MESSAGE_CONTENT_INTENT must be true or false.",
  },
  ANSWER_IN_THREAD: {
    group: "bot",
    schema: bool,
    default: "false",
    help: "answer a question in a channel in a new public thread on it, named after it",
    problem: "ANSWER_IN_THREAD must be true or false.",
  },
  RATE_LIMIT_MAX: {
    group: "bot",
    schema: positiveInt(1000),
    default: "5",
    help: "questions per user per window",
    problem: "RATE_LIMIT_MAX must be a whole number from 1 to 1000: questions per user per window.",
  },
  RATE_LIMIT_WINDOW_SECONDS: {
    group: "bot",
    schema: z.coerce.number().positive().max(86400),
    default: "60",
    help: "length of the rate-limit window, in seconds",
    problem: "RATE_LIMIT_WINDOW_SECONDS must be a number of seconds between 0 and 86400.",
  },
  ANSWER_EXCERPTS: {
    group: "bot",
    schema: positiveInt(10),
    default: "3",
    help: "excerpts per answer (1–10)",
    problem: "ANSWER_EXCERPTS must be a whole number from 1 to 10.",
  },
  QUEUE_CONCURRENCY: {
    group: "bot",
    schema: positiveInt(64),
    default: "2",
    help: "answers computed at once",
    problem: "QUEUE_CONCURRENCY must be a whole number from 1 to 64: answers computed at once.",
  },
  QUEUE_MAX: {
    group: "bot",
    schema: positiveInt(100_000),
    default: "200",
    help: "questions waiting before the bot says it is busy",
    problem: "QUEUE_MAX must be a whole number from 1 to 100000: questions accepted and not yet answered before the bot says it is busy.",
  },
  HEALTH_PORT: {
    group: "bot",
    schema: z.coerce.number().int().min(0).max(65535),
    default: "unset: off",
    help: "serve /healthz and /metrics on this port (0: any free port)",
    problem: "HEALTH_PORT must be a port number from 0 to 65535; leave it unset for no health server.",
  },
  HEALTH_HOST: {
    group: "bot",
    schema: z.string().regex(/^[\w.:-]+$/),
    default: "127.0.0.1",
    help: "address of the health server",
    problem: "HEALTH_HOST must be an address to listen on, such as 127.0.0.1 or 0.0.0.0.",
  },
  INDEX_WATCH: {
    group: "bot",
    schema: bool,
    default: "true",
    help: "load an index rebuilt by `citebot index` while the bot runs",
    problem: "INDEX_WATCH must be true or false.",
  },
  SHUTDOWN_TIMEOUT_SECONDS: {
    group: "bot",
    schema: z.coerce.number().min(0).max(600),
    default: "10",
    help: "on Ctrl+C/SIGTERM, seconds to wait for answers in progress",
    problem: "SHUTDOWN_TIMEOUT_SECONDS must be a number of seconds from 0 to 600.",
  },
  INDEX_BUILD_MEMORY_MB: {
    group: "bot",
    schema: positiveInt(1_000_000),
    default: "half the RAM, 512–4096",
    help: "memory ceiling of a /reindex build, in MB (the build runs in a child process)",
    problem: "INDEX_BUILD_MEMORY_MB must be a positive whole number of megabytes; using the default.",
  },
  INDEX_BUILD_TIMEOUT_SECONDS: {
    group: "bot",
    schema: positiveInt(86_400),
    default: "1800",
    help: "longest a /reindex build may take, in seconds",
    problem: "INDEX_BUILD_TIMEOUT_SECONDS must be a positive whole number of seconds; using the default.",
  },
  DISCORD_SHARDS: {
    group: "bot",
    // "auto": as many shards as Discord recommends (GET /gateway/bot); a number: that many. (Not SHARDS:
    // discord.js sets SHARDS and SHARD_COUNT in each shard process it starts.)
    schema: z.union([z.literal("auto"), z.coerce.number().int().min(1).max(4096)]),
    default: "unset: one process, no sharding",
    help: "run the bot as this many shards, one process each (auto: Discord's recommendation); --shards overrides it",
    problem: "DISCORD_SHARDS must be auto or a whole number of shards from 1 to 4096; leave it unset to run one process without sharding.",
  },
  DISCORD_API_URL: {
    group: "bot",
    schema: z.url({ protocol: /^https?$/ }),
    default: "Discord's",
    help: "REST API base; only for the local Discord emulator in tests",
    problem: "DISCORD_API_URL must be an http(s) URL such as http://127.0.0.1:8080/api. Leave it unset to talk to Discord.",
  },
} satisfies Record<string, Variable>;

type Variables = typeof VARIABLES;
export type VariableName = keyof Variables;
type GroupOf<G extends Variable["group"]> = { [K in VariableName]: Variables[K]["group"] extends G ? K : never }[VariableName];
/** The parsed values of a group's variables; unset (or blank) ones are undefined. */
export type EnvValues<G extends Variable["group"]> = { [K in GroupOf<G>]?: z.output<Variables[K]["schema"]> };

let dotenvLoaded = false;

/** Reads .env at the project root into process.env once (variables already set win). */
export function loadDotenv(): void {
  if (dotenvLoaded) return;
  dotenvLoaded = true;
  dotenv.config({ path: path.join(PROJECT_ROOT, ".env"), quiet: true });
}

/**
 * Parses one group's variables. Blank means unset; every bad variable gets its own problem line
 * (in the order of VARIABLES), so one run shows everything to fix.
 */
export function readEnv<G extends Variable["group"]>(group: G, source: NodeJS.ProcessEnv): { values: EnvValues<G>; problems: string[] } {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, variable] of Object.entries(VARIABLES) as Array<[VariableName, Variable]>) {
    if (variable.group !== group) continue;
    const raw = source[name]?.trim();
    if (raw === undefined || raw === "") continue;
    const parsed = variable.schema.safeParse(raw);
    if (parsed.success) values[name] = parsed.data;
    else problems.push(variable.problem);
  }
  return { values: values as EnvValues<G>, problems };
}

/** One variable, parsed: its value, or the problem with it (blank counts as unset). */
export function readVariable<K extends VariableName>(name: K, source: NodeJS.ProcessEnv): { value?: z.output<Variables[K]["schema"]>; problem?: string } {
  const raw = source[name]?.trim();
  if (raw === undefined || raw === "") return {};
  const variable: Variable = VARIABLES[name];
  const parsed = variable.schema.safeParse(raw);
  return parsed.success ? { value: parsed.data as z.output<Variables[K]["schema"]> } : { problem: variable.problem };
}

export interface CoreConfig {
  CORPUS_DIR: string;
  DATA_DIR: string;
  EMBED_MODEL: string;
  EMBED_REMOTE_HOST?: string;
  STORE: "files" | "postgres";
  DATABASE_URL?: string;
  PG_SCHEMA: string;
  DEBUG: boolean;
  NO_COLOR: boolean;
}

/** The settings every command uses. Reads .env first when `source` is the process environment. */
export function loadCoreConfig(source: NodeJS.ProcessEnv = envWithDotenv()): CoreConfig {
  const { values, problems } = readEnv("core", source);
  if (values.STORE === "postgres" && !values.DATABASE_URL && !problems.some((p) => p.startsWith("DATABASE_URL")))
    problems.push("STORE=postgres needs DATABASE_URL, such as postgresql://user:password@host:5432/citebot.");
  if (problems.length) throw new ConfigError(problems);
  return {
    CORPUS_DIR: values.CORPUS_DIR ?? path.join(PROJECT_ROOT, "corpus"),
    DATA_DIR: values.DATA_DIR ?? path.join(PROJECT_ROOT, "data"),
    EMBED_MODEL: values.EMBED_MODEL ?? DEFAULT_EMBED_MODEL,
    EMBED_REMOTE_HOST: values.EMBED_REMOTE_HOST,
    STORE: values.STORE ?? "files",
    DATABASE_URL: values.DATABASE_URL,
    PG_SCHEMA: values.PG_SCHEMA ?? "citebot",
    DEBUG: values.DEBUG !== undefined,
    NO_COLOR: values.NO_COLOR !== undefined,
  };
}

export interface LogConfig {
  level: (typeof LOG_LEVELS)[number];
  format: "pretty" | "json";
}

/** How the bot logs. `interactive`: whether the log goes to a terminal (the default format follows it). */
export function loadLogConfig(source: NodeJS.ProcessEnv = envWithDotenv(), interactive = process.stderr.isTTY === true): LogConfig {
  const { values, problems } = readEnv("log", source);
  if (problems.length) throw new ConfigError(problems);
  return { level: values.LOG_LEVEL ?? "info", format: values.LOG_FORMAT ?? (interactive ? "pretty" : "json") };
}

/** The bot's variables, parsed; the token is required. Throws ConfigError listing every problem. */
export function readBotEnv(source: NodeJS.ProcessEnv = envWithDotenv()): EnvValues<"bot"> & { DISCORD_TOKEN: string } {
  const { values, problems } = readEnv("bot", source);
  if (!source.DISCORD_TOKEN?.trim()) problems.unshift(`DISCORD_TOKEN is missing. ${TOKEN_HELP}`);
  if (problems.length) throw new ConfigError(problems);
  return values as EnvValues<"bot"> & { DISCORD_TOKEN: string };
}

function envWithDotenv(): NodeJS.ProcessEnv {
  loadDotenv();
  return process.env;
}

/** The variables of a group with their defaults and meaning, for --help. */
export function describeVariables(group: Variable["group"]): Array<{ name: string; default: string; help: string }> {
  return (Object.entries(VARIABLES) as Array<[VariableName, Variable]>)
    .filter(([, v]) => v.group === group)
    .map(([name, v]) => ({ name, default: v.default, help: v.help }));
}
