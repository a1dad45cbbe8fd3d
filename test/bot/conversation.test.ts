import { describe, expect, it } from "vitest";
import { Conversations, questionFromAnswerText } from "../../src/bot/conversation.js";
import { renderAnswer } from "../../src/bot/render.js";
import { THREAD_NAME_MAX, threadName, withNote } from "../../src/bot/threads.js";
import type { Answer } from "../../src/types.js";

const answer = (question: string, answered: boolean, hits = 0): Answer =>
  ({ question, answered, more: false, hits: Array.from({ length: hits }, () => ({})) }) as unknown as Answer;

describe("questionFromAnswerText", () => {
  it("reads back the question an answer quotes, escaping undone", () => {
    const q = "What did *Antonov* say about `cyber` & <@123456789012345678>?";
    for (const a of [answer(q, true), answer(q, false), answer(q, false, 0)]) {
      const { content } = renderAnswer(a);
      expect(questionFromAnswerText(content)).toBe(q);
    }
    expect(questionFromAnswerText("More from the articles on “the summit” (excerpts 4–6):")).toBe("the summit");
  });

  it("drops the ellipsis of a cut question, and ignores other messages", () => {
    const long = `${"word ".repeat(100)}end`;
    const read = questionFromAnswerText(renderAnswer(answer(long, true)).content)!;
    expect(read.endsWith("…")).toBe(false);
    expect(long.startsWith(read)).toBe(true);
    expect(questionFromAnswerText("Slow down a little: you can ask again in 3 s.")).toBeUndefined();
    expect(questionFromAnswerText("Here is what the articles say about nothing")).toBeUndefined();
  });
});

describe("Conversations", () => {
  it("forgets the least recently used entries past its bound", () => {
    const c = new Conversations(2);
    c.rememberAnswer("a", "qa");
    c.rememberAnswer("b", "qb");
    expect(c.answerQuestion("a")).toBe("qa"); // a is now the most recent
    c.rememberAnswer("c", "qc");
    expect(c.answerQuestion("b")).toBeUndefined();
    expect(c.answerQuestion("a")).toBe("qa");
    expect(c.size.answers).toBe(2);
    c.rememberThread("t", "qt");
    expect(c.threadQuestion("t")).toBe("qt");
  });
});

describe("threadName", () => {
  it("is the question, without mentions or markdown, within 100 characters, never empty", () => {
    expect(threadName("What did Antonov say?")).toBe("What did Antonov say?");
    expect(threadName("**bold** @everyone <@&123456789012345678> <#123456789012345678> `x` who met?")).toBe("bold everyone x who met?");
    const long = threadName("word ".repeat(60));
    expect(long.length).toBeLessThanOrEqual(THREAD_NAME_MAX);
    expect(long).toMatch(/word…$/);
    expect(threadName("<@123456789012345678>")).toBe("Question");
    expect(threadName("x".repeat(300)).length).toBe(THREAD_NAME_MAX);
  });
});

describe("withNote", () => {
  it("adds a line under the content and keeps the whole within 2000 characters", () => {
    expect(withNote("answer", "-# note")).toBe("answer\n-# note");
    expect(withNote("answer", undefined)).toBe("answer");
    const out = withNote("y".repeat(2000), "-# note");
    expect(out.length).toBe(2000);
    expect(out.endsWith("…\n-# note")).toBe(true);
  });
});
