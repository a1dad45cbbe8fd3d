// The sharding settings and helpers: DISCORD_SHARDS parsing, which shard a process is (from the
// variables discord.js's ShardingManager sets), and Discord's guild → shard rule.
import { describe, expect, it } from "vitest";
import { BotConfigError, loadBotConfig } from "../../src/bot/config.js";
import { shardForGuild, shardOfProcess } from "../../src/bot/shards.js";

const TOKEN = "abc.def.ghi";

describe("DISCORD_SHARDS", () => {
  it("unset or blank: no sharding; auto; a whole number", () => {
    expect(loadBotConfig({ DISCORD_TOKEN: TOKEN }).shards).toBeUndefined();
    expect(loadBotConfig({ DISCORD_TOKEN: TOKEN, DISCORD_SHARDS: " " }).shards).toBeUndefined();
    expect(loadBotConfig({ DISCORD_TOKEN: TOKEN, DISCORD_SHARDS: "auto" }).shards).toBe("auto");
    expect(loadBotConfig({ DISCORD_TOKEN: TOKEN, DISCORD_SHARDS: "3" }).shards).toBe(3);
  });

  it.each(["0", "-1", "1.5", "two", "AUTO!", "5000"])("%s is refused by name, without repeating the value", (value) => {
    let err: unknown;
    try {
      loadBotConfig({ DISCORD_TOKEN: TOKEN, DISCORD_SHARDS: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BotConfigError);
    expect((err as BotConfigError).problems).toEqual([expect.stringMatching(/^DISCORD_SHARDS must be auto or a whole number/)]);
    expect((err as Error).message).not.toContain(`${value} `);
  });
});

describe("shardOfProcess", () => {
  it("reads the shard id and count a ShardingManager gives its shard processes", () => {
    expect(shardOfProcess({ SHARDING_MANAGER: "true", SHARDS: "1", SHARD_COUNT: "2" })).toEqual({ id: 1, count: 2 });
  });

  it("is undefined outside a ShardingManager (a SHARDS variable alone means nothing) and for nonsense", () => {
    expect(shardOfProcess({})).toBeUndefined();
    expect(shardOfProcess({ SHARDS: "0", SHARD_COUNT: "2" })).toBeUndefined();
    expect(shardOfProcess({ SHARDING_MANAGER: "true", SHARDS: "2", SHARD_COUNT: "2" })).toBeUndefined();
    expect(shardOfProcess({ SHARDING_MANAGER: "true", SHARDS: "[0,1]", SHARD_COUNT: "2" })).toBeUndefined();
  });
});

describe("shardForGuild", () => {
  it("is (guild_id >> 22) % count, on the id's full 64 bits; DMs go to shard 0", () => {
    // 2^22 * 5 + 3 → 5 once shifted: shard 1 of 2, shard 2 of 3, shard 0 of 5.
    const id = String(5n * 2n ** 22n + 3n);
    expect([shardForGuild(id, 2), shardForGuild(id, 3), shardForGuild(id, 5)]).toEqual([1, 2, 0]);
    // Beyond Number precision: a Number-based shift would be wrong here.
    const big = "1576226942653431815";
    expect(shardForGuild(big, 7)).toBe(Number((BigInt(big) >> 22n) % 7n));
    expect(shardForGuild(undefined, 4)).toBe(0);
    expect(shardForGuild(null, 4)).toBe(0);
  });
});
