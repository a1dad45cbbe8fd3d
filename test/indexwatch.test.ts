// The bot's IndexKeeper speaks only to the core's store-facing methods (version, reloadIndex,
// watchIndex, probeIndex): a new version is loaded once, a failed one is not retried until the
// version changes, and a store that can't say its version is reloaded on its watch events only.
import pino from "pino";
import { describe, expect, it } from "vitest";
import { IndexKeeper } from "../src/bot/indexwatch.js";
import type { CitebotLike } from "../src/bot/types.js";
import type { IndexProbeResult } from "../src/store/probe.js";

function fakeCore(opts: { probe?: boolean } = {}) {
  const state = {
    version: "v1",
    onDisk: { state: "ok", version: "v1" } as IndexProbeResult,
    reloads: 0,
    failNext: false,
    notify: undefined as (() => void) | undefined,
  };
  const core: CitebotLike = {
    answer: async () => ({ question: "", answered: false, hits: [], more: false }),
    articles: () => [],
    article: () => undefined,
    findArticles: () => [],
    passages: async () => [],
    excerpt: async () => undefined,
    searchArticle: async () => undefined,
    get version() {
      return state.version;
    },
    reloadIndex: async () => {
      state.reloads++;
      if (state.failNext) throw new Error("damaged");
      const target = state.onDisk.version ?? state.version;
      const changed = target !== state.version;
      state.version = target;
      return { changed, version: target };
    },
    watchIndex: (onChange) => {
      state.notify = onChange;
      return () => (state.notify = undefined);
    },
    ...(opts.probe === false ? {} : { probeIndex: async () => state.onDisk }),
  };
  return { core, state };
}

const silent = pino({ level: "silent" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("IndexKeeper through the store-facing core methods", () => {
  it("loads a new version once, reports damage and loss, and does not retry a version that failed to load", async () => {
    const { core, state } = fakeCore();
    const keeper = new IndexKeeper(core as never, silent);
    await keeper.check();
    expect(keeper.disk).toBe("ok");
    expect(state.reloads).toBe(0);

    state.onDisk = { state: "ok", version: "v2" };
    await keeper.check();
    await keeper.check();
    expect(state.version).toBe("v2");
    expect(state.reloads).toBe(1);

    state.onDisk = { state: "damaged", version: "v2", message: "the index on disk is damaged (x)" };
    await keeper.check();
    expect(keeper.disk).toBe("damaged");
    state.onDisk = { state: "missing" };
    await keeper.check();
    expect(keeper.disk).toBe("missing");

    state.onDisk = { state: "ok", version: "v3" };
    state.failNext = true;
    await keeper.check();
    await keeper.check();
    expect(state.reloads).toBe(2);
    expect(keeper.disk).toBe("damaged");
    expect(state.version).toBe("v2");

    state.failNext = false;
    state.onDisk = { state: "ok", version: "v4" };
    await keeper.check();
    expect(state.version).toBe("v4");
    expect(keeper.disk).toBe("ok");
  });

  it("without a probe, reloads when the store's watch reports a change, not on every poll", async () => {
    const { core, state } = fakeCore({ probe: false });
    const keeper = new IndexKeeper(core as never, silent, undefined, { pollMs: 10_000, debounceMs: 5 });
    keeper.start();
    try {
      await keeper.check();
      await keeper.check();
      expect(state.reloads).toBe(0);
      state.notify!();
      await sleep(50);
      await keeper.check();
      expect(state.reloads).toBe(1);
    } finally {
      keeper.stop();
    }
    expect(state.notify).toBeUndefined();
  });
});
