// Sharding: `citebot bot --shards auto|N` (or DISCORD_SHARDS) runs discord.js's ShardingManager over
// the citebot command itself (bin/citebot.js, which runs the bundle in dist/ and rebuilds it when
// src/ is newer), one process per shard. Each shard process is an ordinary `citebot bot` that
// discord.js tells its shard id through the environment (SHARDING_MANAGER, SHARDS, SHARD_COUNT);
// its Client then identifies with `shard: [id, count]`, and Discord sends it only the events of the
// servers routed to it ((guild_id >> 22) % count) and, on shard 0, the DMs.
//
// What lives where (each shard process has its own copy of everything in memory):
// - The index is built once, by the manager, before any shard starts; the shards only load it (and
//   follow later rebuilds on disk, as one process does). The manager builds in a child process (the
//   isolated build /reindex uses, under the same INDEX_BUILD_* limits), so it never holds the model
//   or the index itself. Two builds could still meet only if the corpus changed in the seconds
//   between: builds go to separate folders and switch atomically, so that costs time, never a
//   broken index.
// - Rate limits, "More" pages, conversation memory and the work queue are per shard, and that is
//   right: a server's messages, buttons and follow-ups always reach the same shard (DMs: shard 0), so
//   each state is only ever needed where it was made. The one effect: a member of several servers on
//   different shards has a rate-limit budget per shard (each shard also has its own queue and CPU).
// - Feedback votes go to the one SQLite file (DATA_DIR/feedback.sqlite), written by every shard:
//   WAL mode, a 5 s busy timeout (better-sqlite3's default) and write transactions that take the
//   write lock up front (see feedback.ts) make that safe.
import path from "node:path";
import { REST, Routes, type Shard, ShardingManager } from "discord.js";
import { loadCoreConfig } from "../config.js";
import { buildInChild, buildLimits, type ChildBuildResult } from "../index/isolated.js";
import { indexDirFor } from "../index/store.js";
import type { Logger } from "../log.js";
import { PROJECT_ROOT } from "../paths.js";
import type { BotConfig } from "./config.js";

/** Discord allows `max_concurrency` IDENTIFYs per this long (one bucket per shard id % max_concurrency). */
export const IDENTIFY_INTERVAL_MS = 5500;

/** The command each shard process runs: the same `citebot` entry as `npx citebot bot`. */
export const SHARD_ENTRY = path.join(PROJECT_ROOT, "bin", "citebot.js");

/** The IPC message the manager sends a shard to stop it cleanly (answers in progress are finished first). */
export const STOP_MESSAGE = { citebot: "stop" } as const;

export interface ShardIdentity {
  id: number;
  count: number;
}

/** This process's shard when the ShardingManager started it (discord.js sets these variables); else undefined. */
export function shardOfProcess(env: NodeJS.ProcessEnv = process.env): ShardIdentity | undefined {
  if (env.SHARDING_MANAGER !== "true") return undefined;
  const id = Number(env.SHARDS);
  const count = Number(env.SHARD_COUNT);
  if (!Number.isInteger(id) || !Number.isInteger(count) || id < 0 || count < 1 || id >= count) return undefined;
  return { id, count };
}

/** Discord's routing: the shard that receives a server's events; DMs (no server) go to shard 0. */
export function shardForGuild(guildId: string | null | undefined, count: number): number {
  if (!guildId) return 0;
  return Number((BigInt(guildId) >> 22n) % BigInt(count));
}

/** A sharded start that failed; the message is meant for people. */
export class ShardStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ShardStartError";
  }
}

export interface GatewayInfo {
  /** Discord's recommended number of shards. */
  shards: number;
  /** IDENTIFYs allowed at once (per 5 s). */
  maxConcurrency: number;
  /** Sessions the bot may still start before `resetAfterMs`. */
  remaining: number;
  resetAfterMs: number;
}

/**
 * GET /gateway/bot with the bot's token, through DISCORD_API_URL when set (discord.js's own
 * `fetchRecommendedShardCount` always asks discord.com). Also checks the token before any shard starts.
 */
export async function fetchGatewayInfo(config: Pick<BotConfig, "token" | "apiUrl">): Promise<GatewayInfo> {
  const rest = new REST({ version: "10", ...(config.apiUrl && { api: config.apiUrl }), retries: 2 }).setToken(config.token);
  try {
    const r = (await rest.get(Routes.gatewayBot())) as {
      shards: number;
      session_start_limit: { remaining: number; reset_after: number; max_concurrency: number };
    };
    return {
      shards: Math.max(1, r.shards),
      maxConcurrency: Math.max(1, r.session_start_limit.max_concurrency),
      remaining: r.session_start_limit.remaining,
      resetAfterMs: r.session_start_limit.reset_after,
    };
  } finally {
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
  }
}

/**
 * Builds the index when it is missing or stale (or finds it up to date), in a child process, so the
 * shards only have to load it. Logs progress, skipped files and the outcome; rejects when the build
 * fails (BuildFailedError, with the stage it was on).
 */
export async function prepareIndex(corpusDir: string | undefined, log: Logger): Promise<ChildBuildResult> {
  const core = loadCoreConfig();
  const corpus = path.resolve(corpusDir ?? core.CORPUS_DIR);
  const { limits, problems } = buildLimits();
  for (const p of problems) log.warn(p);
  log.info({ corpus }, "checking the index (built in a child process when missing or stale)");
  let lastStage = "";
  const result = await buildInChild(
    { corpusDir: corpus, indexDir: indexDirFor(core.DATA_DIR, corpus), model: core.EMBED_MODEL, remoteHost: core.EMBED_REMOTE_HOST },
    {
      limits,
      onStage: (stage) => log.debug({ stage }, "index build stage"),
      onProgress: (done, total, stage) => {
        if (stage !== lastStage || done === total) log.info({ stage, done, total }, "index progress");
        lastStage = stage;
      },
    },
  );
  for (const f of result.skipped) log.warn({ file: f.file, reason: f.reason }, "skipped a corpus file");
  log.info({ index: result.index, reason: result.reason }, result.index === "built" ? "index built" : "index loaded");
  return result;
}

