// The embedded store engine (kind "files"): an IndexStore over an index folder such as
// data/<corpus>-<hash>/, holding snapshots/<id>/ folders and the `current` symlink (format.ts).
import { existsSync, type FSWatcher, mkdirSync, readFileSync, rmSync, statSync, watch, writeFileSync } from "node:fs";
import path from "node:path";
import type { IndexProbe, IndexProbeResult } from "../probe.js";
import type { Changes, Filter, IndexStore, PassageId, Snapshot, WriteStats } from "../types.js";
import { CURRENT, currentSnapshotDir, fileMatches, IndexError, readStoreManifest } from "./format.js";
import { DeferredSnapshot, FileSnapshot, type GraphLoading } from "./snapshot.js";
import { loadState, type StoreState } from "./state.js";
import { isAlive, type WriteOptions, writeSnapshot } from "./write.js";

export { DeferredSnapshot, FileSnapshot } from "./snapshot.js";

export interface FileStoreOptions extends WriteOptions {
  /** How often watch() looks at `current` (ms); fs.watch events make it look sooner. Default 1000. */
  pollMs?: number;
  /** How long write() waits for another process's write to finish. Default 10 minutes. */
  lockTimeoutMs?: number;
  /**
   * When current() loads the base graph into hnswlib (its file is verified at open either way):
   * "eager" (default: a server) or "on-demand" on the first dense search (a writer, which plans
   * from hashes, passages and stored vectors and never searches: it saves the graph's memory).
   */
  graph?: GraphLoading;
}

const LOCK = "write.lock";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One opened snapshot, shared by every lease on it; closed when the last lease is. */
class Shared {
  refs = 0;
  constructor(readonly snap: FileSnapshot | DeferredSnapshot) {}
}

/**
 * What current() and write() hand out: a handle on the shared opened snapshot. Closing it closes
 * the snapshot only when no other handle (the store's own, a question in flight) still holds it,
 * so a caller may always close what it was given.
 */
class Lease implements Snapshot {
  private released = false;
  constructor(readonly shared: Shared) {
    shared.refs++;
  }
  get info() {
    return this.shared.snap.info;
  }
  get dir() {
    return this.shared.snap.dir;
  }
  articles() {
    return this.shared.snap.articles();
  }
  articleHashes() {
    return this.shared.snap.articleHashes();
  }
  corpusWords() {
    return this.shared.snap.corpusWords();
  }
  passages(ids: readonly PassageId[]) {
    return this.shared.snap.passages(ids);
  }
  passageIds(articleId: string) {
    return this.shared.snap.passageIds(articleId);
  }
  dense(query: Float32Array, k: number, filter?: Filter) {
    return this.shared.snap.dense(query, k, filter);
  }
  keyword(question: string, k: number, filter?: Filter) {
    return this.shared.snap.keyword(question, k, filter);
  }
  vectors(ids: readonly PassageId[]) {
    return this.shared.snap.vectors(ids);
  }
  documentFrequency(stems: readonly string[]) {
    return this.shared.snap.documentFrequency(stems);
  }
  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (--this.shared.refs === 0) await this.shared.snap.close();
  }
}

export class FileStore implements IndexStore, IndexProbe {
  readonly kind = "files" as const;
  /** The store's own lease on the snapshot `current` points at (released when it moves on). */
  private opened: Lease | undefined;
  /** Stamps (size, mtime, inode) of the current snapshot's files when their checksums last matched. */
  private verified: { dir: string; stamps: string } | undefined;
  private readonly stops = new Set<() => void>();
  /** While this store writes, its own watchers hold still; afterwards they take its version as seen. */
  private writing = 0;
  private readonly seenByWatchers = new Set<{ last: string | undefined }>();

  constructor(
    readonly indexDir: string,
    private readonly opts: FileStoreOptions = {},
  ) {}

  /** The current snapshot: a new lease on the opened one while `current` points at the same folder. */
  async current(): Promise<Snapshot | undefined> {
    const dir = currentSnapshotDir(this.indexDir);
    if (!dir) {
      if (existsSync(path.join(this.indexDir, CURRENT))) throw new IndexError("the index folder's `current` entry is not a link to a snapshot");
      return undefined;
    }
    if (this.opened && this.opened.dir === dir) return new Lease(this.opened.shared);
    if (!existsSync(dir)) throw new IndexError("the index snapshot `current` points at is missing");
    return this.hold(await FileSnapshot.open(dir, { graph: this.opts.graph }));
  }

  /** Makes `snap` the store's opened snapshot (releasing the previous one) and returns a lease on it. */
  private async hold(snap: FileSnapshot | DeferredSnapshot): Promise<Lease> {
    const shared = new Shared(snap);
    const previous = this.opened;
    this.opened = new Lease(shared);
    await previous?.close();
    return new Lease(shared);
  }

