// A burst of questions from many users across channels, DMs and /ask, sent to a bot through the
// emulator, and the accounting of what became of each one: every question must end in exactly one
// reply (answer, "slow down", "busy", refusal, apology) or, for the rest of a rate-limited burst, a
// "rate limited" log line for that message. Shared by the load e2e test (small) and `npm run soak`.

import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import type { DiscordEmulator, EmuUser, RecordedRequest } from "./emulator.js";
import type { LogCapture } from "./helpers.js";

export const LOAD_QUESTIONS = [
  "What did Antonov say about the Geneva summit?",
  "Who met in Geneva?",
  "What is the mechanism for expert dialogue on cybersecurity supposed to focus on?",
  "What did Ryabkov say about the strategic stability talks?",
  "When will the next round of strategic stability consultations take place?",
  "What did the Russian ambassador say about arms control?",
  "What did Peskov say about the talks?",
  "whats the current price of bitcoin",
];

export type Surface = "mention" | "dm" | "ask";
/** "undelivered": the gateway never handed the question to the bot (sent while it had no session: Discord drops those too). */
export type Outcome = "answer" | "slow-down" | "rate-limited-silent" | "busy" | "refused" | "apology" | "restarting" | "undelivered" | "lost";

export interface Sent {
  i: number;
  surface: Surface;
  user: EmuUser;
  question: string;
  sentAt: number;
  /** Message id (mention, dm) or interaction id (ask). */
  id: string;
  token?: string;
}

export interface Result extends Sent {
  outcome: Outcome;
  /** Distinct messages the user saw for this question (must be 1, or 0 for a silent rate limit). */
  deliveries: number;
  repliedAt?: number;
}

export interface LoadOptions {
  users: number;
  questions: number;
  /** Spread the sends over this long (ms). */
  spreadMs: number;
  /** Wait at most this long for the last outcome (ms). */
  settleTimeoutMs?: number;
  channels?: string[];
}

export interface LoadReport {
  sent: number;
  counts: Record<Outcome, number>;
  bySurface: Record<Surface, number>;
  duplicates: number;
  lost: number;
  durationMs: number;
  /** Answers delivered per second, from the first question to the last answer. */
  throughput: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  results: Result[];
}

