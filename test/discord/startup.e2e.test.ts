// register-commands against the emulator, and the CLI's start-up failures: a missing token and a
// token Discord rejects end with a clear message, not a stack trace. Two runs go through the real
// `src/cli.ts bot` in a child process (seconds each, started together); the rest call the same
// entry points in-process.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { botConfig } from "../../src/bot/config.js";
import { registerCommands, registerCommandsFromCli, runBotFromCli } from "../../src/bot/main.js";
import { DiscordEmulator } from "./emulator.js";
import { captureLogs, cliEnv, PROJECT_ROOT, TSX } from "./helpers.js";
import { commandProblems } from "./limits.js";

/** Runs `tsx src/cli.ts <args>` with a controlled environment (a developer's .env can't leak in: every bot variable is set). */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, "src/cli.ts", ...args], {
      cwd: PROJECT_ROOT,
      env: cliEnv(env),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 40_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const noStackTrace = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

type Run = Awaited<ReturnType<typeof cli>>;
let emu: DiscordEmulator; // register-commands
let rejecting: DiscordEmulator; // the CLI's rejected token
let dataDir: string;
// Each CLI run costs seconds (tsx + model imports): they all start at once, and tests await their own.
let runs: { missing: Promise<Run>; rejected: Promise<Run> };
const REJECTED_TOKEN = "rejected-token-value";

beforeAll(async () => {
  emu = await DiscordEmulator.start();
  rejecting = await DiscordEmulator.start();
  dataDir = mkdtempSync(path.join(tmpdir(), "citebot-cli-"));
  runs = {
    missing: cli(["bot"], { DATA_DIR: dataDir }),
    rejected: cli(["bot"], { DATA_DIR: dataDir, DISCORD_TOKEN: REJECTED_TOKEN, DISCORD_API_URL: rejecting.apiUrl }),
  };
}, 60_000);

/** Runs an in-process CLI entry point with these variables set (and every other bot variable blank), capturing console output and the exit code. */
async function inProcess(fn: () => Promise<void>, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const names = [
    "DISCORD_TOKEN",
    "DISCORD_CLIENT_ID",
    "DISCORD_GUILD_ID",
    "ANSWER_CHANNELS",
    "MESSAGE_CONTENT_INTENT",
    "RATE_LIMIT_MAX",
    "RATE_LIMIT_WINDOW_SECONDS",
    "ANSWER_EXCERPTS",
    "DISCORD_API_URL",
    "QUEUE_CONCURRENCY",
    "QUEUE_MAX",
    "HEALTH_PORT",
    "HEALTH_HOST",
    "INDEX_WATCH",
    "SHUTDOWN_TIMEOUT_SECONDS",
  ];
  const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
  for (const n of names) process.env[n] = env[n] ?? "";
  const out = vi.spyOn(console, "log").mockImplementation(() => undefined);
  const err = vi.spyOn(console, "error").mockImplementation(() => undefined);
  const savedCode = process.exitCode;
  process.exitCode = undefined;
  try {
    await fn();
    return {
      code: Number(process.exitCode ?? 0),
      stdout: out.mock.calls.map((c) => c.join(" ")).join("\n"),
      stderr: err.mock.calls.map((c) => c.join(" ")).join("\n"),
    };
  } finally {
    process.exitCode = savedCode;
    out.mockRestore();
    err.mockRestore();
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  }
}

afterAll(async () => {
  await Promise.allSettled(Object.values(runs ?? {}));
  await emu?.stop();
  await rejecting?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("register-commands", () => {
  it("registers /ask, /source, /sources, /help, /reindex, /add, /remove and the message command Find sources in the guild when DISCORD_GUILD_ID is set", async () => {
    const result = await registerCommands({
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, clientId: emu.application.id, guildId: emu.guild.id }),
      logger: captureLogs().logger,
    });
    expect(result).toEqual({
      scope: "guild",
      applicationId: emu.application.id,
      guildId: emu.guild.id,
      commands: ["ask", "source", "sources", "help", "reindex", "add", "remove", "Find sources"],
    });
    const put = emu.requests.find((r) => r.method === "PUT")!;
    expect(put.path).toBe(`/applications/${emu.application.id}/guilds/${emu.guild.id}/commands`);
    expect(put.authorized).toBe(true);
    expect(put.status).toBe(200);
    expect(commandProblems(put.body)).toEqual([]);
    const byName = Object.fromEntries(put.body.map((c: any) => [c.name, c]));
    expect(byName.ask.options).toEqual([
      expect.objectContaining({ name: "question", type: 3, required: true }),
      expect.objectContaining({ name: "private", type: 5 }),
    ]);
    expect(byName.source.options).toEqual([
      expect.objectContaining({ name: "article", type: 3, required: true, autocomplete: true }),
      expect.objectContaining({ name: "query", type: 3 }),
      expect.objectContaining({ name: "passage", type: 4, min_value: 1 }),
    ]);
    for (const c of put.body.filter((c: any) => (c.type ?? 1) === 1)) expect(c.description.length).toBeLessThanOrEqual(100);
    // Find sources: a message command (type 3), in servers and DMs with the bot
    expect(byName["Find sources"]).toMatchObject({ type: 3, contexts: [0, 1] });
    expect(byName["Find sources"].description ?? "").toBe("");
    // /reindex: hidden from members without Manage Server (0x20), and not offered in DMs
    expect(byName.reindex).toMatchObject({ default_member_permissions: "32", contexts: [0] });
    // /add and /remove: the same, /add with an attachment option (type 11) or a link.
    expect(byName.add).toMatchObject({ default_member_permissions: "32", contexts: [0] });
    expect(byName.add.options.map((o: any) => [o.name, o.type])).toEqual([
      ["file", 11],
      ["url", 3],
      ["title", 3],
      ["date", 3],
    ]);
    expect(byName.remove).toMatchObject({
      default_member_permissions: "32",
      contexts: [0],
      options: [expect.objectContaining({ name: "article", autocomplete: true, required: true })],
    });
    expect(byName.ask.default_member_permissions ?? null).toBeNull();
  });

  it("registers globally without DISCORD_GUILD_ID, finding the application id from the token when DISCORD_CLIENT_ID is unset", async () => {
    const result = await registerCommands({ config: botConfig({ token: emu.token, apiUrl: emu.apiUrl }), logger: captureLogs().logger });
    expect(result.scope).toBe("global");
    expect(result.applicationId).toBe(emu.application.id);
    expect(emu.requests.some((r) => r.method === "GET" && r.path === "/applications/@me")).toBe(true);
    expect(emu.requests.find((r) => r.method === "PUT" && r.path === `/applications/${emu.application.id}/commands`)?.status).toBe(200);
    expect(emu.commands.get("global")?.map((c) => c.name)).toEqual(["ask", "source", "sources", "help", "reindex", "add", "remove", "Find sources"]);
  });

  it("explains a guild the bot can't register in", async () => {
    const err = await registerCommands({
      config: botConfig({ token: emu.token, apiUrl: emu.apiUrl, clientId: emu.application.id, guildId: "123456789012345678" }),
      logger: captureLogs().logger,
    }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/refused to register commands in guild 123456789012345678 \(Missing Access\)/);
    expect((err as Error).message).toMatch(/applications\.commands/);
  });

  it("the register-commands CLI entry registers and says where", async () => {
    const { code, stdout, stderr } = await inProcess(registerCommandsFromCli, {
      DISCORD_TOKEN: emu.token,
      DISCORD_CLIENT_ID: emu.application.id,
      DISCORD_GUILD_ID: emu.guild.id,
      DISCORD_API_URL: emu.apiUrl,
    });
    expect(stderr).not.toContain(emu.token);
    expect(code).toBe(0);
    expect(stdout).toContain(
      `Registered /ask, /source, /sources, /help, /reindex, /add, /remove, “Find sources” (message menu → Apps) in guild ${emu.guild.id}`,
    );
  });

  it("register-commands --clear removes a guild's copies (moving from guild to global commands)", async () => {
    const env = { DISCORD_TOKEN: emu.token, DISCORD_CLIENT_ID: emu.application.id, DISCORD_GUILD_ID: emu.guild.id, DISCORD_API_URL: emu.apiUrl };
    await inProcess(registerCommandsFromCli, env);
    expect(emu.commands.get(emu.guild.id)?.length).toBe(8);
    const { code, stdout } = await inProcess(() => registerCommandsFromCli({ clear: true }), env);
    expect(code).toBe(0);
    expect(stdout).toBe(`Removed citebot's slash commands from guild ${emu.guild.id}.`);
    expect(emu.commands.get(emu.guild.id)).toEqual([]);
  });
});

describe("npm run bot: start-up failures", () => {
  it("a missing token: a clear message on how to get one, exit code 1, no stack trace", async () => {
    const { code, stderr } = await runs.missing;
    expect(code).toBe(1);
    expect(stderr).toContain("DISCORD_TOKEN is missing");
    expect(stderr).toContain("https://discord.com/developers/applications");
    expect(stderr).toContain("Reset Token");
    noStackTrace(stderr);
  });

  it("a malformed variable is named with what it should be", async () => {
    const { code, stderr } = await inProcess(() => runBotFromCli(), {
      DISCORD_TOKEN: "some token with spaces",
      ANSWER_CHANNELS: "general",
      RATE_LIMIT_MAX: "lots",
      DISCORD_API_URL: rejecting.apiUrl,
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/DISCORD_TOKEN does not look like a bot token/);
    expect(stderr).toMatch(/ANSWER_CHANNELS must be a comma-separated list of channel ids/);
    expect(stderr).toMatch(/RATE_LIMIT_MAX must be a whole number/);
    expect(stderr).not.toContain("some token with spaces");
    noStackTrace(stderr);
  });

  it("a rejected token: the index is built first, then Discord's refusal is explained, exit code 1", async () => {
    const token = REJECTED_TOKEN;
    const { code, stderr } = await runs.rejected;
    expect(code).toBe(1);
    expect(stderr).toMatch(/Discord rejected DISCORD_TOKEN/);
    expect(stderr).toContain("Reset Token");
    expect(stderr).not.toContain(token);
    noStackTrace(stderr);
    // the index was built (or loaded) before the bot tried to log in
    const ready = stderr.indexOf("corpus ready");
    expect(ready).toBeGreaterThanOrEqual(0);
    expect(ready).toBeLessThan(stderr.indexOf("Discord rejected"));
    expect(existsSync(dataDir) && readdirSync(dataDir).length).toBeGreaterThan(0);
    const gw = rejecting.requests.filter((r) => r.path === "/gateway/bot");
    expect(gw.map((r) => [r.status, r.authorized])).toEqual([[401, false]]);
  });
});
