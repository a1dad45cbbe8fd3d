// Connecting to PostgreSQL: the pool, friendly connection errors, and a connection string that can
// be shown (the password never appears in a message or a log line).
import pg from "pg";

export class PgStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PgStoreError";
  }
}

/** Splits a connection string around its password (userinfo's, or a `password=` parameter). */
function passwordSpans(url: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  const scheme = url.indexOf("://");
  if (scheme >= 0) {
    const rest = url.slice(scheme + 3);
    const q = rest.search(/[?#]/);
    const authorityAndPath = q >= 0 ? rest.slice(0, q) : rest;
    const at = authorityAndPath.lastIndexOf("@");
    if (at >= 0) {
      const colon = authorityAndPath.slice(0, at).indexOf(":");
      if (colon >= 0 && colon + 1 < at) spans.push([scheme + 3 + colon + 1, scheme + 3 + at]);
    }
  }
  for (const m of url.matchAll(/[?&]password=([^&#]*)/gi)) if (m[1]) spans.push([m.index! + m[0].length - m[1].length, m.index! + m[0].length]);
  return spans.sort((a, b) => a[0] - b[0]);
}

/** `url` with its password (in the user info or a `password=` parameter) replaced by ***. Works on socket URLs (empty host) too. */
export function redactUrl(url: string): string {
  let out = "";
  let pos = 0;
  for (const [s, e] of passwordSpans(url)) {
    out += `${url.slice(pos, s)}***`;
    pos = e;
  }
  return out + url.slice(pos);
}

/** The passwords a connection string carries, raw and decoded (to scrub them from driver messages). */
function passwordsOf(url: string | undefined): string[] {
  if (!url) return [];
  return passwordSpans(url).flatMap(([s, e]) => {
    const raw = url.slice(s, e);
    let decoded = raw;
    try {
      decoded = decodeURIComponent(raw);
    } catch {}
    return [raw, decoded];
  });
}

export function scrub(message: string, url: string | undefined): string {
  let out = message;
  for (const secret of passwordsOf(url)) if (secret.length > 0) out = out.split(secret).join("***");
  return out;
}

/** Where a pool connects to, for messages: the redacted URL or host/database of a config. */
export function describeTarget(config: pg.PoolConfig): string {
  if (config.connectionString) return redactUrl(config.connectionString);
  return `${config.host ?? "localhost"}:${config.port ?? 5432}/${config.database ?? ""}`;
}

/** Turns a failed first connection into one line that says what to check, without the password. */
export function connectionError(err: unknown, config: pg.PoolConfig): PgStoreError {
  const e = err as { code?: string; message?: string };
  const target = describeTarget(config);
  let reason = scrub(e.message ?? String(err), config.connectionString);
  if (typeof config.password === "string" && config.password) reason = reason.split(config.password).join("***");
  const hint =
    e.code === "ECONNREFUSED" || e.code === "ENOENT"
      ? "is the server running, and is the host/port right?"
      : e.code === "28P01" || e.code === "28000"
        ? "check the user name and password."
        : e.code === "3D000"
          ? "create the database first (createdb)."
          : e.code === "ENOTFOUND" || e.code === "EAI_AGAIN"
            ? "the host name does not resolve."
            : "check DATABASE_URL.";
  return new PgStoreError(`Cannot connect to PostgreSQL at ${target}: ${reason} (${hint})`, { cause: err });
}

/** A pool config from a connection string or a config; throws PgStoreError on an unusable string. */
export function poolConfig(source: { url?: string; pool?: pg.PoolConfig }, max: number): pg.PoolConfig {
  if (source.pool) return { max, ...source.pool };
  const url = source.url?.trim();
  if (!url) throw new PgStoreError("No PostgreSQL connection given: set DATABASE_URL (postgresql://user:password@host:5432/database).");
  if (!/^postgres(ql)?:\/\//i.test(url)) throw new PgStoreError(`DATABASE_URL must start with postgresql:// or postgres:// (got ${redactUrl(url)}).`);
  return { connectionString: url, max };
}

/** Quotes an identifier for SQL. */
export const ident = (name: string) => pg.escapeIdentifier(name);
