// /remove article:<autocomplete> (Manage Server only): deletes the article's file from the corpus
// folder and rebuilds the index the way /reindex does. If the rebuild fails, the file is put back.
import { InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from "discord.js";
import { AddError, removeFile, restoreFile } from "../articles/library.js";
import { defer, deliver, notice } from "../context.js";
import { errInfo, redactSecrets } from "../errors.js";
import { fit, NO_PINGS, userText } from "../render.js";
import { lockCorpus, mayChangeCorpus } from "./add.js";
import type { Command } from "./command.js";
import { resolveArticle, source } from "./source.js";

export const remove: Command = {
  everywhere: true,
  data: new SlashCommandBuilder()
    .setName("remove")
    .setDescription("Remove an article and rebuild the index (Manage Server only).")
    .setContexts(InteractionContextType.Guild)
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .addStringOption((o) => o.setName("article").setDescription("Start typing a title").setRequired(true).setAutocomplete(true).setMaxLength(100)),

  // The same suggestions as /source.
  autocomplete: source.autocomplete,

  async execute(ctx, interaction) {
    const log = ctx.log.child({ command: "remove", userId: interaction.user.id, guildId: interaction.guildId, interactionId: interaction.id });
    const value = interaction.options.getString("article", true);
    const corpusDir = await mayChangeCorpus(ctx, interaction);
    if (!corpusDir) return;
    const article = resolveArticle(ctx, value);
    if (!article)
      return notice(interaction, `I can't find an article matching “${fit(value, 100, userText)}”. Pick one from the suggestions, or see \`/sources\`.`);
    if (ctx.citebot.articles().length <= 1)
      return notice(interaction, "That is the only article in the archive; I need at least one to answer from. Add another first.");
    const unlock = lockCorpus(ctx);
    try {
      await defer(ctx, interaction, true);
      let content: string;
      let removed: { abs: string; bytes: Buffer } | undefined;
      try {
        removed = removeFile(corpusDir, article.file);
        log.info({ step: "deleted", file: article.file, article: article.id }, "deleted the article's file");
        log.info({ step: "rebuild" }, "rebuilding the index");
        await ctx.index!.reindex();
        const total = ctx.citebot.articles().length;
        content = `Removed “${fit(article.title, 200)}” (\`${article.file}\`). ${total} article${total === 1 ? "" : "s"} left in the archive; answers no longer quote it.`;
        log.info({ step: "done", file: article.file, articles: total }, "article removed");
      } catch (err) {
        if (err instanceof AddError) {
          content = `I couldn't remove it: ${err.message}. Nothing was changed.`;
        } else {
          log.error({ err: errInfo(err), file: article.file }, "removing failed; putting the file back");
          if (removed) {
            try {
              restoreFile(removed.abs, removed.bytes);
            } catch (e) {
              log.error({ err: errInfo(e), file: article.file }, "could not put the file back");
            }
          }
          content = `Removing it failed (${redactSecrets((err as Error)?.message ?? String(err)).slice(0, 300)}); I put the file back and I'm still answering from the previous index.`;
        }
      }
      await deliver(ctx, "edit", () => interaction.editReply({ content, allowedMentions: NO_PINGS }));
    } finally {
      unlock();
    }
  },
};
