import pino from "pino";

/** Structured logs on stderr (stdout is reserved for answers). Tokens are redacted wherever they appear as fields. */
export const log = pino(
  {
    level: process.env.LOG_LEVEL ?? "info",
    redact: { paths: ["token", "*.token", "config.discordToken", "*.authorization", "headers.authorization"], censor: "[redacted]" },
  },
  pino.destination(2),
);

export type Logger = typeof log;
