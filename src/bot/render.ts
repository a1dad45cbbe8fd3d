// Answer → Discord message (content + embeds + components), always within Discord's limits.
// Article and user text is escaped (markdown) and defused (mentions) before it goes anywhere that
// renders; cuts happen at sentence boundaries when possible, else at a space, never inside a word
// (a single "word" longer than the whole budget is the only thing ever cut).
import { type APIActionRowComponent, type APIButtonComponent, type APIEmbed, ButtonStyle, ComponentType, escapeMarkdown } from "discord.js";
import { ASK_TEXT } from "../app/asker.js";
import type { Answer, Article, Hit } from "../types.js";
import { voteCustomId } from "./feedback.js";

export const LIMITS = {
  content: 2000,
  embeds: 10,
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  author: 256,
  embedTotal: 6000,
  choiceName: 100,
  customId: 100,
} as const;

export const COLORS = { answer: 0x5865f2, related: 0x99aab5, source: 0x3ba55c, info: 0x4f545c } as const;

/** Mentions stay visible but cannot ping: allowed_mentions is the real guard, this is the second one. */
export const NO_PINGS = { parse: [] as [], repliedUser: false };

export interface Rendered {
  content: string;
  embeds: APIEmbed[];
  components: APIActionRowComponent<APIButtonComponent>[];
}

const ELLIPSIS = "…";

/**
 * Breaks @everyone/@here and user/role mentions with a zero-width space so they render as text; the
 * other <…> tokens (channel and command mentions, custom emoji, timestamps) are shown literally too.
 */
