// Operations: the token never shows up in logs, error replies or anything sent to Discord, even when
// errors quote it; SIGTERM lets the answer in progress finish and then disconnects cleanly (the
// real `tsx src/cli.ts bot` in a child process); HEALTH_PORT serves /healthz and /metrics.
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { DiscordEmulator } from "./emulator.js";
import { captureLogs, cliEnv, type LogCapture, openCitebot, PROJECT_ROOT, replyTo, sleep, TSX, waitUntil, withAnswer } from "./helpers.js";

/** Shaped like a real bot token (base64 id . timestamp . HMAC), so generic redaction would also apply. */
// A fake token of the real shape, assembled at run time so no token-shaped string is tracked in git.
const TOKEN = ["MTE3NzQ1NjE2NDg1MjM0MTc2MA", "GhK2pQ", "s3cr3t-T0k3n_abcdefghijklmnopqrstuvwx"].join(".");
const Q = "What did Antonov say about the Geneva summit?";

let core: Awaited<ReturnType<typeof openCitebot>>;
beforeAll(async () => {
  core = await openCitebot();
}, 60_000);
afterAll(() => core?.cleanup());

/** Everything the emulator recorded: REST bodies and responses, gateway frames (IDENTIFY's token is masked by the emulator itself). */
const recorded = (emu: DiscordEmulator) => JSON.stringify(emu.requests) + JSON.stringify(emu.gatewayFrames);

describe("npm run bot: SIGTERM finishes the answer in progress, then disconnects cleanly", () => {
  let emu: DiscordEmulator;
  let child: ChildProcess;
  let stderr = "";
  let stdout = "";
  let exited: Promise<number | null>;

  beforeAll(async () => {
    emu = await DiscordEmulator.start({ token: TOKEN });
    child = spawn(process.execPath, [TSX, "src/cli.ts", "bot"], {
      cwd: PROJECT_ROOT,
      env: cliEnv({ DISCORD_TOKEN: TOKEN, DISCORD_API_URL: emu.apiUrl, HEALTH_PORT: "0", DATA_DIR: core.dataDir }),
    });
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    exited = new Promise((resolve) => child.on("close", (code) => resolve(code)));
    await waitUntil(() => /"msg":"bot ready"/.test(stderr), 45_000, "the bot to start");
  }, 60_000);

  afterAll(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await emu?.stop();
  });

  it("serves /healthz and /metrics on 127.0.0.1, answers, and on SIGTERM delivers the answer in flight, says 'restarting' to a late question, exits 0", async () => {
    const listening = stderr.split("\n").find((l) => l.includes("health server listening"))!;
    const { host, port } = JSON.parse(listening) as { host: string; port: number };
    expect(host).toBe("127.0.0.1");
    const healthz = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toMatchObject({ ok: true, gateway: "ready", index: { loaded: true, articles: 2 } });
    // The admin is told how to add the bot to a server (JSON lines: stderr is not a terminal here).
    const invite = JSON.parse(stderr.split("\n").find((l) => l.includes("invite URL"))!) as { url: string };
    expect(invite.url).toBe(`https://discord.com/oauth2/authorize?client_id=${emu.application.id}&scope=bot+applications.commands&permissions=274877991936`);

    // the answer to this question is held up by a slow Discord for 1.5 s...
    emu.injectDelay({ method: "POST", path: /^\/channels\/\d+\/messages$/, ms: 1500, times: 1 });
    const question = emu.sendDM({ author: emu.users.alice, content: Q });
    await new Promise<void>((resolve) => {
      const onStart = (r: { method: string; path: string }) => {
        if (r.method === "POST" && /\/messages$/.test(r.path)) {
          emu.off("requestStart", onStart);
          resolve();
        }
      };
      emu.on("requestStart", onStart);
    });
    // ...and SIGTERM arrives while it is on its way
    child.kill("SIGTERM");
    await waitUntil(() => /shutting down/.test(stderr), 15_000, "the shutdown to start"); // generous: a loaded machine (full suite) can be slow;
    const draining = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toMatchObject({ ok: false, draining: true });
    const late = emu.sendDM({ author: emu.users.bob, content: Q });

    const code = await exited;
    expect(code, stderr.slice(-3000)).toBe(0);
    const reply = emu.requests.find(replyTo(question.id));
    expect(reply?.status).toBe(200);
    expect(reply?.body.embeds.length).toBeGreaterThan(0);
    expect(emu.requests.find(replyTo(late.id))?.body.content).toBe("I'm restarting. Please ask again in a minute.");
    // the reply landed before the bot closed the gateway, and it closed it normally (1000)
    const close = emu.gatewayCloses.at(-1)!;
    expect(close.code).toBe(1000);
    expect(reply!.at).toBeLessThanOrEqual(close.at);
    const lines = stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    expect(lines.find((l) => l.msg === "bot stopped")).toMatchObject({ drained: true });
    expect(lines.find((l) => l.msg === "finishing the answers in progress before disconnecting")).toBeDefined();
    // a deliberate shutdown, logged as one: not as a lost connection
    expect(lines.map((l) => l.msg)).not.toContain("gateway connection lost; reconnecting");
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    // the token appears nowhere: not in the logs, not in anything sent to Discord
    expect(stderr + stdout).not.toContain(TOKEN);
    expect(recorded(emu)).not.toContain(TOKEN);
  }, 30_000);
});

