// Shared pieces of the end-to-end suites: a real Citebot on the shipped corpus (opened once per file,
// index in a temp dir), a log capture, and predicates over the emulator's recorded requests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { expect } from "vitest";
import type { CitebotLike } from "../../src/bot/types.js";
import { Citebot } from "../../src/citebot.js";
import type { Logger } from "../../src/log.js";
import type { DiscordEmulator, RecordedRequest } from "./emulator.js";
import { messagePayloadProblems } from "./limits.js";

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CORPUS_DIR = path.join(PROJECT_ROOT, "corpus");

/** The tsx CLI, to run `src/cli.ts` as a child process. */
export const TSX = path.join(PROJECT_ROOT, "node_modules", "tsx", "dist", "cli.mjs");

/**
 * The environment for a `tsx src/cli.ts …` child: every bot variable set (empty unless given), so
 * a developer's .env can't leak in, and the Discord API on a closed loopback port unless a test
 * points it at its emulator.
 */
export function cliEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    DISCORD_TOKEN: "",
    DISCORD_CLIENT_ID: "",
    DISCORD_GUILD_ID: "",
    ANSWER_CHANNELS: "",
    ALLOWED_CHANNELS: "",
    ALLOWED_ROLES: "",
    MESSAGE_CONTENT_INTENT: "",
    ANSWER_IN_THREAD: "",
    RATE_LIMIT_MAX: "",
    RATE_LIMIT_WINDOW_SECONDS: "",
    ANSWER_EXCERPTS: "",
    QUEUE_CONCURRENCY: "",
    QUEUE_MAX: "",
    HEALTH_PORT: "",
    HEALTH_HOST: "",
    INDEX_WATCH: "",
    SHUTDOWN_TIMEOUT_SECONDS: "",
    DISCORD_SHARDS: "",
    DISCORD_API_URL: "http://127.0.0.1:9/api", // never Discord, even if a test forgets to set it
    CORPUS_DIR,
    EMBED_MODEL: "",
    LOG_LEVEL: "info",
    ...env,
  };
}

/** Opens the real core on corpus/ with its index built in a fresh temp dir. */
export async function openCitebot(): Promise<{ citebot: Citebot; dataDir: string; cleanup(): void }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "citebot-e2e-"));
  const citebot = await Citebot.open({ corpusDir: CORPUS_DIR, dataDir });
  return { citebot, dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}

export interface LogCapture {
  logger: Logger;
  lines: Array<Record<string, unknown> & { level: number; msg?: string }>;
  raw: string[];
}

export function captureLogs(): LogCapture {
  const lines: LogCapture["lines"] = [];
  const raw: string[] = [];
  const logger = pino(
    { level: "debug", redact: { paths: ["token", "*.token"], censor: "[redacted]" } },
    {
      write(s: string) {
        raw.push(s);
        lines.push(JSON.parse(s));
      },
    },
  );
  return { logger, lines, raw };
}

export const isCreateMessage = (r: RecordedRequest) => r.method === "POST" && /^\/channels\/\d+\/messages$/.test(r.path);
export const isTyping = (r: RecordedRequest) => r.method === "POST" && /^\/channels\/\d+\/typing$/.test(r.path);
/** The bot's reply (a created message referencing `messageId`). */
export const replyTo = (messageId: string) => (r: RecordedRequest) =>
  isCreateMessage(r) && r.status === 200 && r.body?.message_reference?.message_id === messageId;

/** Requests that carry a message the user will see (create, interaction message/update, edit, follow-up). */
export function carriesMessage(r: RecordedRequest): boolean {
  if (isCreateMessage(r)) return true;
  if (/^\/interactions\/\d+\/[^/]+\/callback$/.test(r.path)) return [4, 7].includes(r.body?.type);
  if (r.path.startsWith("/webhooks/")) return r.method === "PATCH" || r.method === "POST";
  return false;
}

/** The message data of such a request (callbacks wrap it in `data`). */
export function messageData(r: RecordedRequest): any {
  return r.path.includes("/callback") ? r.body?.data : r.body;
}

export function expectNoPings(r: RecordedRequest): void {
  const data = messageData(r);
  expect(data.allowed_mentions, `${r.method} ${r.path} must set allowed_mentions`).toBeDefined();
  expect(data.allowed_mentions.parse).toEqual([]);
  expect(data.allowed_mentions.users ?? []).toEqual([]);
  expect(data.allowed_mentions.roles ?? []).toEqual([]);
}

