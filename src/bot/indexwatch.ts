// Live index updates. `npm run index` (or any other process) writes a new build and swaps the
// index folder's `current` symlink atomically; the running bot notices (fs.watch on the folder,
// plus polling as a fallback: watch events can be missed, and the folder may be deleted and come
// back) and *loads* the new build — it never builds — then swaps it in between two answers.
// If the index on disk vanishes, is damaged, or a new build can't be loaded, the bot logs it and
// keeps answering from the index in memory. `/reindex` goes through here too, so a watch-triggered
// load and a rebuild never run at the same time.
import { existsSync, type FSWatcher, watch } from "node:fs";
import type { OpenStatus } from "../citebot.js";
import { type BuildLimits, buildLimits } from "../index/isolated.js";
import { currentBuildDir, fileStamps, readManifest, verifyChecksums } from "../index/store.js";
import type { Logger } from "../log.js";
import { errInfo } from "./errors.js";
import type { BotMetrics } from "./metrics.js";
import type { CitebotLike } from "./types.js";

export type DiskState = "ok" | "missing" | "damaged" | "unknown";

type Reloadable = CitebotLike & Required<Pick<CitebotLike, "indexDir" | "buildDir" | "reloadIndex">>;

export function isReloadable(c: CitebotLike): c is Reloadable {
  return typeof c.reloadIndex === "function" && typeof c.indexDir === "string" && typeof c.buildDir === "string";
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
  /** A build that failed to load: not retried until `current` points elsewhere. */
  private failedTarget: string | undefined;
  private poll: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly pollMs: number;
  private readonly debounceMs: number;

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
  /** Stamps (size, mtime, inode) of the in-memory build's files when their checksums last matched. */
  private verifiedStamps: string | undefined;

  get indexDir(): string {
    return this.citebot.indexDir;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.poll = setInterval(() => void this.check(), this.pollMs);
    this.poll.unref();
    this.ensureWatcher();
    this.log.info({ indexDir: this.indexDir, pollMs: this.pollMs }, "watching the index for rebuilds");
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
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
        this.failedTarget = undefined;
        this.verifiedStamps = undefined;
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

  private ensureWatcher(): void {
    if (this.watcher || this.stopped || !existsSync(this.indexDir)) return;
    try {
      const w = watch(this.indexDir, { persistent: false }, () => this.schedule());
      w.on("error", () => {
        // The folder was deleted (or similar): polling goes on and watches again when it is back.
        w.close();
        if (this.watcher === w) this.watcher = undefined;
        this.schedule();
      });
      this.watcher = w;
    } catch (err) {
      this.log.debug({ err: errInfo(err) }, "fs.watch unavailable on the index folder; polling only");
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), this.debounceMs);
    this.debounce.unref();
  }

  private async checkNow(): Promise<void> {
    this.ensureWatcher();
    const target = currentBuildDir(this.indexDir);
    if (!target || !existsSync(target)) {
      this.setDisk("missing", "the index on disk is gone; still answering from the index in memory (run npm run index or /reindex to rebuild it)");
      return;
    }
    if (target !== this.citebot.buildDir) {
      if (target === this.failedTarget) return;
      try {
        const r = await this.citebot.reloadIndex();
        if (r.changed) {
          this.metrics?.indexReloads.inc({ trigger: "watch", result: "loaded" });
          this.log.info({ articles: this.citebot.articles().length, build: r.buildDir }, "loaded the rebuilt index; answering from it now");
        }
        this.failedTarget = undefined;
        this.setDisk("ok");
      } catch (err) {
        this.failedTarget = target;
        this.metrics?.indexReloads.inc({ trigger: "watch", result: "failed" });
        this.log.error({ err: errInfo(err), build: target }, "could not load the rebuilt index; still answering from the index in memory");
        this.disk = "damaged";
      }
      return;
    }
    try {
      // Every poll: every file there at its recorded size (cheap). Checksums again only when a
      // file's size, mtime or inode changed since they last matched (a same-size edit).
      const manifest = readManifest(target);
      const stamps = fileStamps(target, manifest);
      if (stamps !== this.verifiedStamps) {
        await verifyChecksums(target, manifest);
        this.verifiedStamps = stamps;
      }
      this.setDisk("ok");
    } catch (err) {
      this.verifiedStamps = undefined;
      this.setDisk(
        "damaged",
        `the index on disk is damaged (${(err as Error).message}); still answering from the index in memory (run npm run index or /reindex to rebuild it)`,
      );
    }
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