describe("the token stays secret when errors quote it", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let logs: LogCapture;

  beforeAll(async () => {
    emu = await DiscordEmulator.start({ token: TOKEN });
    logs = captureLogs();
    const c = core.citebot;
    const leaky = withAnswer(
      c,
      (q, o) => (q.includes("LEAK") ? Promise.reject(new Error(`connect failed for Bot ${TOKEN} (token=${TOKEN})`)) : c.answer(q, o)),
      {
        indexDir: c.indexDir,
        get version() {
          return c.version;
        },
        reloadIndex: () => c.reloadIndex(),
        watchIndex: (onChange) => c.watchIndex(onChange),
        probeIndex: () => c.probeIndex(),
        reload: () => Promise.reject(new Error(`could not read ${TOKEN}`)),
      },
    );
    bot = await runBot({ citebot: leaky, config: botConfig({ token: TOKEN, apiUrl: emu.apiUrl }), logger: logs.logger, retryDelaysMs: [20] });
  });
  afterAll(async () => {
    await bot?.stop();
    await emu?.stop();
  });

  it("errors quoting the token (core, Discord error bodies, 5xx, /reindex) are logged and answered without it", async () => {
    const a = emu.sendMessage({ author: emu.addUser("s1"), content: "LEAK please", mentionBot: true });
    expect((await emu.waitForRequest(replyTo(a.id))).body.content).toMatch(/^Sorry, something went wrong/);

    emu.injectFault({ method: "POST", path: /^\/channels\/\d+\/messages$/, status: 400, body: { message: `Invalid Form Body: Bot ${TOKEN}`, code: 50035 } });
    const b = emu.sendMessage({ author: emu.addUser("s2"), content: Q, mentionBot: true });
    expect((await emu.waitForRequest((r) => replyTo(b.id)(r) && !r.fault)).body.content).toMatch(/^Sorry, something went wrong/);

    emu.injectFault({ method: "POST", path: /^\/channels\/\d+\/messages$/, status: 503, times: 6, body: { message: TOKEN } });
    const c = emu.sendMessage({ author: emu.addUser("s3"), content: Q, mentionBot: true });
    await emu.waitForRequest((r) => replyTo(c.id)(r) && !r.fault, 10_000);

    const ia = emu.sendSlashCommand({ name: "reindex", user: emu.addUser("s4") });
    const failed = await emu.waitForInteractionResponse(ia);
    expect(failed.body.content).toMatch(/^Rebuilding failed: could not read \[token\]/);

    expect(logs.lines.filter((l) => l.level >= 50).length).toBeGreaterThanOrEqual(3);
    expect(logs.raw.join("\n")).toContain("[token]");
    expect(logs.raw.join("\n")).not.toContain(TOKEN);
    expect(logs.raw.join("\n")).not.toContain(TOKEN.split(".")[2]);
    // outside the injected fault bodies (the emulator's own answers), nothing sent or received holds the token
    const sent = JSON.stringify(emu.requests.map((r) => r.body)) + JSON.stringify(emu.gatewayFrames.filter((f) => f.direction === "in"));
    expect(sent).not.toContain(TOKEN);
  });
});

describe("HEALTH_PORT: /healthz and /metrics", () => {
  let emu: DiscordEmulator;
  let bot: BotHandle;
  let base: string;

  beforeAll(async () => {
    emu = await DiscordEmulator.start();
    bot = await runBot({
      citebot: core.citebot,
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, health: { port: 0, host: "127.0.0.1" }, rateLimit: { max: 1, windowMs: 60_000 } }),
      logger: captureLogs().logger,
    });
    base = `http://127.0.0.1:${bot.health!.port}`;
  });
  afterAll(async () => {
    emu.rejectConnections = false;
    await bot?.stop();
    await emu?.stop();
  });

  it("/metrics counts questions by source, latency, abstentions, rate limits, errors and the queue", async () => {
    const u = emu.addUser("metrics");
    const m1 = emu.sendMessage({ author: u, content: "whats the current price of bitcoin", mentionBot: true });
    await emu.waitForRequest(replyTo(m1.id));
    const m2 = emu.sendMessage({ author: u, content: Q, mentionBot: true });
    await emu.waitForRequest(replyTo(m2.id));
    const ia = emu.sendSlashCommand({ name: "ask", options: { question: Q }, user: emu.addUser("metrics2") });
    await emu.waitForInteractionResponse(ia);
    await sleep(50);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/citebot_questions_total\{source="mention"\} 2/);
    expect(text).toMatch(/citebot_questions_total\{source="ask"\} 1/);
    expect(text).toMatch(/citebot_abstentions_total\{source="mention"\} 1/);
    expect(text).toMatch(/citebot_rate_limited_total\{source="mention",notified="true"\} 1/);
    expect(text).toMatch(/citebot_answer_duration_seconds_count\{source="ask"\} 1/);
    expect(text).toMatch(/citebot_answer_duration_seconds_bucket\{le="0.25",source="mention"\}/);
    expect(text).toMatch(/# TYPE citebot_errors_total counter/);
    expect(text).toMatch(/citebot_queue_depth 0/);
    expect(text).toMatch(/citebot_queue_max 200/);
    expect(text).toMatch(/citebot_gateway_connected 1/);
    expect(text).toMatch(/citebot_process_resident_memory_bytes/);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: "POST" })).status).toBe(405);
  });

  it("/healthz is 503 while the gateway is down and 200 once it is back", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    emu.rejectConnections = true;
    emu.closeGateway(4000);
    await waitUntil(() => !bot.healthReport().ok, 5000, "the bot to notice");
    const down = await fetch(`${base}/healthz`);
    expect(down.status).toBe(503);
    const body = (await down.json()) as { ok: boolean; gateway: string; index: { loaded: boolean } };
    expect(body.ok).toBe(false);
    expect(body.gateway).not.toBe("ready");
    expect(body.index.loaded).toBe(true);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/citebot_gateway_connected 0/);
    emu.rejectConnections = false;
    await waitUntil(() => bot.healthReport().ok, 20_000, "the bot to reconnect");
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  }, 30_000);
});