export function expectWithinLimits(r: RecordedRequest): void {
  expect(messagePayloadProblems(messageData(r))).toEqual([]);
}

/** Visible text of an embed description: markdown escapes, bold markers and zero-width spaces removed. */
export function unmarkdown(s: string): string {
  return s
    .replace(/\*\*/g, "")
    .replace(/\\(.)/g, "$1")
    .replace(/\u200b/g, "");
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it holds (or fails after `timeoutMs`). */
export async function waitUntil(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Checks that a rendered excerpt shows only whole-word stretches of `context` (cuts marked "…"),
 * and returns whether anything was cut.
 */
export function expectWholeWordStretches(description: string, rawContext: string): boolean {
  const context = rawContext.replace(/\s+/g, " ").trim();
  const parts = unmarkdown(description).split(/ ?… ?/).filter(Boolean);
  for (const part of parts) {
    const at = context.indexOf(part);
    expect(at, `"${part.slice(0, 60)}…" comes from the excerpt`).toBeGreaterThanOrEqual(0);
    const before = context[at - 1];
    const after = context[at + part.length];
    expect(before === undefined || /\s/.test(before), `starts at a word boundary: "${part.slice(0, 30)}"`).toBe(true);
    expect(after === undefined || /\s/.test(after), `ends at a word boundary: "${part.slice(-30)}"`).toBe(true);
  }
  return parts.join(" ").length < context.length;
}

/**
 * The real core with another `answer` (to inject slowness or failures); everything else, live
 * updates included, goes to the real instance.
 */
export function withAnswer(c: Citebot, answer: CitebotLike["answer"], overrides: Partial<CitebotLike> = {}): CitebotLike {
  const core: CitebotLike = {
    answer,
    articles: () => c.articles(),
    article: (id) => c.article(id),
    findArticles: (q, l) => c.findArticles(q, l),
    passages: (id) => c.passages(id),
    excerpt: (id, n) => c.excerpt(id, n),
    searchArticle: (id, q) => c.searchArticle(id, q),
  };
  // Copied as properties, so that an override's getter (e.g. a live `version`) stays a getter.
  return Object.defineProperties(core, Object.getOwnPropertyDescriptors(overrides));
}

/**
 * A readable transcript of an exchange in the emulator: the users' messages (by id) and the bot's
 * messages and interaction responses, as text (embeds as "[title] description" lines), in order.
 */
export function transcript(
  emu: DiscordEmulator,
  messageIds: string[],
  ...interactions: Array<{ id: string; token: string; user: { username: string }; payload: any }>
): string {
  const lines: string[] = [];
  const show = (who: string, m: any) => {
    lines.push(`${who}: ${m.content ?? ""}`.trimEnd());
    for (const e of m.embeds ?? [])
      lines.push(
        `    [${unmarkdown(e.title ?? "")}] ${unmarkdown(e.description ?? "")
          .replace(/\s+/g, " ")
          .slice(0, 220)}${e.footer ? ` — ${e.footer.text}` : ""}`,
      );
    for (const row of m.components ?? []) lines.push(`    (buttons: ${row.components.map((c: any) => c.label).join(", ")})`);
  };
  for (const id of messageIds) {
    const m = emu.messages.get(id);
    if (m) show(`${m.author.username} in #${emu.channelName(m.channel_id)}${m.message_reference ? ` (reply to ${m.message_reference.message_id})` : ""}`, m);
  }
  for (const ia of interactions) {
    const d = ia.payload.data;
    lines.push(`${ia.user.username}: [${d.type === 3 ? `message menu → Apps → ${d.name} on message ${d.target_id}` : `/${d.name}`}]`);
    for (const r of emu.requestsFor(ia)) {
      if (r.status >= 300) continue;
      const body = r.path.endsWith("/callback") ? { ...r.body.data, type: r.body.type } : r.body;
      if (r.path.endsWith("/callback") && r.body.type === 5) lines.push(`citebot: (thinking…${r.body.data?.flags & 64 ? ", only you can see this" : ""})`);
      else if (body.content !== undefined || body.embeds) show(`citebot${(r.response?.flags ?? body.flags ?? 0) & 64 ? " (only you can see this)" : ""}`, body);
    }
  }
  return lines.join("\n");
}
