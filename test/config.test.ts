// One config: every variable is declared in src/config.ts, documented in .env.example, blank means
// the default everywhere, and no message ever repeats a value. Then every command is started with
// .env.example's values exactly, as a newcomer's `cp .env.example .env` gives them.
import fs from "node:fs";
import path from "node:path";
import dotenv from "dotenv";
import { afterAll, describe, expect, it } from "vitest";
import { BotConfigError, loadBotConfig } from "../src/bot/config.js";
import { inviteUrl } from "../src/bot/invite.js";
import { ConfigError, loadCoreConfig, loadLogConfig, readBotEnv, VARIABLES, type VariableName } from "../src/config.js";
import { cleanupTmp, mkTmp, REAL_CORPUS, ROOT, runChild } from "./helpers.js";

const EXAMPLE = dotenv.parse(fs.readFileSync(path.join(ROOT, ".env.example"), "utf8"));
const NAMES = Object.keys(VARIABLES) as VariableName[];

afterAll(cleanupTmp);

describe("the variables", () => {
  it(".env.example lists every variable citebot reads, and only those, all blank", () => {
    expect(Object.keys(EXAMPLE).sort()).toEqual([...NAMES].sort());
    for (const value of Object.values(EXAMPLE)) expect(value).toBe("");
  });

  it("blank means the default for the core, the logger and the bot", () => {
    expect(loadCoreConfig(EXAMPLE)).toEqual({
      CORPUS_DIR: REAL_CORPUS,
      DATA_DIR: path.join(ROOT, "data"),
      EMBED_MODEL: "all-MiniLM-L6-v2",
      EMBED_REMOTE_HOST: undefined,
      STORE: "files",
      DATABASE_URL: undefined,
      PG_SCHEMA: "citebot",
      DEBUG: false,
      NO_COLOR: false,
    });
    expect(loadLogConfig(EXAMPLE, false)).toEqual({ level: "info", format: "json" });
    expect(loadBotConfig({ ...EXAMPLE, DISCORD_TOKEN: "abc.def" })).toMatchObject({
      token: "abc.def",
      rateLimit: { max: 5, windowMs: 60_000 },
      indexWatch: true,
    });
    // The token alone is required, and the message says how to get one.
    expect(() => readBotEnv(EXAMPLE)).toThrow(/^DISCORD_TOKEN is missing\. Get one at https:\/\/discord\.com\/developers\/applications/);
  });

  it("LOG_FORMAT: pretty on a terminal, json otherwise, unless set", () => {
    expect(loadLogConfig({}, true).format).toBe("pretty");
    expect(loadLogConfig({}, false).format).toBe("json");
    expect(loadLogConfig({ LOG_FORMAT: "json" }, true).format).toBe("json");
    expect(loadLogConfig({ LOG_FORMAT: " pretty " }, false)).toEqual({ level: "info", format: "pretty" });
    expect(() => loadLogConfig({ LOG_FORMAT: "xml" })).toThrow(/^LOG_FORMAT must be pretty or json\.$/);
  });

  it("a bad value is named, never echoed: a token pasted into any variable stays off the screen", () => {
    const token = "MTA4NzY1NDMyMTA5ODc2NTQzMg.GhIjKl.secret_part-of-the-token";
    const bad: Partial<Record<VariableName, string>> = {
      EMBED_REMOTE_HOST: token,
      STORE: token,
      DATABASE_URL: `postgresql://u:${token} x@h/db`,
      LOG_LEVEL: token,
      LOG_FORMAT: token,
      DISCORD_CLIENT_ID: token,
      DISCORD_GUILD_ID: token,
      ANSWER_CHANNELS: token,
      MESSAGE_CONTENT_INTENT: token,
      RATE_LIMIT_MAX: token,
      RATE_LIMIT_WINDOW_SECONDS: token,
      ANSWER_EXCERPTS: token,
      QUEUE_CONCURRENCY: token,
      QUEUE_MAX: token,
      HEALTH_PORT: token,
      HEALTH_HOST: `${token} ; x`,
      INDEX_WATCH: token,
      SHUTDOWN_TIMEOUT_SECONDS: token,
      DISCORD_API_URL: token,
      DISCORD_TOKEN: `"${token}"`,
    };
    const problems: string[] = [];
    for (const load of [() => loadCoreConfig(bad), () => loadLogConfig(bad), () => loadBotConfig(bad)]) {
      try {
        load();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        problems.push(...(err as ConfigError).problems);
        expect((err as Error).message).not.toContain("secret_part");
      }
    }
    expect(problems.map((p) => p.split(" ")[0]).sort()).toEqual(Object.keys(bad).sort());
    for (const p of problems) expect(p).not.toContain("secret_part");
    expect(() => loadBotConfig(bad)).toThrow(BotConfigError);
  });
});

