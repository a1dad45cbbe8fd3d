// Sharding, end to end. First the emulator alone: two discord.js clients, shards 0 and 1 of 2, each
// get only the events of the guild Discord routes to them ((guild_id >> 22) % 2), and DMs reach
// shard 0 only. Then the whole bot: `citebot bot --shards auto` in a child process asks the emulator
// how many shards (GET /gateway/bot: 2), builds the index, and runs discord.js's ShardingManager,
// which starts two shard processes (real discord.js, unchanged, through bin/citebot.js and the
// bundle it builds). Two guilds routed to different shards and a DM each get a question: each is
// delivered to one shard, answered exactly once, and by that shard. Runs once per store in E2E_STORES.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Client, Events, GatewayIntentBits, Partials } from "discord.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { FeedbackStore } from "../../src/bot/feedback.js";
import { runChild } from "../helpers.js";
import { DiscordEmulator, type EmuUser, shardOfGuild } from "./emulator.js";
import { cliEnv, PROJECT_ROOT, replyTo, waitUntil } from "./helpers.js";
import { E2E_STORES, type PreparedStore, tempDataDir } from "./stores.js";

const QUESTIONS = {
  guildA: "What did Antonov say about cybersecurity?",
  guildB: "Who will lead the U.S. delegation?",
  dm: "What is the mechanism for expert dialogue on cybersecurity supposed to focus on?",
};

describe("the emulator routes each guild to its shard, DMs to shard 0", () => {
  let emu: DiscordEmulator;
  let other: ReturnType<DiscordEmulator["joinGuild"]>;
  const clients: Client[] = [];
  const received: Array<{ shard: number; id: string; kind: "message" | "interaction" }> = [];

  beforeAll(async () => {
    emu = await DiscordEmulator.start({ recommendedShards: 2 });
    other = emu.joinGuild("Second newsroom", [{ name: "desk" }], { shard: [1 - shardOfGuild(emu.guild.id, 2), 2] });
    for (const shard of [0, 1]) {
      const client = new Client({
        intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
        partials: [Partials.Channel],
        shards: shard,
        shardCount: 2,
        rest: { api: emu.apiUrl },
      });
      client.on(Events.MessageCreate, (m) => received.push({ shard, id: m.id, kind: "message" }));
      client.on(Events.InteractionCreate, (i) => received.push({ shard, id: i.id, kind: "interaction" }));
      clients.push(client);
    }
    await Promise.all(clients.map((c) => c.login(emu.token)));
    await emu.waitForShards(2);
    await waitUntil(() => clients.every((c) => c.isReady()), 10_000, "both clients ready");
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.destroy()));
    await emu?.stop();
  });

  it("the two guilds route to different shards, and each shard's READY and GUILD_CREATE carry only its own guild", () => {
    const a = shardOfGuild(emu.guild.id, 2);
    const b = shardOfGuild(other.guild.id, 2);
    expect(a).not.toBe(b);
    expect(Number((BigInt(emu.guild.id) >> 22n) % 2n)).toBe(a); // the rule, written out
    expect(emu.connectedShards).toEqual([0, 1]);
    expect([...clients[a]!.guilds.cache.keys()]).toEqual([emu.guild.id]);
    expect([...clients[b]!.guilds.cache.keys()]).toEqual([other.guild.id]);
    const readies = emu.gatewayFrames.filter((f) => f.direction === "out" && f.t === "READY");
    expect(readies.map((f) => [f.d.shard, f.d.guilds.map((g: { id: string }) => g.id)]).sort()).toEqual(
      [
        [[a, 2], [emu.guild.id]],
        [[b, 2], [other.guild.id]],
      ].sort(),
    );
  });

  it("a message goes to its guild's shard only, a DM to shard 0 only, an interaction to its guild's shard only", async () => {
    const inA = emu.sendMessage({ content: "in the first guild", mentionBot: true });
    const inB = emu.sendMessage({ channelId: other.channels[0]!.id, content: "in the second guild", mentionBot: true });
    const dm = emu.sendDM({ content: "a direct message" });
    const slash = emu.sendSlashCommand({ name: "ask", options: { question: "in the second guild" }, channelId: other.channels[0]!.id });
    await waitUntil(() => received.length >= 4, 10_000, "four deliveries");
    await new Promise((r) => setTimeout(r, 200)); // room for a wrong second delivery to show up
    const a = shardOfGuild(emu.guild.id, 2);
    const b = shardOfGuild(other.guild.id, 2);
    expect(received.filter((r) => r.id === inA.id).map((r) => r.shard)).toEqual([a]);
    expect(received.filter((r) => r.id === inB.id).map((r) => r.shard)).toEqual([b]);
    expect(received.filter((r) => r.id === dm.id).map((r) => r.shard)).toEqual([0]);
    expect(received.filter((r) => r.id === slash.id).map((r) => r.shard)).toEqual([b]);
    expect(emu.deliveries.get(inA.id)).toEqual([a]);
    expect(emu.deliveries.get(inB.id)).toEqual([b]);
    expect(emu.deliveries.get(dm.id)).toEqual([0]);
    expect(emu.deliveries.get(slash.id)).toEqual([b]);
  });

  it("GET /gateway/bot recommends the configured number of shards", async () => {
    const r = await fetch(`${emu.apiUrl}/v10/gateway/bot`, { headers: { authorization: `Bot ${emu.token}` } });
    expect(((await r.json()) as { shards: number }).shards).toBe(2);
  });

  it("an IDENTIFY with a shard id outside [0, count) is closed with 4010 (Invalid shard)", async () => {
    const ws = new WebSocket(emu.gatewayUrl);
    const code = await new Promise<number>((resolve, reject) => {
      ws.on("message", (raw) => {
        if (JSON.parse(String(raw)).op === 10) ws.send(JSON.stringify({ op: 2, d: { token: emu.token, intents: 1, properties: {}, shard: [2, 2] } }));
      });
      ws.on("close", (c) => resolve(c));
      ws.on("error", reject);
    });
    expect(code).toBe(4010);
  });
});