  /**
   * Whether the current snapshot is there and intact: every file at its recorded size (cheap, every
   * call), checksums again only when a file's size, mtime or inode changed since they last matched.
   */
  async probe(): Promise<IndexProbeResult> {
    const dir = currentSnapshotDir(this.indexDir);
    if (!dir || !existsSync(dir)) {
      this.verified = undefined;
      return { state: "missing", message: "the index on disk is gone" };
    }
    let version: string | undefined;
    try {
      const m = readStoreManifest(dir);
      version = m.id;
      const stamps = Object.keys(m.files)
        .map((f) => {
          const st = statSync(path.join(dir, f));
          return `${f}:${st.size}:${st.mtimeMs}:${st.ino}`;
        })
        .join("|");
      if (this.verified?.dir !== dir || this.verified.stamps !== stamps) {
        for (const [f, entry] of Object.entries(m.files)) {
          if (!(await fileMatches(path.join(dir, f), entry)))
            throw new IndexError(`the index file ${f} was changed or damaged (its checksum does not match the manifest)`);
        }
        this.verified = { dir, stamps };
      }
      return { state: "ok", version };
    } catch (err) {
      this.verified = undefined;
      return { state: "damaged", ...(version ? { version } : {}), message: `the index on disk is damaged (${(err as Error).message})` };
    }
  }

  async write(changes: Changes): Promise<{ snapshot: Snapshot; stats: WriteStats }> {
    mkdirSync(this.indexDir, { recursive: true });
    // Nothing to change: the current snapshot stays (no new version for watchers to load).
    if (changes.mode === "update" && changes.upsert.length === 0 && changes.remove.length === 0) {
      const now = await this.current();
      if (now && now.info.model === changes.model && now.info.dimensions === changes.dimensions && now.info.settingsHash === changes.settingsHash)
        return { snapshot: now, stats: { articlesWritten: 0, articlesRemoved: 0, passagesWritten: 0, passagesRemoved: 0, seconds: 0 } };
    }
    const release = await this.lock();
    try {
      // The writer reads the small part of the current snapshot afresh (and verified): never the
      // big files it carries over by hard link, and never a reader's objects.
      const dir = currentSnapshotDir(this.indexDir);
      let prev: Parameters<typeof writeSnapshot>[2];
      if (dir && changes.mode === "update") prev = this.openedState(dir) ?? (await loadState(dir, readStoreManifest(dir)));
      else if (dir) {
        // A replace uses only the previous snapshot's generation counter (and keeps its folder for readers).
        try {
          prev = { dir, manifest: readStoreManifest(dir) };
        } catch {
          prev = undefined;
        }
      }
      this.writing++;
      const { dir: written, stats } = await writeSnapshot(this.indexDir, changes, prev, this.opts);
      const snapshot = await this.hold(new DeferredSnapshot(written, readStoreManifest(written), { graph: this.opts.graph }));
      for (const w of this.seenByWatchers) w.last = snapshot.info.version;
      return { snapshot, stats };
    } finally {
      this.writing = Math.max(0, this.writing - 1);
      release();
    }
  }

  /**
   * The small part of the snapshot this store has open, when it is the one `current` points at
   * (a writer that planned from it): checked when it was opened, never changed by a write (which
   * copies what it changes), so it need not be read and checked again.
   */
  private openedState(dir: string): StoreState | undefined {
    const snap = this.opened?.shared.snap;
    return snap instanceof FileSnapshot && snap.dir === dir ? snap.state : undefined;
  }

  /** One writer at a time per index folder, across processes: a lock file naming its owner's pid. */
  private async lock(): Promise<() => void> {
    const file = path.join(this.indexDir, LOCK);
    const deadline = Date.now() + (this.opts.lockTimeoutMs ?? 600_000);
    for (;;) {
      try {
        writeFileSync(file, String(process.pid), { flag: "wx" });
        return () => rmSync(file, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(file, "utf8"));
      } catch {}
      // A lock left by a process that died (kill -9 during a write) is taken over.
      if (!isAlive(owner)) {
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another process (pid ${owner}) is writing this index`);
      await sleep(100);
    }
  }

  /**
   * Calls onChange once per new version another writer (another process, or another FileStore)
   * makes: a poll of the `current` link and the manifest's id (cheap; no file is hashed), sooner
   * on fs.watch. This store's own writes are not reported (write() returned their snapshot).
   */
  watch(onChange: () => void): () => void {
    const seen = () => {
      const dir = currentSnapshotDir(this.indexDir);
      if (!dir) return undefined;
      try {
        return readStoreManifest(dir).id;
      } catch {
        return `unusable:${dir}`;
      }
    };
    const state = { last: seen() };
    this.seenByWatchers.add(state);
    const check = () => {
      if (this.writing > 0) return;
      const now = seen();
      if (now !== undefined && now !== state.last) {
        state.last = now;
        onChange();
      }
    };
    const timer = setInterval(check, this.opts.pollMs ?? 1000);
    timer.unref();
    let watcher: FSWatcher | undefined;
    try {
      if (existsSync(this.indexDir)) watcher = watch(this.indexDir, { persistent: false }, () => check());
      watcher?.on("error", () => watcher?.close());
    } catch {
      // polling alone
    }
    const stop = () => {
      clearInterval(timer);
      watcher?.close();
      this.stops.delete(stop);
      this.seenByWatchers.delete(state);
    };
    this.stops.add(stop);
    return stop;
  }

  async close(): Promise<void> {
    for (const stop of [...this.stops]) stop();
    const opened = this.opened;
    this.opened = undefined;
    await opened?.close();
  }
}