describe("STORE and DATABASE_URL", () => {
  it("postgres needs a URL; the URL is kept as given and never echoed when bad", () => {
    expect(() => loadCoreConfig({ STORE: "postgres" })).toThrow(/^STORE=postgres needs DATABASE_URL/);
    const url = "postgresql://citebot:pw@127.0.0.1:5432/citebot";
    expect(loadCoreConfig({ STORE: "postgres", DATABASE_URL: url })).toMatchObject({ STORE: "postgres", DATABASE_URL: url });
    expect(() => loadCoreConfig({ STORE: "postgres", DATABASE_URL: "mysql://u:hunter2@h/db" })).toThrow(
      /^DATABASE_URL must be a PostgreSQL connection URL[^\n]*$/,
    );
    const err = (() => {
      try {
        loadCoreConfig({ DATABASE_URL: "mysql://u:hunter2@h/db" });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/^DATABASE_URL must be/);
    expect(err?.message).not.toContain("hunter2");
  });
});

describe("the invite URL the bot logs at start-up", () => {
  it("asks for the bot and applications.commands scopes and the permission integer of the README", () => {
    const url = new URL(inviteUrl("123456789012345678"));
    expect(url.origin + url.pathname).toBe("https://discord.com/oauth2/authorize");
    expect(url.searchParams.get("client_id")).toBe("123456789012345678");
    expect(url.searchParams.get("scope")).toBe("bot applications.commands");
    expect(url.searchParams.get("permissions")).toBe("274877991936");
  });
  it("with ANSWER_IN_THREAD it also asks for Create Public Threads (the README's 309237730304)", () => {
    const url = new URL(inviteUrl("123456789012345678", { threads: true }));
    expect(url.searchParams.get("permissions")).toBe("309237730304");
    // the plain link is unchanged by that call
    expect(new URL(inviteUrl("123456789012345678")).searchParams.get("permissions")).toBe("274877991936");
  });
});

describe("every command, started with .env.example copied unchanged", () => {
  const dataDir = mkTmp("citebot-env-example-");
  /** bin/citebot.js with exactly .env.example's variables (dotenv never overrides them, so a developer's .env can't leak in). */
  const run = (args: string[]) =>
    runChild(process.execPath, [path.join(ROOT, "bin", "citebot.js"), ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...EXAMPLE, DATA_DIR: dataDir },
      timeoutMs: 60_000,
    });

  it("ask, index, sources and eval work; bot and register-commands refuse with the token message", async () => {
    const ask = await run(["ask", "What did Antonov say about cybersecurity?"]);
    expect(ask.code, ask.stderr).toBe(0);
    expect(ask.stdout).toMatch(/^\[1\] .*\n {4}— /);
    const [index, sources, evaluation, bot, register] = await Promise.all([
      run(["index"]),
      run(["sources"]),
      run(["eval", "test/eval/dev-qa.jsonl"]),
      run(["bot"]),
      run(["register-commands"]),
    ]);
    for (const r of [ask, index, sources, evaluation, bot, register]) {
      expect(r.stderr).not.toMatch(/unexpected error/i);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    expect(index.code).toBe(0);
    expect(index.stderr).toMatch(/The index is up to date\./);
    expect(sources.code).toBe(0);
    expect(sources.stdout).toMatch(/^#\s+Title/);
    expect(evaluation.stderr + evaluation.stdout).toMatch(/hit@1/i);
    for (const r of [bot, register]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/DISCORD_TOKEN is missing\. Get one at https:\/\/discord\.com\/developers\/applications/);
      expect(r.stderr.trim().split("\n")).toHaveLength(2); // "Bot configuration problem:" and the one problem
    }
  }, 120_000);
});