const ANSWER = /^(Here is what the articles say about|The articles don't cover|More from the articles)/;

function classify(content: string, embeds: unknown[] | undefined): Exclude<Outcome, "lost" | "rate-limited-silent"> {
  if (embeds?.length || ANSWER.test(content)) return "answer";
  if (/^Slow down a little/.test(content)) return "slow-down";
  if (/^I'm busy answering/.test(content)) return "busy";
  if (/^I'm restarting/.test(content)) return "restarting";
  if (/^Sorry, something went wrong/.test(content)) return "apology";
  return "refused";
}

const isReplyTo = (id: string) => (r: RecordedRequest) =>
  r.method === "POST" && /^\/channels\/\d+\/messages$/.test(r.path) && r.status === 200 && r.body?.message_reference?.message_id === id;

/** What became of one question, from the emulator's records and the bot's logs. */
export function resultOf(emu: DiscordEmulator, _logs: LogCapture, s: Sent, silent: ReadonlySet<string>): Result {
  if (s.surface === "ask") {
    const reqs = emu.requestsFor({ id: s.id, token: s.token! });
    const acks = reqs.filter((r) => r.path.endsWith("/callback") && r.status < 300);
    const notice = acks.find((r) => r.body?.type === 4);
    const edits = reqs.filter((r) => r.method === "PATCH" && r.path.endsWith("/messages/@original") && r.status === 200);
    const final = notice
      ? { content: notice.body.data?.content ?? "", embeds: notice.body.data?.embeds, at: notice.at }
      : edits.at(-1) && { content: edits.at(-1)!.body.content ?? "", embeds: edits.at(-1)!.body.embeds, at: edits.at(-1)!.at };
    // An interaction answered twice would show as a second acknowledgement or a follow-up.
    const followUps = reqs.filter((r) => r.method === "POST" && r.path.startsWith("/webhooks/") && r.status === 200).length;
    const deliveries = (final ? 1 : 0) + Math.max(0, acks.length - 1) + followUps;
    return {
      ...s,
      outcome: final ? classify(final.content, final.embeds) : emu.deliveredIds.has(s.id) ? "lost" : "undelivered",
      deliveries,
      repliedAt: final?.at,
    };
  }
  const replies = emu.requests.filter(isReplyTo(s.id));
  const distinct = new Set(replies.map((r) => r.response?.id));
  const first = replies[0];
  if (first) return { ...s, outcome: classify(first.body.content ?? "", first.body.embeds), deliveries: distinct.size, repliedAt: first.at };
  if (silent.has(s.id)) return { ...s, outcome: "rate-limited-silent", deliveries: 0 };
  return { ...s, outcome: emu.deliveredIds.has(s.id) ? "lost" : "undelivered", deliveries: 0 };
}

/** Message ids the bot logged as rate-limited without a reply (the rest of a burst after one "slow down"). */
export function silentlyLimited(logs: LogCapture): Set<string> {
  return new Set(
    logs.lines.filter((l) => l.outcome === "rate-limited" && l.notify === false && typeof l.messageId === "string").map((l) => l.messageId as string),
  );
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0);

/** Sends the burst and waits until every question has an outcome (or the timeout). */
export async function runLoad(emu: DiscordEmulator, logs: LogCapture, opts: LoadOptions): Promise<LoadReport> {
  const users = Array.from({ length: opts.users }, (_, i) => emu.addUser(`load${Date.now().toString(36)}u${i}`));
  const channels = opts.channels ?? [emu.channels.general.id, emu.channels.news.id];
  const sent: Sent[] = [];
  const start = Date.now();
  const perTick = Math.max(1, Math.ceil(opts.questions / Math.max(1, opts.spreadMs / 20)));
  for (let i = 0; i < opts.questions; ) {
    for (let k = 0; k < perTick && i < opts.questions; k++, i++) {
      const user = users[i % users.length]!;
      const question = `${LOAD_QUESTIONS[i % LOAD_QUESTIONS.length]}`;
      // every user asks through every surface in turn (2 mentions, 2 DMs, 1 /ask in 5)
      const surface: Surface = (["mention", "dm", "mention", "dm", "ask"] as const)[(i + Math.floor(i / users.length)) % 5]!;
      const sentAt = Date.now();
      if (surface === "ask") {
        const ia = emu.sendSlashCommand({ name: "ask", options: { question }, user, channelId: channels[i % channels.length] });
        sent.push({ i, surface, user, question, sentAt, id: ia.id, token: ia.token });
      } else if (surface === "dm") {
        const m = emu.sendDM({ author: user, content: question });
        sent.push({ i, surface, user, question, sentAt, id: m.id });
      } else {
        const m = emu.sendMessage({ author: user, channelId: channels[i % channels.length], content: question, mentionBot: true });
        sent.push({ i, surface, user, question, sentAt, id: m.id });
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // Settle: every question has an outcome, and nothing new has arrived for a moment.
  const deadline = Date.now() + (opts.settleTimeoutMs ?? 60_000);
  let results: Result[] = [];
  let undelivered = -1;
  let undeliveredSince = Date.now();
  for (;;) {
    const silent = silentlyLimited(logs);
    results = sent.map((s) => resultOf(emu, logs, s, silent));
    const waiting = results.filter((r) => r.outcome === "lost").length;
    const notYet = results.filter((r) => r.outcome === "undelivered").length;
    if (notYet !== undelivered) [undelivered, undeliveredSince] = [notYet, Date.now()];
    // Delivered questions are waited for; undelivered ones only while a RESUME might still replay them.
    if (waiting === 0 && (notYet === 0 || Date.now() - undeliveredSince > 5000)) break;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300)); // late duplicates would show up here
  const silent = silentlyLimited(logs);
  results = sent.map((s) => resultOf(emu, logs, s, silent));

  const counts = { answer: 0, "slow-down": 0, "rate-limited-silent": 0, busy: 0, refused: 0, apology: 0, restarting: 0, undelivered: 0, lost: 0 } as Record<
    Outcome,
    number
  >;
  const bySurface = { mention: 0, dm: 0, ask: 0 } as Record<Surface, number>;
  for (const r of results) {
    counts[r.outcome]++;
    bySurface[r.surface]++;
  }
  const answered = results.filter((r) => r.outcome === "answer");
  const latencies = answered.map((r) => r.repliedAt! - r.sentAt).sort((a, b) => a - b);
  const end = Math.max(start + 1, ...answered.map((r) => r.repliedAt!));
  return {
    sent: sent.length,
    counts,
    bySurface,
    duplicates: results.filter((r) => r.deliveries > 1).length,
    lost: counts.lost,
    durationMs: end - start,
    throughput: answered.length / ((end - start) / 1000),
    latencyMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 },
    results,
  };
}

let gcFn: (() => void) | undefined;
/** A full garbage collection (exposes V8's gc() if the process was not started with --expose-gc). */
export function fullGc(): void {
  if (!gcFn) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gcFn = g;
    else {
      v8.setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    }
  }
  gcFn();
  gcFn();
}

/** Heap in use after a full GC (MB). */
export async function settledHeapMb(): Promise<number> {
  await new Promise((r) => setTimeout(r, 50));
  fullGc();
  await new Promise((r) => setImmediate(r));
  fullGc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

export function formatReport(label: string, r: LoadReport): string {
  const c = r.counts;
  return [
    `${label}: ${r.sent} questions (${r.bySurface.mention} mentions, ${r.bySurface.dm} DMs, ${r.bySurface.ask} /ask)`,
    `  answered ${c.answer}, rate-limited ${c["slow-down"] + c["rate-limited-silent"]} (${c["slow-down"]} told "slow down", ${c["rate-limited-silent"]} rest of burst, logged), busy ${c.busy}, refused ${c.refused}, apologies ${c.apology}, lost ${r.lost}, answered twice ${r.duplicates}${c.undelivered ? `; ${c.undelivered} never reached the bot (sent while it had no gateway session)` : ""}`,
    `  ${r.throughput.toFixed(1)} answers/s over ${(r.durationMs / 1000).toFixed(1)} s; latency p50 ${r.latencyMs.p50} ms, p90 ${r.latencyMs.p90} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
  ].join("\n");
}
