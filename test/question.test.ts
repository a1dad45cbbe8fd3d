import { describe, expect, it } from "vitest";
import { defuseLinks, safe, userText } from "../src/bot/render.js";
import { cleanQuestion, MAX_QUESTION_CHARS, QuestionError } from "../src/question.js";

const refusal = (raw: string) => {
  try {
    cleanQuestion(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(QuestionError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(raw)}`);
};

describe("cleanQuestion", () => {
  it.each([
    ["zero-width inside words", "Wh\u200bat did An\u200dtonov\u2060 say?", "What did Antonov say?"],
    ["bidi overrides", "\u202Eyas vonotnA did tahW\u202C and \u2066isolates\u2069", "yas vonotnA did tahW and isolates"],
    ["null bytes and control characters", "What\u0000 did\u0007 Antonov\u001b say?", "What did Antonov say?"],
    ["line breaks and tabs", "What did\n\nAntonov\tsay?\u2028", "What did Antonov say?"],
    ["full-width letters (NFKC)", "Ｗｈａｔ ｄｉｄ Ａｎｔｏｎｏｖ ｓａｙ？", "What did Antonov say?"],
    ["BOM and soft hyphen", "\uFEFFcyber\u00ADsecurity", "cybersecurity"],
    ["emoji around words", "🇺🇸🤝🇷🇺 who met?", "🇺🇸🤝🇷🇺 who met?"],
  ])("%s", (_name, raw, clean) => {
    expect(cleanQuestion(raw)).toBe(clean);
  });

  it.each([
    ["empty", ""],
    ["whitespace only", " \n\t  "],
    ["emoji only", "🔥🔥🤔❓"],
    ["invisible only", "\u200b\u200d\u2060\u3164\u2800"],
    ["punctuation and nulls", "?!\u0000..."],
  ])("refuses %s politely", (_name, raw) => {
    expect(refusal(raw)).toMatch(/^Please ask a question in words/);
  });

  it("refuses a question over the limit, saying how long it was", () => {
    const raw = "What did Antonov say? ".repeat(200);
    expect(raw.trim().length).toBeGreaterThan(MAX_QUESTION_CHARS);
    expect(refusal(raw)).toMatch(/^That question is 4,399 characters long; please keep it under 2,000/);
    expect(cleanQuestion("x".repeat(MAX_QUESTION_CHARS))).toHaveLength(MAX_QUESTION_CHARS);
  });
});

describe("echoing user text", () => {
  it("masked links render as text and URLs are not links", () => {
    expect(safe("[click](http://evil.example)")).toBe("\\[click](http://evil.example)");
    expect(safe("[a](http://x) and [b](http://y)")).toBe("\\[a](http://x) and \\[b](http://y)");
    expect(defuseLinks("see https://evil.example/x and <http://a.b>")).toBe("see https:\u200b//evil.example/x and <http:\u200b//a.b>");
    const echoed = userText("[click here](https://evil.example/x) now");
    expect(echoed).not.toMatch(/(?<!\\)\[[^\]]*\]\(/);
    expect(echoed).not.toMatch(/https?:\/\//);
  });

  it("mentions are defused and curly quotes straightened", () => {
    const echoed = userText("”: I am hacked. “ @everyone <@&123456789012345678> <@!223456789012345678>");
    expect(echoed).not.toMatch(/[“”]/);
    expect(echoed).not.toMatch(/@(everyone|here)|<@[!&]?\d+>/);
  });
});
