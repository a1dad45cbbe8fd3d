// Errors as log fields. discord.js REST errors carry the request URL and body; an interaction's URL
// holds its token (which can post as the bot for 15 minutes), so they are logged without it.

const TOKEN_IN_PATH = /\/(webhooks|interactions)\/(\d+)\/[^/?\s]+/g;

/** Secrets known at run time (the bot token): cut out of every error text and URL that is logged. */
const knownSecrets = new Set<string>();

export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 8) knownSecrets.add(secret);
}

export function redactSecrets(s: string): string {
  for (const secret of knownSecrets) if (s.includes(secret)) s = s.split(secret).join("[token]");
  return s
    .replace(TOKEN_IN_PATH, "/$1/$2/[token]")
    .replace(/\b(Bot|Bearer)\s+[\w.-]{20,}/g, "$1 [token]")
    .replace(/[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}/g, "[token]");
}

export interface ErrInfo {
  type: string;
  message: string;
  code?: unknown;
  status?: unknown;
  method?: string;
  url?: string;
  stack?: string;
  cause?: ErrInfo;
}

/** A log-safe summary of any thrown value (no request bodies, tokens cut out of URLs and text). */
export function errInfo(err: unknown, depth = 0): ErrInfo {
  if (!(err instanceof Error)) return { type: typeof err, message: redactSecrets(String(err)) };
  const e = err as Error & { code?: unknown; status?: unknown; method?: unknown; url?: unknown };
  return {
    type: e.name,
    message: redactSecrets(e.message),
    ...(e.code !== undefined && { code: e.code }),
    ...(e.status !== undefined && { status: e.status }),
    ...(typeof e.method === "string" && { method: e.method }),
    ...(typeof e.url === "string" && { url: redactSecrets(e.url) }),
    ...(e.stack && { stack: redactSecrets(e.stack) }),
    ...(e.cause !== undefined && depth < 2 && { cause: errInfo(e.cause, depth + 1) }),
  };
}
