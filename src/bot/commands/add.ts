// /add file:<attachment> | url:<link> [title:] [date:] (Manage Server only): download (limits in
// articles/fetch.ts), convert (articles/convert.ts), check with the corpus loader on a temporary
// copy, save into the corpus folder, then rebuild the index the way /reindex does (Citebot.rebuild,
// in a child process). The whole index is rebuilt (unchanged sentences reuse their embeddings);
// true incremental indexing arrives with the store. A bad file gets a clear reply and changes nothing;
// a failed rebuild takes the file out again. Every step is logged.
import { unlinkSync } from "node:fs";
import path from "node:path";
import { type ChatInputCommandInteraction, InteractionContextType, PermissionFlagsBits, SlashCommandBuilder } from "discord.js";
import { ConvertError, convert, FORMATS, type Format, formatOfName, formatOfType } from "../articles/convert.js";
import { type Fetched, FetchRefused, formatBytes, safeFetch } from "../articles/fetch.js";
import { AddError, commit, discard, stage } from "../articles/library.js";
import { ADD_DEFAULTS, type AddLimits } from "../config.js";
import { type BotContext, defer, deliver, notice } from "../context.js";
import { errInfo, redactSecrets } from "../errors.js";
import { fit, NO_PINGS, userText } from "../render.js";
import type { Command } from "./command.js";

export const NOT_ADMIN = "Only members with the Manage Server permission can add or remove articles.";

/** One change to the corpus at a time (per bot). */
const changing = new WeakSet<BotContext>();