export interface ShardManagerOptions {
  config: BotConfig;
  /** How many shards: a number, or "auto" for Discord's recommendation. */
  shards: "auto" | number;
  log: Logger;
  /** Arguments after the entry for every shard (default: `bot`, plus `--corpus <dir>` when given). */
  corpusDir?: string;
  /** The script each shard runs (default: bin/citebot.js). */
  entry?: string;
  /** How long a shard may take to load the index and connect (default 10 min: large indexes load slowly). */
  spawnTimeoutMs?: number;
  /** GET /gateway/bot's answer when the caller already asked (default: asked here). */
  gateway?: GatewayInfo;
}

export interface ShardManagerHandle {
  manager: ShardingManager;
  count: number;
  /** Stops every shard cleanly (each finishes its answers in progress), then resolves. */
  stop(): Promise<void>;
}

/**
 * Starts the shards one after the other, each once the previous one is connected (spaced as Discord's
 * IDENTIFY limit requires), and restarts a shard process that dies afterwards. Rejects with a
 * ShardStartError when a shard can't start (its own message, e.g. a refused intent, is on stderr).
 */
export async function runShardManager(opts: ShardManagerOptions): Promise<ShardManagerHandle> {
  const { config, log } = opts;
  const info = opts.gateway ?? (await fetchGatewayInfo(config));
  const count = opts.shards === "auto" ? info.shards : opts.shards;
  if (info.remaining < count) {
    throw new ShardStartError(
      `Discord allows ${info.remaining} more gateway session${info.remaining === 1 ? "" : "s"} for this bot until ${new Date(Date.now() + info.resetAfterMs).toISOString()}, fewer than the ${count} shards asked for. Try again after that time.`,
    );
  }
  // Shards in the same IDENTIFY bucket must start 5 s apart; when every shard has its own bucket they need not wait.
  const delay = info.maxConcurrency >= count ? 0 : IDENTIFY_INTERVAL_MS;
  const spawnTimeoutMs = opts.spawnTimeoutMs ?? 10 * 60_000;
  const shardArgs = ["bot", ...(opts.corpusDir ? ["--corpus", path.resolve(opts.corpusDir)] : [])];
  const manager = new ShardingManager(opts.entry ?? SHARD_ENTRY, {
    totalShards: count,
    mode: "process",
    respawn: false, // on only once every shard has started: a shard that can't start must not loop
    shardArgs,
    execArgv: [],
    token: config.token,
  });
  let stopping = false;
  manager.on("shardCreate", (shard: Shard) => {
    log.info({ shardId: shard.id, shards: count }, "starting shard");
    shard.on("ready", () => log.info({ shardId: shard.id }, "shard connected"));
    shard.on("reconnecting", () => {
      if (!stopping) log.info({ shardId: shard.id }, "shard reconnecting");
    });
    shard.on("death", (child) => {
      const code = "exitCode" in child ? child.exitCode : undefined;
      if (stopping) log.info({ shardId: shard.id, code }, "shard exited");
      else if (manager.respawn) log.error({ shardId: shard.id, code }, "shard process exited; starting it again");
      else log.error({ shardId: shard.id, code }, "shard process exited");
    });
    shard.on("error", (err: Error) => log.error({ shardId: shard.id, err: { message: err.message } }, "shard error"));
  });
  log.info({ shards: count, recommended: info.shards, maxConcurrency: info.maxConcurrency, delayMs: delay }, "starting the shards");
  const stopAll = async (): Promise<void> => {
    stopping = true;
    manager.respawn = false;
    const graceMs = config.shutdownTimeoutMs + 10_000;
    await Promise.all(
      [...manager.shards.values()].map(async (shard) => {
        const child = shard.process;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        // A clean stop through IPC; a shard that no longer listens is ended by signal.
        if (child.connected) child.send(STOP_MESSAGE, () => undefined);
        else child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<"late">((resolve) => {
          timer = setTimeout(() => resolve("late"), graceMs);
        });
        if ((await Promise.race([exited, late])) === "late") {
          log.warn({ shardId: shard.id }, "shard did not stop in time; killing it");
          child.kill("SIGKILL");
          await exited;
        }
        clearTimeout(timer);
      }),
    );
  };
  try {
    await manager.spawn({ amount: count, delay, timeout: spawnTimeoutMs });
  } catch (err) {
    await stopAll();
    const e = err as { code?: string; message?: string };
    const failed = [...manager.shards.values()].find((s) => !s.ready)?.id;
    const which = failed === undefined ? "A shard" : `Shard ${failed}`;
    if (e.code === "ShardingReadyDied") throw new ShardStartError(`${which} of ${count} stopped before it connected (its reason is above).`, { cause: err });
    if (e.code === "ShardingReadyTimeout")
      throw new ShardStartError(`${which} of ${count} did not connect within ${Math.round(spawnTimeoutMs / 1000)} s.`, { cause: err });
    if (e.code === "ShardingReadyDisconnected")
      throw new ShardStartError(`${which} of ${count} was disconnected before it was ready (its reason is above).`, { cause: err });
    throw err;
  }
  manager.respawn = true;
  log.info({ shards: count }, "all shards connected");
  let stopped: Promise<void> | undefined;
  return {
    manager,
    count,
    stop() {
      stopped ??= stopAll();
      return stopped;
    },
  };
}
