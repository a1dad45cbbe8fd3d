// Follow-up questions: "and what about cyber?" asked under an answer about arms control means
// "what did Antonov say about cyber?". Given the question an answer answered and the message that
// follows it, this works out the question to retrieve with: the follow-up alone when it stands on
// its own, else the follow-up read together with the earlier question. No Discord here: the bot,
// the eval script and the unit tests all call `questionInContext`.

/** Why a message was (or was not) read as a follow-up. */
export type FollowUpKind =
  /** Self-contained: retrieved as it is. */
  | "standalone"
  /** "what about X?", "and X?", "same for X": the earlier question with its topic replaced by X. */
  | "topic"
  /** Refers back ("when will they meet?", "who said that?"): the earlier question's words added. */
  | "reference"
  /** Too short to stand alone ("why?", "source?"): the earlier question's words added. */
  | "short";

export interface FollowUpReading {
  /** The question to retrieve with (and to show as what was looked up). */
  question: string;
  kind: FollowUpKind;
}

// Function words: what is left after removing them are the content words a question carries.
const FUNCTION_WORDS = new Set(
  (
    "a an the and or but so also plus then than too very just only really actually still even " +
    "what whats what's which who whom whose when where why how whats how's who's where's " +
    "is are was were be been being am do does did done doing have has had having will would shall should can could may might must " +
    "i me my we us our you your he him his she her they them their it its this that these those there here " +
    "of in on at to for from by with about into onto over under after before during between against as if " +
    "not no yes any some all more most other else same such own again further once " +
    "say said says tell told think thought know mean meant get got go going make made " +
    "ok okay hey hi please thanks thank lol btw pls like well anything something thing things one ones"
  ).split(" "),
);

/** Words that point back to something said before. */
const REFERENCES = new Set("he him his she her hers they them their theirs it its that this those these there then such".split(" "));

/** Openings that make a message a follow-up whatever follows. */
const TOPIC_OPENING =
  /^(?:and|but|so|also|ok(?:ay)?|then)?[\s,]*(?:what|how)\s+about\b|^(?:and|but|also)[\s,]+(?:about|regarding|concerning|on)\b|^(?:and|but|also)?[\s,]*(?:same|likewise)\s+(?:for|with|about|on)\b|^(?:and|but|also)?[\s,]*(?:what|how)\s+(?:else\s+)?(?:regarding|re|concerning)\b/i;
/** A connective opening: the message continues the conversation. */
const CONNECTIVE_OPENING = /^(?:and|but|also|plus|so|then|ok(?:ay)?|what else|anything else|any more|more on|tell me more)\b/i;