/** Whether the corpus can be changed now; otherwise says why (privately) and returns false. */
export async function mayChangeCorpus(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<string | false> {
  if (!interaction.inGuild() || !interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
    ctx.log.warn({ command: interaction.commandName, userId: interaction.user.id }, `refused /${interaction.commandName}: the member lacks Manage Server`);
    await notice(interaction, NOT_ADMIN);
    return false;
  }
  const corpusDir = ctx.citebot.corpusDir;
  if (!ctx.index || !corpusDir) {
    await notice(interaction, "This bot can't change its articles while running; add files to the corpus folder and run `npm run index`.");
    return false;
  }
  if (ctx.index.rebuilding || changing.has(ctx)) {
    await notice(interaction, "The articles are being updated right now (an /add, /remove or /reindex is running). Try again in a minute.");
    return false;
  }
  return corpusDir;
}

export function lockCorpus(ctx: BotContext): () => void {
  changing.add(ctx);
  return () => changing.delete(ctx);
}

export function limitsOf(ctx: BotContext): AddLimits {
  return { ...ADD_DEFAULTS, ...ctx.config.add };
}

export const add: Command = {
  everywhere: true,
  data: new SlashCommandBuilder()
    .setName("add")
    .setDescription("Add an article from a file or a link (Manage Server only).")
    .setContexts(InteractionContextType.Guild)
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .addAttachmentOption((o) => o.setName("file").setDescription("A .txt, .md, .html, .pdf or .docx file"))
    .addStringOption((o) => o.setName("url").setDescription("A link to an article (http or https)").setMaxLength(2000))
    .addStringOption((o) => o.setName("title").setDescription("Its title (default: from the document)").setMaxLength(200))
    .addStringOption((o) => o.setName("date").setDescription("Its publication date, e.g. 2021-06-17").setMaxLength(40)),

  async execute(ctx, interaction) {
    const log = ctx.log.child({ command: "add", userId: interaction.user.id, guildId: interaction.guildId, interactionId: interaction.id });
    const file = interaction.options.getAttachment("file");
    const url = interaction.options.getString("url")?.trim();
    if (!file === !url) return notice(interaction, "Give me either a file (`file:`) or a link (`url:`), one of the two.");
    const corpusDir = await mayChangeCorpus(ctx, interaction);
    if (!corpusDir) return;
    const unlock = lockCorpus(ctx);
    try {
      await defer(ctx, interaction, true);
      const limits = limitsOf(ctx);
      const meta: { title?: string; date?: string } = {
        title: interaction.options.getString("title")?.trim() || undefined,
        date: interaction.options.getString("date")?.trim() || undefined,
      };
      const started = Date.now();
      let content: string;
      try {
        // 1. Download.
        let fetched: Fetched;
        let format: Format;
        let origin: string | undefined;
        if (file) {
          const f = formatOfName(file.name);
          if (!f) throw new AddError(`${fit(file.name, 100, userText)} is not a file type I can add (.txt, .md, .html, .pdf or .docx)`);
          if (file.size > limits.maxBytes) throw new FetchRefused(`it is ${formatBytes(file.size)}; the limit is ${formatBytes(limits.maxBytes)}`, "size");
          format = f;
          log.info({ step: "download", file: file.name, size: file.size, format }, "downloading the attachment");
          // Discord's CDN states the type it was uploaded with; a generic or missing one is fine, a contradicting one is not.
          fetched = await safeFetch(file.url, { ...limits, accept: (t) => !t || t === "application/octet-stream" || FORMATS[f].types.includes(t) });
        } else {
          origin = url!;
          log.info({ step: "download", url: origin }, "downloading the link");
          fetched = await safeFetch(origin, { ...limits, accept: (t) => formatOfType(t) !== undefined });
          format = formatOfType(fetched.contentType)!;
        }
        log.info(
          { step: "downloaded", bytes: fetched.bytes.length, contentType: fetched.contentType, format, finalUrl: origin ? fetched.url : undefined },
          "downloaded",
        );
        // 2. Convert and 3. check with the corpus loader on a temporary copy.
        if (format === "html" && origin) {
          // The page's own title and date, read by the corpus loader, go into the header beside the
          // link: the loader lets a header's fields override the page's, even fields it leaves empty.
          const probe = await stage(await convert(fetched.bytes, "html", {}), []);
          discard(probe);
          const own = probe.article;
          meta.title ??= own.title !== "new-article" ? own.title : undefined;
          meta.date ??= own.date;
        }
        const converted = await convert(fetched.bytes, format, { ...meta, url: origin ? fetched.url : undefined });
        const staged = await stage(converted, ctx.citebot.articles());
        log.info({ step: "checked", title: staged.article.title, chars: staged.article.text.length }, "the file loads as an article");
        // 4. Save into the corpus.
        let saved: string;
        try {
          saved = commit(staged, corpusDir);
        } catch (err) {
          discard(staged);
          throw err;
        }
        log.info({ step: "saved", file: saved, corpusDir }, "saved in the corpus folder");
        // 5. Rebuild (the same path as /reindex); a failure takes the file out again.
        log.info({ step: "rebuild" }, "rebuilding the index (the whole index: incremental indexing arrives with the store)");
        try {
          await ctx.index!.reindex();
        } catch (err) {
          unlinkSync(path.join(corpusDir, saved));
          log.error({ err: errInfo(err), step: "rebuild", file: saved }, "the rebuild failed; removed the new file again");
          throw new AddError(
            `rebuilding the index failed (${redactSecrets((err as Error)?.message ?? String(err)).slice(0, 300)}), so I took the file out again. I'm still answering from the previous index`,
          );
        }
        const article = ctx.citebot.articles().find((a) => a.file === saved);
        if (!article) {
          unlinkSync(path.join(corpusDir, saved));
          await ctx.index!.reindex().catch(() => undefined);
          throw new AddError("the rebuilt index left it out (see the log), so I took the file out again");
        }
        const sentences = (await ctx.citebot.passages(article.id)).length;
        const byline = [article.source, article.date].filter(Boolean).join(" · ");
        const total = ctx.citebot.articles().length;
        content =
          `Added “${fit(article.title, 200)}”${byline ? ` (${fit(byline, 100)})` : ""} as \`${saved}\`: ${sentences} sentence${sentences === 1 ? "" : "s"}. ` +
          `I'm answering from it now (${total} articles in the archive).`;
        log.info({ step: "done", file: saved, article: article.id, sentences, ms: Date.now() - started }, "article added");
      } catch (err) {
        if (!(err instanceof FetchRefused || err instanceof ConvertError || err instanceof AddError)) throw err;
        const reason = err instanceof FetchRefused ? err.reason : err instanceof ConvertError ? "convert" : "check";
        log.warn({ step: "refused", reason, why: err.message }, "article not added");
        content = `I couldn't add ${file ? `the file “${fit(file.name, 100, userText)}”` : "that link"}: ${err.message}. Nothing was changed.`;
      }
      await deliver(ctx, "edit", () => interaction.editReply({ content: fit(content, 2000, (s) => s), allowedMentions: NO_PINGS }));
    } finally {
      unlock();
    }
  },
};
