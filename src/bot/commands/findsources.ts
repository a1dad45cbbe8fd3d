// "Find sources" (right-click a message → Apps → Find sources): looks up the claim a message makes
// and answers privately with the excerpts that bear on it, or says the articles don't cover it.
// The interaction carries the message (its text included, without the Message Content intent).
import { ApplicationCommandType, ContextMenuCommandBuilder, InteractionContextType, type Message } from "discord.js";
import { cleanQuestion, QuestionError } from "../../question.js";
import { defer, deliver, messageOf, notice } from "../context.js";
import { canEmbedFor, renderAnswerFor } from "../plaintext.js";
import { moreCustomId } from "../questions.js";
import { fit, userText } from "../render.js";
import { bindFeedback, recordForFeedback } from "../votes.js";
import type { MessageCommand } from "./command.js";

/** The longest claim looked up: as long as an /ask question, so one claim is one question. */
export const CLAIM_MAX_CHARS = 500;

export interface Claim {
  /** The text looked up. */
  text: string;
  /** Sentences looked up out of those in the message, when the message was too long to take whole. */
  cut?: { sentences: number; of: number; chars: number };
  /** Where the text came from: the message itself, or (a bare link) its preview. */
  from: "text" | "preview";
}

export const FIND_SOURCES_TEXT = {
  noText: "That message has no text I can look up, only an image, a file or a sticker. I can only check written claims against the articles.",
  empty: "That message has no text I can look up.",
};

/**
 * A message's text as a claim: mentions, custom emoji and links removed (they carry no claim), then
 * whole sentences from the start while they fit CLAIM_MAX_CHARS (a first sentence longer than that
 * is cut between words). Null when no words are left.
 */
export function claimFromText(raw: string, max = CLAIM_MAX_CHARS): Omit<Claim, "from"> | null {
  const stripped = raw
    .replace(/<(?:@[!&]?|#)\d+>/g, " ")
    .replace(/<a?:(\w+):\d+>/g, " ")
    .replace(/<t:\d+(?::\w)?>/g, " ")
    .replace(/\bhttps?:\/\/\S+/gi, " ")
    .replace(/[*_~`|]{2,}|^>+\s?/gm, " ");
  // The whole message counts for the "it was long" note; the cleaning needs only what can be used.
  const total = stripped.replace(/\s+/g, " ").trim().length;
  let text: string;
  try {
    text = cleanQuestion(stripped.replace(/\s+/g, " ").trim().slice(0, 1900));
  } catch (err) {
    if (err instanceof QuestionError) return null;
    throw err;
  }
  if (text.length <= max && total <= max) return { text };
  const sentences = [...new Intl.Segmenter("en", { granularity: "sentence" }).segment(text)].map((s) => s.segment);
  let taken = "";
  let n = 0;
  for (const s of sentences) {
    if ((taken + s).trimEnd().length > max) break;
    taken += s;
    n++;
  }
  if (!n) {
    // One sentence longer than the limit: up to the last space that fits.
    const cut = text.slice(0, max + 1).lastIndexOf(" ");
    taken = text.slice(0, cut > max / 2 ? cut : max);
  }
  const claim = taken.trim();
  return { text: claim, cut: { sentences: Math.max(n, 1), of: sentences.length, chars: total } };
}

/** The claim a message makes, or why it has none (only an attachment, or nothing). */
export function claimOf(message: Pick<Message, "content" | "attachments" | "embeds" | "stickers">): Claim | { none: string } {
  const fromText = claimFromText(message.content ?? "");
  if (fromText) return { ...fromText, from: "text" };
  // A bare link: its preview's title and description say what it claims.
  const preview = message.embeds.map((e) => [e.title, e.description].filter(Boolean).join(". ")).find((t) => t.trim());
  const fromPreview = preview ? claimFromText(preview) : null;
  if (fromPreview) return { ...fromPreview, from: "preview" };
  const hasMedia = message.attachments.size > 0 || message.stickers.size > 0 || message.embeds.length > 0;
  return { none: hasMedia ? FIND_SOURCES_TEXT.noText : FIND_SOURCES_TEXT.empty };
}

/** The lead line: what was looked up, and how it went. */
function leadFor(claim: Claim, answered: boolean, hits: number, url: string): string {
  const quoted = `“${fit(claim.text, 300, userText)}”`;
  const link = `[this message](${url})`;
  const subject = claim.from === "preview" ? `the link preview in ${link}` : link;
  let lead = answered
    ? `Here is what the articles say on the claim in ${subject}: ${quoted}`
    : hits
      ? `The articles don't cover the claim in ${subject}: ${quoted}. The closest passages are below, marked **Related**: they may not bear on it.`
      : `The articles don't cover the claim in ${subject}: ${quoted}, and nothing in them comes close.`;
  if (claim.cut) {
    lead += `\n-# The message is long (${claim.cut.chars.toLocaleString("en-US")} characters), so I looked up its first ${
      claim.cut.sentences === 1 ? "sentence" : `${claim.cut.sentences} sentences`
    } (up to ${CLAIM_MAX_CHARS} characters).`;
  }
  return lead;
}

export const findSources: MessageCommand = {
  data: new ContextMenuCommandBuilder()
    .setName("Find sources")
    .setType(ApplicationCommandType.Message)
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM),

  async execute(ctx, interaction) {
    const received = Date.now();
    const target = interaction.targetMessage;
    const log = ctx.log.child({ command: "find-sources", userId: interaction.user.id, interactionId: interaction.id, targetId: target.id });
    const claim = claimOf(target);
    // A message with nothing to look up is an empty question, told why in its own words.
    const asked = await ctx.asker.ask({
      who: interaction.user.id,
      where: "find-sources",
      question: "none" in claim ? "" : claim.text,
      options: { limit: ctx.config.answerExcerpts },
      received,
      log,
      // Private: a fact-check of someone else's message is for the one who asked for it.
      prepare: () => defer(ctx, interaction, true),
      deliver: async (answer, question) => {
        if ("none" in claim) return; // (refused as empty before this)
        const key = answer.more ? ctx.questions.put({ question, askerId: interaction.user.id, offset: answer.hits.length }) : undefined;
        const lead = leadFor(claim, answer.answered, answer.hits.length, target.url);
        const feedbackKey = recordForFeedback(ctx, answer, interaction.user.id);
        const r = renderAnswerFor(answer, canEmbedFor(interaction), { moreCustomId: key && moreCustomId(key), lead, feedbackKey });
        const sent = await deliver(ctx, "edit", () => interaction.editReply(messageOf(r)));
        if (key) ctx.questions.bind(key, sent.id);
        bindFeedback(ctx, feedbackKey, sent.id);
      },
    });
    if (asked.kind === "refused") return notice(interaction, asked.reason === "empty" && "none" in claim ? claim.none : asked.message);
    if ("none" in claim) return;
    const { answer } = asked;
    log.info(
      { outcome: "answered", answered: answer.answered, hits: answer.hits.length, cut: !!claim.cut, from: claim.from, ms: Date.now() - received },
      "sources found",
    );
  },
};
