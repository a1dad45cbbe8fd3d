// What counts as a question, for the CLI and the bot alike: invisible characters removed, control
// characters and line breaks turned into spaces, compatibility forms folded (NFKC), then checked.

/** Discord's own limit for a message without Nitro (Nitro users can send 4,000). */
export const MAX_QUESTION_CHARS = 2000;

export class QuestionError extends Error {
  constructor(
    message: string,
    /** Why: no letters or digits left, or over MAX_QUESTION_CHARS. */
    readonly reason: "no-words" | "too-long",
  ) {
    super(message);
  }
}

/**
 * Zero-width and bidi-control characters (Unicode format, Cf) and blank "letters" used to hide
 * text (Hangul fillers, braille blank): removed, since they can sit inside words.
 */
const INVISIBLE = /[\p{Cf}\u115F\u1160\u3164\uFFA0\u2800]/gu;
/** Control characters (NUL included) and line/paragraph separators: a space. */
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}]/gu;

export const REFUSAL = {
  noWords: "Please ask a question in words, for example: “What did Antonov say about cybersecurity?”",
  tooLong: (n: number) =>
    `That question is ${n.toLocaleString("en-US")} characters long; please keep it under ${MAX_QUESTION_CHARS.toLocaleString("en-US")} and ask one thing at a time.`,
};

/** The question as the retriever should see it, or a QuestionError whose message is a polite refusal. */
export function cleanQuestion(raw: string): string {
  const cleaned = raw.normalize("NFKC").replace(INVISIBLE, "").replace(CONTROL, " ").replace(/\s+/g, " ").trim();
  if (!/[\p{L}\p{N}]/u.test(cleaned)) throw new QuestionError(REFUSAL.noWords, "no-words");
  if (cleaned.length > MAX_QUESTION_CHARS) throw new QuestionError(REFUSAL.tooLong(cleaned.length), "too-long");
  return cleaned;
}