const words = (s: string) =>
  s
    .toLowerCase()
    .match(/[\p{L}\p{N}][\p{L}\p{N}'’.-]*/gu)
    ?.map((w) => w.replace(/[’]/g, "'").replace(/[.'-]+$/, "")) ?? [];

/** The content words of a text, in order, without repeats. */
export function contentWords(text: string): string[] {
  const out: string[] = [];
  for (const w of words(text)) {
    if (FUNCTION_WORDS.has(w) || (w.length < 2 && !/\d/.test(w)) || out.includes(w)) continue;
    out.push(w);
  }
  return out;
}

/** A capitalised word that does not start a sentence: a name the message names. */
function namesIn(text: string): string[] {
  return [...text.matchAll(/(?<![.!?]\s|^)\b\p{Lu}[\p{L}'’-]+/gu)].map((m) => m[0].toLowerCase()).filter((w) => !REFERENCES.has(w));
}

/** Whether `text` needs an earlier question to be understood, and how. */
export function followUpKind(text: string): FollowUpKind {
  const t = text.trim();
  if (TOPIC_OPENING.test(t)) return "topic";
  const content = contentWords(t);
  const all = words(t);
  const refers = all.some((w) => REFERENCES.has(w) && w !== "there") || /\bthe same\b/i.test(t);
  const named = namesIn(t).length > 0;
  if (content.length <= 1 && !named) return refers ? "reference" : all.length ? "short" : "standalone";
  if (CONNECTIVE_OPENING.test(t)) {
    if (refers && content.length <= 3) return "reference";
    // "and who leads the delegations?": a connective before a full question of its own.
    if (content.length >= 2 || named) return "standalone";
    return "topic";
  }
  // A pronoun with little else ("when will they meet?", "who said that?"): it refers back.
  if (refers && content.length <= 3 && !named) return "reference";
  return "standalone";
}

/** The follow-up without its connective opening: "and what about cyber?" → "cyber". */
function topicOf(text: string): string {
  return text
    .trim()
    .replace(
      /^(?:and|but|so|also|plus|ok(?:ay)?|then)?[\s,]*(?:(?:what|how)\s+(?:else\s+)?(?:about|regarding|re|concerning)|(?<=^(?:and|but|also)[\s,]+)(?:about|regarding|concerning|on)|(?:same|likewise)\s+(?:for|with|about|on)|more\s+on|tell me more about)\b[\s,]*/i,
      "",
    )
    .replace(/^(?:and|but|also|plus|so|then|ok(?:ay)?)\b[\s,]*/i, "")
    .replace(/[?.!\s]+$/, "")
    .trim();
}

/** The earlier question with the part after its last "about"/"on"/"regarding" replaced by `topic`; null when it has none. */
function swapTopic(previous: string, topic: string): string | null {
  const m = /^(.*\b(?:about|on|regarding|concerning|of)\s+)(?:the\s+)?[^?]+?([?.!]*)\s*$/i.exec(previous.trim());
  if (!m || !contentWords(m[1]!).length) return null;
  return `${m[1]}${topic}${m[2] || "?"}`;
}

/**
 * The question to retrieve with. Without an earlier question, or when `followUp` stands on its own
 * (enough content words, or a name of its own and no back-reference), that is `followUp` itself.
 */
export function questionInContext(previous: string | undefined, followUp: string): FollowUpReading {
  const text = followUp.trim();
  if (!previous?.trim()) return { question: text, kind: "standalone" };
  const kind = followUpKind(text);
  if (kind === "standalone") return { question: text, kind };
  if (kind === "topic") {
    const topic = topicOf(text);
    if (topic && contentWords(topic).length) {
      const swapped = swapTopic(previous, topic);
      if (swapped) return { question: swapped, kind };
      // No "about …" to replace: the new topic, with a few of the earlier question's words for its subject.
      const added = contextTerms(previous, topic, CONTEXT_WORDS);
      return { question: added.length ? `${topic} (${added.join(", ")})` : topic, kind };
    }
  }
  // Add the earlier question's words: they say what "it" or "they" is. A follow-up with words of its
  // own gets only a few, so that its own words still lead; "why?" gets them all.
  const added = contextTerms(previous, text, kind === "short" ? Number.POSITIVE_INFINITY : CONTEXT_WORDS);
  if (!added.length) return { question: text, kind: "standalone" };
  return { question: `${text.replace(/\s+$/, "")} (${added.join(", ")})`, kind: kind === "topic" ? "reference" : kind };
}

/** How many of the earlier question's words a follow-up with words of its own borrows. */
const CONTEXT_WORDS = 3;

/**
 * Up to `max` content words of `previous` that `own` lacks: its names first (the subject), then its
 * last words (English puts a question's focus at its end), in the order they were asked.
 */
function contextTerms(previous: string, own: string, max: number): string[] {
  const have = new Set(contentWords(own));
  const candidates = contentWords(previous).filter((w) => !have.has(w));
  if (candidates.length <= max) return candidates;
  const names = new Set(namesIn(previous));
  const chosen = new Set(candidates.filter((w) => names.has(w)).slice(0, max));
  for (let i = candidates.length - 1; i >= 0 && chosen.size < max; i--) chosen.add(candidates[i]!);
  return candidates.filter((w) => chosen.has(w));
}