export function defuseMentions(s: string): string {
  return s
    .replace(/@(everyone|here)/gi, "@\u200b$1")
    .replace(/<@([!&]?)(\d+)>/g, "<@\u200b$1$2>")
    .replace(/<(#|\/|a?:|t:)(?=[\w-])/g, "<$1\u200b");
}

/** Text that renders literally in a markdown field: markdown (masked links included) escaped, mentions defused. */
export function safe(s: string): string {
  return defuseMentions(escapeMaskedLinks(escapeMarkdown(s)));
}

/** "[text](" shown literally: every such opening bracket escaped (escapeMarkdown's option only catches the first per line). */
export function escapeMaskedLinks(s: string): string {
  return s.replace(/\[(?=[^\]\n]*\]\()/g, "\\[");
}

/** Breaks every URL scheme ("http://" → "http:\u200b//") so text shows a URL without making it a link or a preview. */
export function defuseLinks(s: string): string {
  return s.replace(/\b([a-z][a-z0-9+.-]{1,30}):\/\//gi, "$1:\u200b//");
}

/**
 * What a user typed, echoed back: rendered literally (markdown escaped, masked links shown as
 * text), mentions defused, links made inert, and curly quotes straightened so the echo can't
 * close the quotation marks it is shown in and seem to be the bot's own words.
 */
export function userText(s: string): string {
  return defuseLinks(safe(s.replace(/[\u201C\u201D\u201E\u201F\u2033\u301D\u301E\uFF02]/g, '"')));
}

/** Text for fields Discord shows without markdown (footer, author, choice names): only mentions defused. */
export function plain(s: string): string {
  return defuseMentions(s);
}

const SENTENCE_END = /[.!?…]["'”’)\]]*(?=\s)/g;

/** Largest cut in `cuts` (sorted ascending) whose rendering fits; -1 when none does. */
function largestFitting(cuts: number[], fits: (cut: number) => boolean): number {
  let lo = 0;
  let hi = cuts.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (fits(cuts[mid]!)) {
      best = cuts[mid]!;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/**
 * `transform(raw)` if it fits in `max`; otherwise the longest prefix ending at a sentence end
 * (when that keeps at least half the budget) or at a space, followed by an ellipsis.
 */
export function fit(raw: string, max: number, transform: (s: string) => string = safe): string {
  const text = raw.replace(/\s+/g, " ").trim();
  const full = transform(text);
  if (full.length <= max) return full;
  // "… " after a whole sentence, "…" glued to a word cut.
  const atSentence = (cut: number) => `${transform(text.slice(0, cut).trimEnd())} ${ELLIPSIS}`;
  const atWord = (cut: number) => `${transform(text.slice(0, cut).trimEnd())}${ELLIPSIS}`;
  const sentenceCuts = [...text.matchAll(SENTENCE_END)].map((m) => m.index! + m[0].length);
  const s = largestFitting(sentenceCuts, (cut) => atSentence(cut).length <= max);
  const wordCuts = [...text.matchAll(/\s/g)].map((m) => m.index!).filter((i) => i > 0);
  const w = largestFitting(wordCuts, (cut) => atWord(cut).length <= max);
  if (s > 0 && (s >= w || atSentence(s).length >= max / 2)) return atSentence(s);
  if (w > 0) return atWord(w);
  // One giant word: cut by code points, the only mid-word cut there is.
  const chars = Array.from(text);
  const idx = largestFitting(
    chars.map((_, i) => i + 1),
    (n) => `${transform(chars.slice(0, n).join(""))}${ELLIPSIS}`.length <= max,
  );
  return idx > 0 ? `${transform(chars.slice(0, idx).join(""))}${ELLIPSIS}` : ELLIPSIS.slice(0, max);
}

type Range = { start: number; end: number };

/** Highlight ranges sorted, clamped and merged when they touch or only whitespace separates them. */
function normalizeHighlights(context: string, highlights: Range[]): Range[] {
  const sorted = highlights
    .map((h) => ({ start: Math.max(0, h.start), end: Math.min(context.length, h.end) }))
    .filter((h) => h.end > h.start)
    .sort((a, b) => a.start - b.start);
  const out: Range[] = [];
  for (const h of sorted) {
    const last = out[out.length - 1];
    if (last && (h.start <= last.end || context.slice(last.end, h.start).trim() === "")) last.end = Math.max(last.end, h.end);
    else out.push({ ...h });
  }
  return out;
}

function bold(raw: string): string {
  const core = raw.trim();
  if (!core) return raw;
  const lead = raw.slice(0, raw.indexOf(core[0]!));
  const trail = raw.slice(raw.lastIndexOf(core[core.length - 1]!) + 1);
  return `${lead}**${safe(core)}**${trail}`;
}

function renderSpan(context: string, from: number, to: number, hl: Range[]): string {
  let out = "";
  let pos = from;
  for (const h of hl) {
    const s = Math.max(h.start, from);
    const e = Math.min(h.end, to);
    if (e <= s) continue;
    if (s > pos) out += safe(context.slice(pos, s));
    out += bold(context.slice(s, e));
    pos = e;
  }
  if (pos < to) out += safe(context.slice(pos, to));
  return out;
}

function sentenceUnits(text: string): Range[] {
  const units: Range[] = [];
  let start = text.search(/\S/);
  if (start < 0) return units;
  for (const m of text.matchAll(SENTENCE_END)) {
    const end = m.index! + m[0].length;
    if (end <= start) continue;
    units.push({ start, end });
    const next = text.slice(end).search(/\S/);
    if (next < 0) return units;
    start = end + next;
  }
  const end = text.trimEnd().length;
  if (end > start) units.push({ start, end });
  return units;
}

/**
 * The excerpt with its matched sentence(s) in bold, fitted to `max` characters: the highlighted
 * sentences are kept first, neighbours added while they fit, and cuts marked with "…".
 */
export function renderExcerpt(context: string, highlights: Range[], max: number): string {
  const text = context.replace(/\s+/g, " ");
  // Whitespace collapsing keeps offsets only if the context is already collapsed; re-map otherwise.
  const hl = normalizeHighlights(text, text === context ? highlights : remapHighlights(context, text, highlights));
  const full = renderSpan(text, 0, text.length, hl).trim();
  if (full.length <= max) return full;

  const units = sentenceUnits(text);
  if (!units.length) return "";
  const isHl = (u: Range) => hl.some((h) => h.start < u.end && h.end > u.start);
  let first = units.findIndex(isHl);
  let last = units.length - 1 - [...units].reverse().findIndex(isHl);
  if (first < 0) first = last = 0;
  const render = (a: number, b: number) =>
    `${a > 0 ? `${ELLIPSIS} ` : ""}${renderSpan(text, units[a]!.start, units[b]!.end, hl)}${b < units.length - 1 ? ` ${ELLIPSIS}` : ""}`;

  while (last > first && render(first, last).length > max) last--;
  if (render(first, last).length > max) {
    // Even the first matched sentence is too long: cut it at a space.
    const u = units[first]!;
    const prefix = first > 0 ? `${ELLIPSIS} ` : "";
    const cuts = [...text.slice(u.start, u.end).matchAll(/\s/g)].map((m) => u.start + m.index!).filter((i) => i > u.start);
    const fitsCut = (cut: number) => `${prefix}${renderSpan(text, u.start, cut, hl).trimEnd()} ${ELLIPSIS}`.length <= max;
    const cut = largestFitting(cuts, fitsCut);
    if (cut > 0) return `${prefix}${renderSpan(text, u.start, cut, hl).trimEnd()} ${ELLIPSIS}`;
    return fit(text.slice(u.start, u.end), max);
  }
  let a = first;
  let b = last;
  for (let grew = true; grew; ) {
    grew = false;
    if (b + 1 < units.length && render(a, b + 1).length <= max) {
      b++;
      grew = true;
    }
    if (a > 0 && render(a - 1, b).length <= max) {
      a--;
      grew = true;
    }
  }
  return render(a, b);
}

function remapHighlights(original: string, collapsed: string, highlights: Range[]): Range[] {
  // Map each original offset to its collapsed offset.
  const map: number[] = new Array(original.length + 1);
  let j = 0;
  let inSpace = false;
  for (let i = 0; i < original.length; i++) {
    map[i] = j;
    const ws = /\s/.test(original[i]!);
    if (!(ws && inSpace)) j++;
    inSpace = ws;
  }
  map[original.length] = Math.min(j, collapsed.length);
  return highlights.map((h) => ({ start: map[Math.max(0, h.start)] ?? 0, end: map[Math.min(original.length, h.end)] ?? collapsed.length }));
}

function httpUrl(u: string | undefined): string | undefined {
  if (!u || u.length > 2048) return undefined;
  try {
    const url = new URL(u);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** "sentences 5–7 of 40" (1-based, as users count). */
export function positionText({ first, last, total }: Hit["position"]): string {
  return first === last ? `sentence ${first + 1} of ${total}` : `sentences ${first + 1}–${last + 1} of ${total}`;
}

/** "Reuters · 2021-06-17 · sentences 5–7 of 40" */
export function citationLine(hit: Pick<Hit, "article" | "position">): string {
  return [hit.article.source, hit.article.date, positionText(hit.position)].filter(Boolean).join(" · ");
}

export function embedLength(e: APIEmbed): number {
  return (
    (e.title?.length ?? 0) +
    (e.description?.length ?? 0) +
    (e.footer?.text.length ?? 0) +
    (e.author?.name.length ?? 0) +
    (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0)
  );
}

/** Drops trailing embeds until the message respects the count and 6000-character total. */
function enforceTotals(embeds: APIEmbed[]): APIEmbed[] {
  const out = embeds.slice(0, LIMITS.embeds);
  while (out.length > 1 && out.reduce((n, e) => n + embedLength(e), 0) > LIMITS.embedTotal) out.pop();
  return out;
}

export function moreButton(customId: string): APIActionRowComponent<APIButtonComponent> {
  return {
    type: ComponentType.ActionRow,
    components: [{ type: ComponentType.Button, style: ButtonStyle.Secondary, label: "More", custom_id: customId.slice(0, LIMITS.customId) }],
  };
}

/** The row under an answer: "More" (when more excerpts exist) then 👍 and 👎 (when the answer is recorded for feedback). */
export function answerButtons(opts: { moreCustomId?: string; feedbackKey?: string }): APIActionRowComponent<APIButtonComponent>[] {
  const buttons: APIButtonComponent[] = [];
  if (opts.moreCustomId) buttons.push(...moreButton(opts.moreCustomId).components);
  if (opts.feedbackKey) {
    for (const [vote, emoji] of [
      ["up", "👍"],
      ["down", "👎"],
    ] as const) {
      buttons.push({ type: ComponentType.Button, style: ButtonStyle.Secondary, emoji: { name: emoji }, custom_id: voteCustomId(opts.feedbackKey, vote) });
    }
  }
  return buttons.length ? [{ type: ComponentType.ActionRow, components: buttons }] : [];
}

function hitEmbeds(hits: Hit[], related: boolean, descriptionFor?: (hit: Hit, budget: number) => string): APIEmbed[] {
  const shown = hits.slice(0, LIMITS.embeds);
  // Titles and citations are short in practice; caps keep room for the excerpts when they are not.
  const titleCap = shown.length > 5 ? 150 : LIMITS.title;
  const footerCap = 160;
  const heads = shown.map((h) => {
    const prefix = `${related ? "Related · " : ""}[${h.rank}] `;
    return {
      title: prefix + fit(h.article.title || h.article.id, titleCap - prefix.length),
      footer: fit(citationLine(h), footerCap, plain),
    };
  });
  const fixed = heads.reduce((n, h) => n + h.title.length + h.footer.length, 0);
  const budget = Math.max(80, Math.min(LIMITS.description, Math.floor((LIMITS.embedTotal - fixed) / Math.max(1, shown.length))));
  return enforceTotals(
    shown.map((hit, i) => {
      const url = httpUrl(hit.article.url);
      const description = descriptionFor ? descriptionFor(hit, budget) : renderExcerpt(hit.context, hit.highlights, budget);
      return {
        title: heads[i]!.title,
        ...(url && { url }),
        description: description || fit(hit.text, budget),
        footer: { text: heads[i]!.footer },
        color: related ? COLORS.related : COLORS.answer,
      };
    }),
  );
}

export interface AnswerRenderOptions {
  /** custom_id of the "More" button; omitted → no button. */
  moreCustomId?: string;
  /** The lead line instead of the usual one (already safe text), e.g. for a claim looked up with "Find sources". */
  lead?: string;
  /** Key of the answer's 👍/👎 buttons (see feedback.ts); omitted → no vote buttons. */
  feedbackKey?: string;
}

/** An answer: a one-line lead, one embed per cited excerpt, and a "More" button when more exist. */
export function renderAnswer(answer: Answer, opts: AnswerRenderOptions = {}): Rendered {
  const q = fit(answer.question, 300, userText);
  const hits = answer.hits;
  const firstRank = hits[0]?.rank ?? 1;
  const lastRank = hits[hits.length - 1]?.rank ?? firstRank;
  let content: string;
  if (answer.answered) {
    content = firstRank > 1 ? `More from the articles on “${q}” (excerpts ${firstRank}–${lastRank}):` : `Here is what the articles say about “${q}”:`;
  } else if (hits.length) {
    content =
      `The articles don't cover “${q}”.` +
      (firstRank > 1
        ? ` More related passages (${firstRank}–${lastRank}):`
        : " The closest passages are below, marked **Related**: they may not answer your question.");
  } else {
    content = `The articles don't cover “${q}”, and nothing in them comes close.`;
  }
  if (opts.lead) content = opts.lead;
  const embeds = hitEmbeds(hits, !answer.answered);
  const components = answerButtons({ moreCustomId: answer.more && embeds.length ? opts.moreCustomId : undefined, feedbackKey: opts.feedbackKey });
  return { content: fit(content, LIMITS.content, (s) => s), embeds, components };
}

export interface SourceRenderOptions {
  /** What the excerpt is: shown as the lead line (already safe text). */
  lead: string;
}

/** One article: title (linked when a URL is known), publisher/date, and the excerpt asked for. */
export function renderSource(article: Article, hit: Hit | undefined, opts: SourceRenderOptions): Rendered {
  const url = httpUrl(article.url);
  const byline = [article.source, article.date].filter(Boolean).join(" · ");
  const fields = url ? [{ name: "Link", value: fit(url, LIMITS.fieldValue, (s) => s) }] : [];
  const head = {
    title: fit(article.title || article.id, LIMITS.title),
    ...(url && { url }),
    ...(byline && { author: { name: fit(byline, LIMITS.author, plain) } }),
    footer: { text: fit(hit ? `${positionText(hit.position)} · ${article.file}` : article.file, LIMITS.footer, plain) },
    color: COLORS.source,
    fields,
  };
  const fixed = embedLength(head as APIEmbed);
  const budget = Math.min(LIMITS.description, LIMITS.embedTotal - fixed);
  const description = hit ? renderExcerpt(hit.context, hit.highlights, budget) : "(This article has no text.)";
  return { content: fit(opts.lead, LIMITS.content, (s) => s), embeds: enforceTotals([{ ...head, description }]), components: [] };
}

/** The list of articles, as many as fit (numbered), with a note when some are left out. */
export function renderSources(articles: Article[]): Rendered {
  const lines = articles.map((a, i) => {
    const meta = [a.source, a.date].filter(Boolean).join(", ");
    return `${i + 1}. ${fit(a.title || a.id, 150)}${meta ? ` (${fit(meta, 80)})` : ""}`;
  });
  const embeds: APIEmbed[] = [];
  let total = 0;
  let shown = 0;
  let desc = "";
  const title = "Articles in the archive";
  const flush = () => {
    if (!desc) return;
    const t = embeds.length ? `${title} (cont.)` : title;
    embeds.push({ title: t, description: desc, color: COLORS.info });
    total += t.length + desc.length;
    desc = "";
  };
  for (const line of lines) {
    const candidate = desc ? `${desc}\n${line}` : line;
    const titleLen = embeds.length ? title.length + 8 : title.length;
    if (candidate.length <= LIMITS.description && total + titleLen + candidate.length <= LIMITS.embedTotal) {
      desc = candidate;
      shown++;
      continue;
    }
    flush();
    if (embeds.length >= LIMITS.embeds || total + title.length + 8 + line.length > LIMITS.embedTotal) break;
    desc = line;
    shown++;
  }
  flush();
  const n = articles.length;
  let content = n === 0 ? "The archive has no articles yet." : `${n} article${n === 1 ? "" : "s"} in the archive. Open one with \`/source\`.`;
  if (shown < n) content += ` Showing the first ${shown}; type part of a title in \`/source\` to find the others.`;
  return { content, embeds, components: [] };
}

export function renderHelp(botName = "citebot"): Rendered {
  const description = [
    "I answer questions about a collection of news articles by quoting them, with a citation for every excerpt. The sentence that answers you is in **bold**; the rest is its context.",
    "",
    "**Ask**",
    `• \`/ask question:\` — add \`private:True\` to see the answer alone.`,
    `• Mention me in a channel: \`@${botName} who met in Geneva?\``,
    "• Reply to one of my answers to ask a follow-up, or send me a direct message.",
    "• Press **More** under an answer for further excerpts.",
    "• Right-click any message → **Apps** → **Find sources**: the excerpts that bear on what it says (only you see them).",
    "",
    "**Read the sources**",
    "• `/sources` — every article.",
    "• `/source article:` — pick an article (suggestions appear as you type); add `query:` to find the passage that best matches, or `passage:` for a sentence number from a citation.",
    "",
    "When the articles don't cover a question I say so, and show the closest passages marked **Related**.",
  ].join("\n");
  return { content: "", embeds: [{ title: `How to use ${fit(botName, 100)}`, description, color: COLORS.info }], components: [] };
}

export const TEXT = {
  apology: "Sorry, something went wrong while answering that. Please try again in a moment.",
  busy: ASK_TEXT.busy,
  restarting: ASK_TEXT.restarting,
  notAdmin: "Only members with the Manage Server permission can rebuild the index.",
  emptyDm: "Ask me a question about the articles, for example: who met in Geneva? (`/help` shows more.)",
  slowDown: ASK_TEXT.slowDown,
  emptyQuestion: "Ask me something after the mention, for example: who met in Geneva? (`/help` shows more.)",
  unreadable: "I can't read that message: Discord only shows me messages that mention me. Keep the @mention on when you reply, or use `/ask`.",
  expired: "That answer is too old to continue. Ask the question again to get more excerpts.",
};