/** The processes whose parent is `pid` (Linux /proc). */
/** Whether a process still runs (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${d}/status`, "utf8"))?.[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

type LogLine = Record<string, unknown> & { msg?: string; pid?: number; shard?: number; component?: string };

describe.each(E2E_STORES)("citebot bot --shards auto: two shard processes on the $name", (store) => {
  let emu: DiscordEmulator;
  let other: ReturnType<DiscordEmulator["joinGuild"]>;
  let data: ReturnType<typeof tempDataDir>;
  let prepared: PreparedStore | undefined;
  let manager: ChildProcess;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  const out = { stdout: "", stderr: "" };
  const logs = (): LogLine[] =>
    out.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as LogLine];
        } catch {
          return [];
        }
      });
  const asked: Record<keyof typeof QUESTIONS, { id: string; shard: number; user: EmuUser }> = {} as never;

  beforeAll(async () => {
    emu = await DiscordEmulator.start({ recommendedShards: 2, maxConcurrency: 2, interactionAckDeadlineMs: 15_000 });
    other = emu.joinGuild("Second newsroom", [{ name: "desk" }], { shard: [1 - shardOfGuild(emu.guild.id, 2), 2] });
    data = tempDataDir();
    prepared = await store.prepare(data.dir);
    manager = spawn(process.execPath, [path.join("bin", "citebot.js"), "bot", "--shards", "auto"], {
      cwd: PROJECT_ROOT,
      env: cliEnv({
        DISCORD_TOKEN: emu.token,
        DISCORD_API_URL: emu.apiUrl,
        DATA_DIR: data.dir,
        LOG_FORMAT: "json",
        RATE_LIMIT_MAX: "100",
        ...prepared.env,
      }),
    });
    manager.stdout!.setEncoding("utf8").on("data", (d: string) => (out.stdout += d));
    manager.stderr!.setEncoding("utf8").on("data", (d: string) => (out.stderr += d));
    exited = new Promise((resolve) => manager.on("close", (code, signal) => resolve({ code, signal })));
    const early = exited.then(({ code }) => {
      throw new Error(`citebot bot --shards auto exited (${code}) before both shards connected:\n${out.stderr.slice(-3000)}`);
    });
    await Promise.race([emu.waitForShards(2, 170_000), early]);
    // Connected is not yet ready: each shard logs "bot ready" once its guilds have arrived.
    await Promise.race([waitUntil(() => logs().filter((l) => l.msg === "bot ready").length === 2, 60_000, "both shards ready"), early]);
    // The manager hears of it over IPC a moment later.
    await Promise.race([waitUntil(() => logs().some((l) => l.msg === "all shards connected"), 30_000, "the manager saw both shards"), early]);
    early.catch(() => undefined);
  }, 180_000);

  afterAll(async () => {
    // Killing the manager disconnects the shards' IPC channel, and a shard without its manager stops.
    if (manager && manager.exitCode === null && manager.signalCode === null) manager.kill("SIGKILL");
    await emu?.stop();
    await prepared?.cleanup();
    data?.remove();
  });

  it("asks Discord for the shard count, builds the index once in the manager, then starts shards 0 and 1 of 2", () => {
    const lines = logs();
    const starting = lines.find((l) => l.msg === "starting the shards");
    expect(starting).toMatchObject({ component: "shards", shards: 2, recommended: 2, delayMs: 0 });
    expect(emu.requests.filter((r) => r.method === "GET" && r.path === "/gateway/bot").length).toBeGreaterThanOrEqual(3); // the manager, then each shard's client
    // Only the manager built; each shard loaded what it built.
    const indexLines = lines.filter((l) => l.msg === "index built" || l.msg === "index loaded");
    expect(indexLines.filter((l) => l.msg === "index built").map((l) => l.pid)).toEqual([manager.pid]);
    expect(indexLines.filter((l) => l.shard !== undefined && l.msg === "index loaded").map((l) => l.shard)).toEqual(expect.arrayContaining([0, 1]));
    const ready = lines.filter((l) => l.msg === "bot ready");
    expect(ready.map((l) => l.shard).sort()).toEqual([0, 1]);
    expect(new Set(ready.map((l) => l.pid)).size).toBe(2); // two processes
    expect(ready.every((l) => l.pid !== manager.pid)).toBe(true);
    expect(lines.find((l) => l.msg === "all shards connected")).toBeDefined();
  });

  it("a question in each guild and a DM: each answered exactly once, by the shard Discord routes it to", async () => {
    const a = emu.addUser("asker-a");
    const b = emu.addUser("asker-b");
    const d = emu.addUser("asker-dm");
    const inA = emu.sendMessage({ author: a, content: QUESTIONS.guildA, mentionBot: true });
    const inB = emu.sendMessage({ author: b, channelId: other.channels[0]!.id, content: QUESTIONS.guildB, mentionBot: true });
    const dm = emu.sendDM({ author: d, content: QUESTIONS.dm });
    asked.guildA = { id: inA.id, shard: shardOfGuild(emu.guild.id, 2), user: a };
    asked.guildB = { id: inB.id, shard: shardOfGuild(other.guild.id, 2), user: b };
    asked.dm = { id: dm.id, shard: 0, user: d };
    expect(asked.guildA.shard).not.toBe(asked.guildB.shard);
    for (const q of Object.values(asked)) await emu.waitForRequest(replyTo(q.id), 90_000);
    // Room for a duplicate (a second shard answering, a retried create) to arrive.
    await new Promise((r) => setTimeout(r, 1500));
    const answeredLines = logs().filter((l) => l.outcome === "answered");
    for (const [name, q] of Object.entries(asked)) {
      expect(emu.deliveries.get(q.id), `${name}: delivered to one shard, its own`).toEqual([q.shard]);
      expect(emu.requests.filter(replyTo(q.id)).length, `${name}: one reply`).toBe(1);
      const byShard = answeredLines.filter((l) => l.messageId === q.id).map((l) => l.shard);
      expect(byShard, `${name}: answered by shard ${q.shard} only`).toEqual([q.shard]);
    }
    expect(emu.botMessages().filter((m) => m.message_reference).length).toBe(3);
    expect(out.stdout + out.stderr).not.toContain(emu.token);
  }, 120_000);

  it("👍 on each answer by its asker: both shards write to the one feedback database", async () => {
    for (const q of Object.values(asked)) {
      const reply = emu.requests.find(replyTo(q.id))!;
      const up = (reply.body.components ?? [])
        .flatMap((row: { components: Array<{ custom_id?: string }> }) => row.components)
        .map((c: { custom_id?: string }) => c.custom_id)
        .find((id: string | undefined) => id?.startsWith("vote:") && id.endsWith(":up"));
      expect(up, "the answer carries a 👍 button").toBeDefined();
      const click = emu.clickButton({ messageId: reply.response.id, customId: up, user: q.user });
      await emu.waitForInteractionResponse(click, 30_000);
      expect(emu.deliveries.get(click.id)).toEqual([q.shard]);
      const voted = () => logs().filter((l) => l.msg === "vote" && l.interactionId === click.id);
      await waitUntil(() => voted().length > 0, 10_000, "the vote's log line");
      expect(voted().map((l) => [l.shard, l.outcome])).toEqual([[q.shard, "recorded"]]);
    }
    const votes = new FeedbackStore(path.join(data.dir, "feedback.sqlite"));
    try {
      expect(votes.counts()).toEqual({ up: 3, down: 0 });
    } finally {
      votes.close();
    }
  }, 120_000);

  it("a shard process that dies is started again by the manager, and its guild is answered again, by it", async () => {
    const victim = asked.guildB.shard;
    const readyOf = (shard: number) => logs().filter((l) => l.msg === "bot ready" && l.shard === shard);
    const pid = readyOf(victim)[0]!.pid!;
    process.kill(pid, "SIGKILL");
    await waitUntil(() => readyOf(victim).length === 2, 90_000, `shard ${victim} to be started again`);
    expect(logs().find((l) => l.msg === "shard process exited; starting it again")).toMatchObject({ shardId: victim });
    const again = emu.sendMessage({ author: asked.guildB.user, channelId: other.channels[0]!.id, content: QUESTIONS.guildB, mentionBot: true });
    await emu.waitForRequest(replyTo(again.id), 60_000);
    expect(emu.deliveries.get(again.id)).toEqual([victim]);
    await waitUntil(() => logs().some((l) => l.outcome === "answered" && l.messageId === again.id), 10_000, "the answer's log line");
    const by = logs().filter((l) => l.outcome === "answered" && l.messageId === again.id);
    expect(by.map((l) => [l.shard, l.pid])).toEqual([[victim, readyOf(victim)[1]!.pid]]);
    expect(readyOf(victim)[1]!.pid).not.toBe(pid);
  }, 120_000);

  it("SIGTERM: each shard disconnects cleanly, the manager exits 0, and no shard process is left", async () => {
    const shardPids = [
      ...new Set(
        logs()
          .filter((l) => l.shard !== undefined && typeof l.pid === "number")
          .map((l) => l.pid!),
      ),
    ];
    expect(shardPids.length).toBe(3); // shards 0 and 1, and the one started again
    manager.kill("SIGTERM");
    const { code } = await exited;
    expect(code).toBe(0);
    expect(emu.connectedShards).toEqual([]);
    expect(
      logs()
        .filter((l) => l.msg === "bot stopped")
        .map((l) => l.shard)
        .sort(),
    ).toEqual([0, 1]);
    expect(logs().find((l) => l.msg === "all shards stopped")).toBeDefined();
    await waitUntil(() => shardPids.every((pid) => !alive(pid)), 10_000, "the shard processes to exit");
  }, 60_000);
});

describe("sharded start-up failures end with a clear message, and nothing left running", () => {
  const data = tempDataDir();
  let emu: DiscordEmulator;
  const citebot = (args: string[], env: Record<string, string>) =>
    runChild(process.execPath, [path.join("bin", "citebot.js"), ...args], {
      env: cliEnv({ DATA_DIR: data.dir, LOG_FORMAT: "json", ...env }),
      timeoutMs: 150_000,
    });
  const noStackTrace = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

  beforeAll(async () => {
    // The application may not use the Message Content intent (Developer Portal toggle off).
    emu = await DiscordEmulator.start({ recommendedShards: 2, maxConcurrency: 2, allowedPrivilegedIntents: 0 });
  });

  afterAll(async () => {
    await emu?.stop();
    data.remove();
  });

  it("--shards takes auto or a whole number", async () => {
    const r = await citebot(["bot", "--shards", "zero"], { DISCORD_TOKEN: emu.token, DISCORD_API_URL: emu.apiUrl });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--shards takes auto or a whole number of shards from 1 to 4096.");
    expect(emu.requests).toEqual([]);
  }, 60_000);

  it("a token Discord rejects: told before any index is built or shard started", async () => {
    const r = await citebot(["bot", "--shards", "2"], { DISCORD_TOKEN: "wrong-token-value", DISCORD_API_URL: emu.apiUrl });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Discord rejected DISCORD_TOKEN");
    expect(r.stderr).not.toContain("wrong-token-value");
    expect(r.stderr).not.toContain('"starting shard"');
    expect(r.stderr).not.toContain('"index built"');
    noStackTrace(r.stderr);
  }, 60_000);

  it("a shard that can't connect (a refused intent) stops the start: its reason, then the manager's, exit 1, no restart loop", async () => {
    const r = await citebot(["bot", "--shards", "2"], { DISCORD_TOKEN: emu.token, DISCORD_API_URL: emu.apiUrl, MESSAGE_CONTENT_INTENT: "true" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Discord refused the Message Content intent");
    // Which of the two discord.js reports first (the shard's disconnect, or its exit) depends on timing.
    expect(r.stderr).toMatch(/Shard 0 of 2 (stopped before it connected|was disconnected before it was ready) \(its reason is above\)\./);
    expect(r.stderr).not.toContain("did not stop in time");
    expect(r.stderr).toMatch(/"shardId":0,"code":1,"msg":"shard (process )?exited"/);
    const identifies = emu.gatewayFrames.filter((f) => f.direction === "in" && f.op === 2);
    expect(identifies.map((f) => f.d.shard)).toEqual([[0, 2]]); // shard 0 tried once; shard 1 never started
    expect(r.stderr.match(/"msg":"starting shard"/g)?.length).toBe(1);
    expect(emu.connectedShards).toEqual([]);
    noStackTrace(r.stderr);
  }, 160_000);
  it("the manager killed while the shards start: the started shard disconnects, the starting one exits, none is left", async () => {
    const starting = await DiscordEmulator.start({ recommendedShards: 2, maxConcurrency: 2 });
    let stderr = "";
    const child = spawn(process.execPath, [path.join("bin", "citebot.js"), "bot", "--shards", "2"], {
      cwd: PROJECT_ROOT,
      env: cliEnv({ DATA_DIR: data.dir, LOG_FORMAT: "json", DISCORD_TOKEN: starting.token, DISCORD_API_URL: starting.apiUrl }),
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    try {
      await waitUntil(
        () => starting.connectedShards.length === 1 && stderr.includes('"shardId":1,"shards":2,"msg":"starting shard"'),
        120_000,
        "shard 0 up, shard 1 starting",
      );
      const pids = childrenOf(child.pid!); // the two shard processes (the index build's child is done by now)
      expect(pids.length).toBe(2);
      child.kill("SIGKILL"); // no chance to stop anything itself
      await waitUntil(() => starting.connectedShards.length === 0, 30_000, "shard 0 to disconnect");
      await waitUntil(() => pids.every((pid) => !alive(pid)), 30_000, "both shard processes to exit");
      // Shard 0 closed its session cleanly (1000); shard 1, if it had opened a socket, dropped it on exit.
      expect(starting.gatewayCloses.map((c) => c.code)).toContain(1000);
      expect(starting.connectedShards).toEqual([]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await starting.stop();
    }
  }, 160_000);
});
