import { describe, expect, it } from "vitest";
import { contentWords, followUpKind, questionInContext } from "../src/followup.js";

describe("followUpKind", () => {
  it.each([
    ["and what about cyber?", "topic"],
    ["What about the sanctions?", "topic"],
    ["how about Lavrov", "topic"],
    ["same for China?", "topic"],
    ["and about the treaty?", "topic"],
    ["when will they meet?", "reference"],
    ["who said that?", "reference"],
    ["is there proof of it", "reference"],
    ["why?", "short"],
    ["why not?", "short"],
    ["source?", "short"],
    ["What did Peskov say about the mechanism for expert dialogue on cybersecurity?", "standalone"],
    ["Which treaty did Russia and the U.S. extend early this year?", "standalone"],
    ["ok and who leads the delegations?", "standalone"],
    ["What did Lavrov say about it?", "standalone"], // a name of its own: not a back-reference
  ])("%s → %s", (text, kind) => {
    expect(followUpKind(text)).toBe(kind);
  });
});

describe("questionInContext", () => {
  it("keeps a question that stands on its own, and any question without an earlier one", () => {
    const q = "Why does Russia have no time to quarrel with the United States?";
    expect(questionInContext("Where did Antonov give his speech?", q)).toEqual({ question: q, kind: "standalone" });
    expect(questionInContext(undefined, "and what about cyber?")).toEqual({ question: "and what about cyber?", kind: "standalone" });
    expect(questionInContext("  ", "why?")).toEqual({ question: "why?", kind: "standalone" });
  });

  it("replaces the topic of the earlier question for 'what about X'", () => {
    expect(questionInContext("What did Antonov say about arms control?", "and what about cyber?")).toEqual({
      question: "What did Antonov say about cyber?",
      kind: "topic",
    });
    expect(questionInContext("What is the purpose of the expert dialogue on cybersecurity?", "How about trade").question).toBe(
      "What is the purpose of the expert dialogue on trade?",
    );
  });

  it("without an 'about' to replace, adds a few of the earlier question's words, names first", () => {
    const r = questionInContext("What weapons should the new security equation cover for Moscow?", "what about New START?");
    expect(r.kind).toBe("topic");
    expect(r.question).toMatch(/^New START \(/);
    expect(r.question).toContain("moscow");
    expect(r.question.match(/,/g)?.length).toBe(2); // three words borrowed
  });

  it("reads a back-reference with the earlier question's words, its own words first", () => {
    const r = questionInContext("Who will hold the kick-off meeting on strategic stability?", "when will it take place?");
    expect(r.kind).toBe("reference");
    expect(r.question.startsWith("when will it take place?")).toBe(true);
    expect(r.question).toContain("meeting");
  });

  it("gives a bare 'why?' every word of the earlier question", () => {
    expect(questionInContext("Does Moscow expect pivotal breakthroughs?", "why not?")).toEqual({
      question: "why not? (moscow, expect, pivotal, breakthroughs)",
      kind: "short",
    });
  });

  it("does not repeat words the follow-up already has", () => {
    const r = questionInContext("What did Peskov say about cyber threats?", "who reported that about cyber?");
    expect(r.question).not.toMatch(/\(.*cyber.*\)/);
  });
});

describe("contentWords", () => {
  it("drops function words and repeats, keeps names and numbers", () => {
    expect(contentWords("Who met at the June 16 summit, and who met after the summit?")).toEqual(["met", "june", "16", "summit"]);
  });
});
