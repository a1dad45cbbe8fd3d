// The terminal rendering: the matched sentence stands out inside its excerpt (here with visible
// markers instead of ANSI codes), and the default style leaves the text exactly as quoted.
import { describe, expect, it } from "vitest";
import { PLAIN, renderText, type TextStyle } from "../src/answer/render.js";
import type { Answer, Hit } from "../src/types.js";

const context = "Before it. The matched sentence. After it.";
const hit: Hit = {
  rank: 1,
  text: "The matched sentence.",
  context,
  highlights: [{ start: context.indexOf("The"), end: context.indexOf("The") + "The matched sentence.".length }],
  score: 0.9,
  article: { id: "a", title: "A title", file: "a.txt", source: "Paper", date: "2021-07-08" },
  passageIds: ["a#1"],
  position: { first: 0, last: 2, total: 3 },
};
const answer: Answer = { question: "q?", answered: true, hits: [hit], more: false };
const MARKERS: TextStyle = { match: (t) => `<<${t}>>`, cite: (t) => `{${t}}` };

describe("renderText", () => {
  it("styles the matched sentence inside its excerpt, and the citation line", () => {
    expect(renderText(answer, MARKERS)).toBe("[1] Before it. <<The matched sentence.>> After it.\n{    — A title — Paper, 2021-07-08 (sentences 1–3 of 3)}");
  });

  it("plain by default: the excerpt verbatim", () => {
    expect(renderText(answer)).toBe(renderText(answer, PLAIN));
    expect(renderText(answer)).toBe(`[1] ${context}\n    — A title — Paper, 2021-07-08 (sentences 1–3 of 3)`);
  });

  it("two matched ranges in one merged excerpt are both styled", () => {
    const merged: Hit = {
      ...hit,
      highlights: [
        { start: 0, end: 10 },
        { start: 33, end: 42 },
      ],
    };
    expect(renderText({ ...answer, hits: [merged] }, MARKERS).split("\n")[0]).toBe("[1] <<Before it.>> The matched sentence. <<After it.>>");
  });
});
