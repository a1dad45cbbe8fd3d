// How votes become evaluation lines (src/bot/feedback-export.ts): 👍 on an answer → its top
// excerpt is the expected answer; 👍 on an abstention → negative; 👎 → a draft to review; the
// latest vote per question wins.
import { describe, expect, it } from "vitest";
import type { VotedAnswer } from "../src/bot/feedback.js";
import { kindOf, toEvalLines } from "../src/bot/feedback-export.js";

const voted = (over: Partial<VotedAnswer>): VotedAnswer => ({
  key: "k".repeat(22),
  question: "q",
  answered: true,
  excerpts: [
    { rank: 2, articleId: "b", file: "b.txt", text: "second excerpt" },
    { rank: 1, articleId: "a", file: "a.txt", text: "The summit in Geneva lasted four hours." },
  ],
  askerHash: "h",
  createdAt: 1,
  vote: "up",
  votedAt: 1,
  ...over,
});

describe("toEvalLines", () => {
  it("👍 on an answer: the rank-1 excerpt is the answer, its file the source", () => {
    const { scored, review } = toEvalLines([voted({ key: "abcdefghijklmnopqrstuv", question: "How long did the Geneva summit last?" })]);
    expect(review).toEqual([]);
    expect(scored).toEqual([
      {
        id: "feedback-abcdefghij",
        question: "How long did the Geneva summit last?",
        answers: ["The summit in Geneva lasted four hours."],
        source: "a.txt",
        kind: "lexical",
      },
    ]);
  });

  it("👍 on 'not covered' is a negative; 👎 goes to review with what was shown", () => {
    const { scored, review } = toEvalLines([voted({ question: "price of bitcoin", answered: false }), voted({ question: "who won", vote: "down" })]);
    expect(scored).toEqual([expect.objectContaining({ question: "price of bitcoin", answers: [], source: null, kind: "negative" })]);
    expect(review).toEqual([
      expect.objectContaining({
        question: "who won",
        answers: [],
        kind: "negative",
        answered: true,
        shown: expect.arrayContaining([expect.objectContaining({ file: "a.txt" })]),
      }),
    ]);
  });

  it("one line per question: the latest vote wins (case and spacing don't make another question)", () => {
    const { scored, review } = toEvalLines([
      voted({ question: "Who met?", vote: "up", votedAt: 5 }),
      voted({ question: "who  met?", vote: "down", votedAt: 9 }),
    ]);
    expect(scored).toEqual([]);
    expect(review.map((r) => r.question)).toEqual(["who  met?"]);
  });
});

describe("kindOf", () => {
  it("lexical when most of the question's content words are in the answer, else paraphrase", () => {
    expect(kindOf("How long did the Geneva summit last?", "The summit in Geneva lasted four hours.")).toBe("lexical");
    expect(kindOf("What was the length of the meeting between the leaders?", "The summit in Geneva lasted four hours.")).toBe("paraphrase");
  });
});
