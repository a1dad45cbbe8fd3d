// What kind of answer a question asks for ("how many" → a number, "when" → a time, "who" → a
// name), and whether a sentence holds one that the question doesn't already say. A sentence that
// could answer "how many warheads…" has a number in it.
import { isStopWord, stemOf, words } from "./keyword.js";

export type AnswerType = "money" | "measure" | "number" | "time" | "name";

const NUM = String.raw`(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty|forty|fifty|hundreds?|thousands?|half|a)`;
/** A number with its unit: what "how hot / heavy / deep / old…" asks for (a bare number doesn't answer "how heavy"). */
/** A number, then perhaps its size word ("400 million kilometres"). */
const AMOUNT = String.raw`${NUM}(\s(hundred|thousand|million|billion))?`;
const MEASURES: Array<{ asks: RegExp; holds: RegExp }> = [
  { asks: /\bhow (hot|cold|warm|cool)\b|\bwhat temperature\b/, holds: /\d\s?(°|degrees?\b|[CF]\b)/i },
  {
    asks: /\bhow (heavy|light)\b|\bhow much does .* weigh\b|\bwhat weight\b/,
    holds: new RegExp(String.raw`${AMOUNT}[\s-]?(kg|kilos?|kilograms?|grams?|g|tonnes?|tons?|lbs?|pounds|ounces?|oz|stone)\b`, "i"),
  },
  { asks: /\bhow loud\b/, holds: /\d\s?(db|decibels?)\b/i },
  { asks: /\bhow fast\b|\bwhat speed\b|\btop speed\b/, holds: /\d\s?(mph|km\/h|kph|kmh|knots?|miles an hour|kilometres an hour)/i },
  { asks: /\bhow full\b/, holds: /\d\s?(%|percent|per cent)|\b(full|empty|capacity)\b/i },
  {
    asks: /\bhow old\b/,
    holds: new RegExp(
      String.raw`${AMOUNT}[\s-]?(years?|months?|weeks?)[\s-]old\b|\baged? \d|\b\d+\s?BC\b|\bcentur(y|ies)\b|\bdated to\b|\b(built|founded|born|opened|made) in (1\d|20)\d\d\b`,
      "i",
    ),
  },
  {
    // Not "how long": it asks for a time more often than a length ("how long was the meeting").
    asks: /\bhow (deep|tall|high|wide|far|big|large|small)\b/,
    holds: new RegExp(
      String.raw`${AMOUNT}[\s-]?(mm|cm|m|km|metres?|meters?|millimetres?|centimetres?|kilometres?|miles?|feet|foot|ft|inches?|yards?|hectares?|acres?|litres?|liters?|gallons?|square|storeys?|stories|floors?)\b`,
      "i",
    ),
  },
];

export function answerType(question: string): AnswerType | undefined {
  const q = question.toLowerCase();
  // A price or a sum: "how much did it cost", "how much will they pay", "how expensive…".
  if (
    /\bhow much\b.*\b(cost|costs|costing|pay|paid|paying|price|priced|worth|sell|sold|spend|spent|charge|earn|earned|owe|money|fee)\b|\bhow expensive\b|\bwhat (price|fee)\b/.test(
      q,
    )
  )
    return "money";
  if (MEASURES.some((m) => m.asks.test(q))) return "measure";
  if (/\bhow (many|much|long ago|old)\b|\bwhat (number|percentage|share|amount|price|size)\b/.test(q)) return "number";
  if (/\bwhen\b|\bwhat (date|day|year|month|time)\b|\bhow (soon|long)\b/.test(q)) return "time";
  if (/\bwho(m|se)?\b|\bname of\b|\bwhere\b/.test(q)) return "name";
  return undefined;
}

const NUMBER_WORDS =
  /\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?|half|percent)\b/i;
const TIME_WORDS =
  /\b(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tonight|tomorrow|seconds?|minutes?|hours?|weeks?|months?|years?|days?|soon|ago|later|earlier|recently|next|last)\b|\b(1[89]|20)\d\d\b/i;

/** A sum of money: a currency sign or word next to a number ("$48", "£3.1 million", "1,899 euros", "84 cents", "58p"). */
const MONEY = /[$£€¥]\s?\d|\b\d+(\.\d+)?p\b|\d[\d,.]*\s?(million|billion|m|bn|k)?\s?(euros?|dollars?|pounds?|cents?|pence|yen|francs?|roubles?|rubles?)\b/i;

/** The question's stems, for the last question asked (its candidates are checked one after another). */
let lastAsked: { question: string; stems: Set<string> } | undefined;
function askedStems(question: string): Set<string> {
  if (lastAsked?.question !== question) lastAsked = { question, stems: new Set(words(question).map(stemOf)) };
  return lastAsked.stems;
}

/** Whether a sentence holds an answer of the type, beyond what the question itself says. */
export function hasAnswerOfType(sentence: string, type: AnswerType, question: string): boolean {
  if (type === "money") return MONEY.test(sentence);
  if (type === "measure") {
    const q = question.toLowerCase();
    return MEASURES.some((m) => m.asks.test(q) && m.holds.test(sentence));
  }
  if (type === "number") return /\d/.test(sentence.replace(/\b(1[89]|20)\d\d\b/g, "")) || NUMBER_WORDS.test(sentence);
  if (type === "time") return TIME_WORDS.test(sentence);
  // A name: a capitalised word inside the sentence that the question does not mention.
  const asked = askedStems(question);
  for (const m of sentence.matchAll(/(?<=[\p{L}\p{N},;:)”"’]\s+)(\p{Lu}[\p{L}’'-]*)/gu)) {
    const w = words(m[1]!)[0];
    if (w && !asked.has(stemOf(w))) return true;
  }
  return false;
}

/** Most words read as the thing a question counts, or that a number in a text counts. */
const COUNTED_SPAN = 3;

/**
 * What a "how many" / "how much" question counts: the content words right after it, up to the
 * next stop word ("how many league goals has…" → league, goals; "how much did it cost" → none).
 */
export function countedWords(question: string): string[] {
  const all = words(question);
  const out: string[] = [];
  for (let i = 0; i < all.length - 1; i++) {
    if (all[i] !== "how" || (all[i + 1] !== "many" && all[i + 1] !== "much")) continue;
    for (let j = i + 2; j < all.length && out.length < COUNTED_SPAN && !isStopWord(all[j]!); j++) out.push(all[j]!);
    break;
  }
  return out;
}

const IS_NUMBER = new RegExp(`^(\\d[\\d,.]*|${NUMBER_WORDS.source.replace(/\\b/g, "")})$`, "i");

/**
 * What the numbers of a text count: for each number ("45", "nine", "1,200"), the content words
 * that follow it up to the next stop word, and each pair of them joined ("pre-orders" → preorders).
 */
export function countedInText(text: string): string[] {
  const all = words(text);
  const out: string[] = [];
  all.forEach((w, i) => {
    if (!IS_NUMBER.test(w)) return;
    const after: string[] = [];
    for (let j = i + 1; j < all.length && after.length < COUNTED_SPAN && !IS_NUMBER.test(all[j]!); j++) {
      // "60 millimetres of rain", "25 percent of the homes": what is counted comes after "of (the)".
      if (all[j] === "of" || (all[j] === "the" && all[j - 1] === "of")) continue;
      if (isStopWord(all[j]!)) break;
      after.push(all[j]!);
    }
    out.push(...after, ...after.slice(1).map((x, k) => after[k]! + x));
  });
  return out;
}
