// An answer for a channel where the bot lacks Embed Links: Discord silently drops embeds there, so
// the usual reply would be its one-line lead and nothing else. This form carries the same excerpts
// and citations in the message text (within the 2000-character limit), plus a short note for the
// server's admins. Chosen per channel from the bot's permissions (see canEmbed).
import { type Message, PermissionFlagsBits, type PermissionsBitField, type RepliableInteraction } from "discord.js";
import type { Answer } from "../types.js";
import { type AnswerRenderOptions, answerButtons, citationLine, fit, LIMITS, plain, type Rendered, renderAnswer, renderExcerpt, safe } from "./render.js";

export const NO_EMBEDS_NOTE = "-# I can't show excerpt cards in this channel (I'm missing the Embed Links permission), so here they are as text.";

/** Whether the bot may embed in the channel of a message (true where it can't tell, e.g. DMs). */
export function canEmbedIn(message: Message): boolean {
  if (!message.inGuild()) return true;
  const perms = message.channel.permissionsFor(message.client.user);
  return perms ? perms.has(PermissionFlagsBits.EmbedLinks) : true;
}

/** The same for an interaction: Discord sends the bot's permissions in its channel with it. */
export function canEmbedFor(interaction: RepliableInteraction): boolean {
  const perms = interaction.appPermissions as PermissionsBitField | null | undefined;
  return perms ? perms.has(PermissionFlagsBits.EmbedLinks) : true;
}

/** The answer's lead line, then each excerpt as "**[n] Title** · citation" and a quote, all in the content. */
export function renderAnswerPlain(answer: Answer, opts: AnswerRenderOptions = {}): Rendered {
  const rich = renderAnswer(answer, opts);
  const hits = answer.hits;
  const head = rich.content;
  const budget = LIMITS.content - head.length - NO_EMBEDS_NOTE.length - 4;
  const heads = hits.map((h) => {
    const label = `${!answer.answered ? "Related · " : ""}[${h.rank}] `;
    return `**${safe(label)}${fit(h.article.title || h.article.id, 120)}** · ${fit(citationLine(h), 100, plain)}`;
  });
  // Share what is left between the excerpts; each at least enough for a readable sentence.
  const overhead = heads.reduce((n, h) => n + h.length + 5, 0);
  const perExcerpt = Math.max(60, Math.floor((budget - overhead) / Math.max(1, hits.length)));
  const blocks: string[] = [];
  let used = 0;
  hits.forEach((h, i) => {
    const excerpt = (renderExcerpt(h.context, h.highlights, perExcerpt) || fit(h.text, perExcerpt)).replace(/\n/g, " ");
    const block = `${heads[i]}\n> ${excerpt}`;
    if (used + block.length + 2 > budget) return;
    blocks.push(block);
    used += block.length + 2;
  });
  const content = [head, ...blocks, NO_EMBEDS_NOTE].join("\n\n");
  const components = answerButtons({ moreCustomId: answer.more && blocks.length ? opts.moreCustomId : undefined, feedbackKey: opts.feedbackKey });
  return { content, embeds: [], components };
}

/** The answer in the form the channel can show. */
export function renderAnswerFor(answer: Answer, embeds: boolean, opts: AnswerRenderOptions = {}): Rendered {
  return embeds ? renderAnswer(answer, opts) : renderAnswerPlain(answer, opts);
}
