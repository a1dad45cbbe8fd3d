// The bot's structured logs, on stderr (stdout is reserved for answers). LOG_LEVEL and LOG_FORMAT are
// read through ./config.ts like every other variable. Tokens are redacted wherever they appear as fields.
import pino from "pino";
import pretty from "pino-pretty";
import { type LogConfig, loadLogConfig } from "./config.js";

export type Logger = pino.Logger;

const REDACT = { paths: ["token", "*.token", "config.discordToken", "*.authorization", "headers.authorization"], censor: "[redacted]" };

/** A logger writing to stderr: readable lines (`pretty`) or one JSON object per line (`json`). */
export function createLogger(config: LogConfig): Logger {
  const options = { level: config.level, redact: REDACT };
  if (config.format === "json") return pino(options, pino.destination(2));
  // pino-pretty as a stream in this thread (not a worker transport): nothing to resolve at run time
  // from the bundle, and lines are written before the process exits.
  return pino(options, pretty({ destination: 2, sync: true, ignore: "pid,hostname", translateTime: "SYS:HH:MM:ss" }));
}

let root: Logger | undefined;

/** The process's logger, made on first use (throws ConfigError when LOG_LEVEL or LOG_FORMAT is bad). */
export function rootLogger(): Logger {
  root ??= createLogger(loadLogConfig());
  return root;
}

/** Adds fields to every later line of the process's logger (a shard process: `{ shard: 1 }`). */
export function bindRootLogger(bindings: Record<string, unknown>): Logger {
  root = rootLogger().child(bindings);
  return root;
}
