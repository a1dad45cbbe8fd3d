import { describe, expect, it } from "vitest";
import { BotConfigError, loadBotConfig } from "../../src/bot/config.js";
import { configWarnings } from "../../src/bot/main.js";

const ID = "123456789012345678";

function problems(env: Record<string, string>): string[] {
  try {
    loadBotConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(BotConfigError);
    return (err as BotConfigError).problems;
  }
  return [];
}

describe("loadBotConfig", () => {
  it("needs only the token, and fills in defaults", () => {
    expect(loadBotConfig({ DISCORD_TOKEN: "abc.def.ghi" })).toEqual({
      token: "abc.def.ghi",
      clientId: undefined,
      guildId: undefined,
      answerChannels: [],
      allowedChannels: [],
      allowedRoles: [],
      messageContentIntent: false,
      answerInThread: false,
      rateLimit: { max: 5, windowMs: 60_000 },
      answerExcerpts: 3,
      apiUrl: undefined,
      queue: { concurrency: 2, max: 200 },
      health: undefined,
      indexWatch: true,
      shutdownTimeoutMs: 10_000,
    });
  });

  it("reads every variable", () => {
    const c = loadBotConfig({
      DISCORD_TOKEN: "Bot abc.def",
      DISCORD_CLIENT_ID: ID,
      DISCORD_GUILD_ID: ID,
      ANSWER_CHANNELS: ` ${ID}, 223456789012345678 ,`,
      ALLOWED_CHANNELS: "323456789012345678",
      ALLOWED_ROLES: `${ID},423456789012345678`,
      MESSAGE_CONTENT_INTENT: "true",
      ANSWER_IN_THREAD: "yes",
      RATE_LIMIT_MAX: "2",
      RATE_LIMIT_WINDOW_SECONDS: "1.5",
      ANSWER_EXCERPTS: "10",
      DISCORD_API_URL: "http://127.0.0.1:1234/api/",
      QUEUE_CONCURRENCY: "4",
      QUEUE_MAX: "50",
      HEALTH_PORT: "9464",
      HEALTH_HOST: "0.0.0.0",
      INDEX_WATCH: "false",
      SHUTDOWN_TIMEOUT_SECONDS: "2.5",
    });
    expect(c).toEqual({
      token: "abc.def",
      clientId: ID,
      guildId: ID,
      answerChannels: [ID, "223456789012345678"],
      allowedChannels: ["323456789012345678"],
      allowedRoles: [ID, "423456789012345678"],
      messageContentIntent: true,
      answerInThread: true,
      rateLimit: { max: 2, windowMs: 1500 },
      answerExcerpts: 10,
      apiUrl: "http://127.0.0.1:1234/api",
      queue: { concurrency: 4, max: 50 },
      health: { port: 9464, host: "0.0.0.0" },
      indexWatch: false,
      shutdownTimeoutMs: 2500,
    });
  });

  it("a missing token says how to get one; blank values count as unset", () => {
    const p = problems({ DISCORD_TOKEN: "  ", DISCORD_GUILD_ID: "" });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^DISCORD_TOKEN is missing\. Get one at https:\/\/discord\.com\/developers\/applications/);
  });

  it("names every bad variable at once, and never echoes the token", () => {
    const secret = "secret token'with quotes";
    const p = problems({
      DISCORD_TOKEN: secret,
      DISCORD_CLIENT_ID: "my-app",
      DISCORD_GUILD_ID: "12",
      ANSWER_CHANNELS: `${ID},general`,
      MESSAGE_CONTENT_INTENT: "maybe",
      RATE_LIMIT_MAX: "0",
      RATE_LIMIT_WINDOW_SECONDS: "-1",
      ANSWER_EXCERPTS: "11",
      DISCORD_API_URL: "ftp://x",
    });
    expect(p.map((x) => x.split(" ")[0])).toEqual([
      "DISCORD_TOKEN",
      "DISCORD_CLIENT_ID",
      "DISCORD_GUILD_ID",
      "ANSWER_CHANNELS",
      "MESSAGE_CONTENT_INTENT",
      "RATE_LIMIT_MAX",
      "RATE_LIMIT_WINDOW_SECONDS",
      "ANSWER_EXCERPTS",
      "DISCORD_API_URL",
    ]);
    expect(p.join("\n")).not.toContain("secret");
  });

  it("rejects bad queue, health, watch and shutdown settings", () => {
    const p = problems({
      DISCORD_TOKEN: "abc.def",
      QUEUE_CONCURRENCY: "0",
      QUEUE_MAX: "many",
      HEALTH_PORT: "70000",
      HEALTH_HOST: "127.0.0.1; rm -rf /",
      INDEX_WATCH: "sometimes",
      SHUTDOWN_TIMEOUT_SECONDS: "-3",
    });
    expect(p.map((x) => x.split(" ")[0])).toEqual(["QUEUE_CONCURRENCY", "QUEUE_MAX", "HEALTH_PORT", "HEALTH_HOST", "INDEX_WATCH", "SHUTDOWN_TIMEOUT_SECONDS"]);
    // HEALTH_HOST alone does not turn the server on; HEALTH_PORT=0 picks a free port
    expect(loadBotConfig({ DISCORD_TOKEN: "t", HEALTH_HOST: "0.0.0.0" }).health).toBeUndefined();
    expect(loadBotConfig({ DISCORD_TOKEN: "t", HEALTH_PORT: "0" }).health).toEqual({ port: 0, host: "127.0.0.1" });
  });

  it("warns when answer channels are set without the Message Content intent", () => {
    const c = loadBotConfig({ DISCORD_TOKEN: "t", ANSWER_CHANNELS: ID });
    expect(configWarnings(c)[0]).toMatch(/MESSAGE_CONTENT_INTENT=true/);
    expect(configWarnings({ ...c, messageContentIntent: true })).toEqual([]);
  });
});
