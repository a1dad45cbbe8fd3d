// /reindex (server managers only): re-read the articles, rebuild the index if they changed, and
// answer from the new one at once, without a restart. Hidden from members without Manage Server
// (default_member_permissions) and checked again at run time, since server admins can override
// who sees a command.
import { InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from "discord.js";
import { defer, deliver, notice } from "../context.js";
import { errInfo, redactSecrets } from "../errors.js";
import { NO_PINGS, TEXT } from "../render.js";
import type { Command } from "./command.js";

export const reindex: Command = {
  everywhere: true,
  data: new SlashCommandBuilder()
    .setName("reindex")
    .setDescription("Re-read the articles and rebuild the index if they changed (Manage Server only).")
    .setContexts(InteractionContextType.Guild)
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild),

  async execute(ctx, interaction) {
    const log = ctx.log.child({ command: "reindex", userId: interaction.user.id, guildId: interaction.guildId });
    if (!interaction.inGuild() || !interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
      log.warn("refused /reindex: the member lacks Manage Server");
      return notice(interaction, TEXT.notAdmin);
    }
    if (!ctx.index) return notice(interaction, "This bot can't rebuild its index while running; restart it after `npm run index`.");
    if (ctx.index.rebuilding) return notice(interaction, "A rebuild is already running; its result will show in the bot's log.");
    const started = Date.now();
    // Started before anything is awaited, so a second /reindex sees it running.
    const job = ctx.index.reindex();
    job.catch(() => undefined);
    await defer(ctx, interaction, true);
    let content: string;
    try {
      const status = await job;
      const articles = ctx.citebot.articles().length;
      if (status.index === "built") {
        const s = status.stats;
        content =
          `Rebuilt the index (${status.reason ?? "requested"}): ${articles} article${articles === 1 ? "" : "s"}` +
          (s ? `, ${s.passages} sentences (${s.embedded} embedded, ${s.reused} reused) in ${s.seconds.toFixed(1)} s` : "") +
          ". Answers now come from it.";
      } else content = `The index is already up to date (${articles} article${articles === 1 ? "" : "s"}).`;
      if (status.skipped.length) content += ` Skipped ${status.skipped.length} unusable file${status.skipped.length === 1 ? "" : "s"} (see the log).`;
      for (const sk of status.skipped) log.warn({ file: sk.file, reason: sk.reason }, "skipped a corpus file");
      log.info({ index: status.index, reason: status.reason, articles, ms: Date.now() - started }, "reindexed");
    } catch (err) {
      ctx.metrics.errors.inc({ where: "reindex" });
      log.error({ err: errInfo(err) }, "reindex failed; still answering from the previous index");
      const kind = (err as { kind?: string })?.kind;
      const hint =
        kind === "memory"
          ? " Remove or fix the file it was working on, or raise INDEX_BUILD_MEMORY_MB."
          : kind === "timeout"
            ? " Remove or fix the file it was working on, or raise INDEX_BUILD_TIMEOUT_SECONDS."
            : "";
      content = `Rebuilding failed: ${redactSecrets((err as Error)?.message ?? String(err)).slice(0, 400)}. I'm still answering from the previous index.${hint}`;
    }
    await deliver(ctx, "edit", () => interaction.editReply({ content, allowedMentions: NO_PINGS }));
  },
};
