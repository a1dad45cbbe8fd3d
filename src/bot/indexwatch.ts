// Live index updates. `npm run index` (or any other process) writes a new version of the index
// through the store; the running bot hears of it (the store's watch, plus its own poll of the
// store's probe as a fallback: events can be missed, and the index may be deleted and come back)
// and *loads* the new version — it never builds — then swaps it in between two answers (a question
// in flight finishes on the snapshot it started with). If the index on disk vanishes, is damaged,
// or a new version can't be loaded, the bot logs it and keeps answering from the index in memory.
// `/reindex` goes through here too, so a watch-triggered load and a rebuild never run at the same time.
import type { OpenStatus } from "../citebot.js";
import { type BuildLimits, buildLimits } from "../index/isolated.js";
import type { Logger } from "../log.js";
import { errInfo } from "./errors.js";
import type { BotMetrics } from "./metrics.js";
import type { CitebotLike } from "./types.js";

export type DiskState = "ok" | "missing" | "damaged" | "unknown";

type Reloadable = CitebotLike & Required<Pick<CitebotLike, "version" | "reloadIndex">>;

export function isReloadable(c: CitebotLike): c is Reloadable {
  return typeof c.reloadIndex === "function" && typeof c.version === "string";
}

export interface IndexKeeperOptions {
  /** Polling interval (ms); fs.watch events trigger a check sooner. Default 2000. */
  pollMs?: number;
  /** Wait this long after a watch event before checking (a rebuild touches several files). Default 150. */
  debounceMs?: number;
  /** Limits of a /reindex build (its child process); defaults and INDEX_BUILD_* variables otherwise. */
  build?: Partial<BuildLimits>;
}

export class IndexKeeper {
  disk: DiskState = "unknown";
  /** A /reindex is in progress. */
  rebuilding = false;
  private chain: Promise<unknown> = Promise.resolve();
  /** A version that failed to load: not retried until the store serves another. */
  private failedVersion: string | undefined;
  private poll: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly pollMs: number;
  private readonly debounceMs: number;
  /** The store's watch reported a change since the last check. */
  private heard = false;

  constructor(
    private readonly citebot: Reloadable,
    private readonly log: Logger,
    private readonly metrics?: BotMetrics,
    opts: IndexKeeperOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 2000;
    this.debounceMs = opts.debounceMs ?? 150;
    this.buildOverrides = opts.build ?? {};
  }

  private readonly buildOverrides: Partial<BuildLimits>;

  get indexDir(): string | undefined {
    return this.citebot.indexDir;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.poll = setInterval(() => void this.check(), this.pollMs);
    this.poll.unref();
    this.unwatch = this.citebot.watchIndex?.(() => this.schedule());
    this.log.info({ indexDir: this.indexDir, pollMs: this.pollMs }, "watching the index for rebuilds");
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Looks at the index on disk once: loads a new build, or notes that it is gone or damaged. Serialized. */
  check(): Promise<void> {
    return this.serialize(() => this.checkNow());
  }

  /**
   * /reindex: re-read the corpus and rebuild if it changed, serialized with the watcher. The build
   * runs in a child process with a memory ceiling and a time limit when the core supports it
   * (Citebot.rebuild); a failed or killed build rejects, and the index in memory stays in use.
   */
  reindex(): Promise<OpenStatus> {
    const { rebuild, reload } = this.citebot;
    if (!rebuild && !reload) return Promise.reject(new Error("this bot's core cannot rebuild its index"));
    this.rebuilding = true;
    return this.serialize(async () => {
      try {
        let status: OpenStatus;
        if (rebuild) {
          const { limits, problems } = buildLimits(this.buildOverrides);
          for (const p of problems) this.log.warn(p);
          this.log.info({ memoryMb: limits.memoryMb, timeoutS: Math.round(limits.timeoutMs / 1000) }, "rebuilding the index in a child process");
          status = await rebuild.call(this.citebot, {
            limits,
            onStage: (stage) => this.log.debug({ stage }, "index build stage"),
          });
        } else status = await reload!.call(this.citebot);
        this.metrics?.indexReloads.inc({ trigger: "reindex", result: status.index });
        this.failedVersion = undefined;
        this.setDisk("ok");
        return status;
      } catch (err) {
        this.metrics?.indexReloads.inc({ trigger: "reindex", result: "failed" });
        throw err;
      } finally {
        this.rebuilding = false;
      }
    });
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.heard = true;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), this.debounceMs);
    this.debounce.unref();
  }

  private async checkNow(): Promise<void> {
    const heard = this.heard;
    this.heard = false;
    const disk = this.citebot.probeIndex ? await this.citebot.probeIndex() : { state: "ok" as const, version: undefined, message: undefined };
    if (disk.state === "missing") {
      this.setDisk("missing", "the index on disk is gone; still answering from the index in memory (run npm run index or /reindex to rebuild it)");
      return;
    }
    // A store that can't say its version: load when its watch said something changed (reloadIndex
    // then tells whether anything did), not on every poll.
    if (disk.version === undefined ? heard : disk.version !== this.citebot.version) {
      if (disk.version !== undefined && disk.version === this.failedVersion) return;
      try {
        const r = await this.citebot.reloadIndex();
        if (r.changed) {
          this.metrics?.indexReloads.inc({ trigger: "watch", result: "loaded" });
          this.log.info({ articles: this.citebot.articles().length, version: r.version }, "loaded the rebuilt index; answering from it now");
        }
        this.failedVersion = undefined;
        this.setDisk("ok");
      } catch (err) {
        this.failedVersion = disk.version;
        this.metrics?.indexReloads.inc({ trigger: "watch", result: "failed" });
        this.log.error({ err: errInfo(err), version: disk.version }, "could not load the rebuilt index; still answering from the index in memory");
        this.disk = "damaged";
      }
      return;
    }
    if (disk.state === "damaged") {
      this.setDisk(
        "damaged",
        `${disk.message ?? "the index on disk is damaged"}; still answering from the index in memory (run npm run index or /reindex to rebuild it)`,
      );
      return;
    }
    this.setDisk("ok");
  }

  /** Logs a change of state once, not on every poll. */
  private setDisk(state: DiskState, message?: string): void {
    if (state === this.disk) return;
    const previous = this.disk;
    this.disk = state;
    if (state === "ok") {
      if (previous === "missing" || previous === "damaged") this.log.info("the index on disk is usable again");
      return;
    }
    this.log.error({ indexDir: this.indexDir, disk: state }, message ?? `index on disk: ${state}`);
  }
}
