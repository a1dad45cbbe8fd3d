// The renderer on its own, with pathological inputs the shipped corpus doesn't have: huge titles,
// markdown everywhere, mentions, giant words, bad URLs. Every message must pass Discord's checks.
import { describe, expect, it } from "vitest";
import { defuseMentions, fit, renderAnswer, renderExcerpt, renderHelp, renderSource, renderSources, safe } from "../../src/bot/render.js";
import type { Answer, Article, Hit } from "../../src/types.js";
import { messagePayloadProblems } from "../discord/limits.js";

/** A bold run; escaped characters (e.g. \*) may occur inside it. */
const BOLD = /\*\*(?:\\.|[^*\\])+\*\*/;

const visible = (s: string) =>
  s
    .replace(/\*\*/g, "")
    .replace(/\\(.)/g, "$1")
    .replace(/\u200b/g, "");

function hit(rank: number, context: string, over: Partial<Hit> = {}): Hit {
  const mid = Math.floor(context.length / 3);
  const start = context.lastIndexOf(". ", mid) + 2 || 0;
  const endDot = context.indexOf(". ", start);
  const end = endDot < 0 ? context.length : endDot + 1;
  return {
    rank,
    text: context.slice(start, end),
    context,
    highlights: [{ start, end }],
    score: 0.8,
    article: { id: `a${rank}`, title: `Title ${rank}`, file: `a${rank}.txt`, source: "Agency", date: "2021-07-08" },
    passageIds: [`a${rank}#1`],
    position: { first: 3, last: 5, total: 40 },
    ...over,
  };
}

const nasty =
  "The *envoy* said __nothing__ about ~~it~~. Then @everyone was told to read ||spoilers|| and `code`. " +
  "# Not a heading, <@&123456789012345678> and <@123456789012345678> are not mentions either. " +
  "[a link](https://example.com) > quote - list 1. item. ";

function bigAnswer(n: number): Answer {
  const context = `${nasty}Another sentence follows here with several words in it. `.repeat(5).slice(0, 600);
  return {
    question: `@everyone **why** ${"very ".repeat(500)}long?`,
    answered: true,
    more: true,
    hits: Array.from({ length: n }, (_, i) =>
      hit(i + 1, context, {
        article: {
          id: `a${i}`,
          title: `${"Breaking * news _ ".repeat(30)}${i}`,
          file: "x.txt",
          url: i % 2 ? "javascript:alert(1)" : "https://example.com/a",
          source: "S".repeat(3000),
          date: "2021-07-08",
        },
      }),
    ),
  };
}

describe("escaping", () => {
  it("escapes markdown and defuses every kind of mention", () => {
    const s = safe(nasty);
    expect(s).not.toMatch(/(?<!\\)\*envoy/);
    expect(s).toContain("\\*envoy\\*");
    expect(s).toContain("\\|\\|spoilers\\|\\|");
    expect(s).not.toMatch(/@everyone|<@&\d+>|<@\d+>/);
    expect(visible(s)).toBe(nasty);
    expect(defuseMentions("@here <@!12345678901234567>")).toBe("@\u200bhere <@\u200b!12345678901234567>");
  });
});

describe("fit", () => {
  it("prefers a sentence end, else a space; never cuts inside a word", () => {
    const text = "First sentence is here. Second one is a good deal longer than the first one was.";
    expect(fit(text, 30)).toBe("First sentence is here. …");
    const cut = fit("alpha beta gamma delta epsilon", 17);
    expect(cut).toBe("alpha beta gamma…");
    for (let max = 7; max < 90; max += 3) {
      const out = fit(text, max);
      expect(out.length).toBeLessThanOrEqual(max);
      const body = out.replace(/ ?…$/, "");
      expect(text.startsWith(body)).toBe(true);
      if (body.length < text.length) expect(text[body.length]).toBe(" ");
    }
  });

  it("counts the escaping in the budget", () => {
    const out = fit(`${"*".repeat(50)} end`, 40);
    expect(out.length).toBeLessThanOrEqual(40);
  });

  it("cuts a single giant word only when nothing else fits", () => {
    const out = fit("x".repeat(5000), 100);
    expect(out.length).toBe(100);
    expect(out.endsWith("…")).toBe(true);
  });
});

describe("renderExcerpt", () => {
  const context = "One two three. The matched sentence is this one. After that comes more. And the end.";
  const start = context.indexOf("The matched");
  const end = context.indexOf("After") - 1;

  it("bolds the matched sentence inside its context", () => {
    expect(renderExcerpt(context, [{ start, end }], 4096)).toBe("One two three. **The matched sentence is this one.** After that comes more. And the end.");
  });

  it("keeps the matched sentence and drops neighbours first when space is short", () => {
    const out = renderExcerpt(context, [{ start, end }], 60);
    expect(out.length).toBeLessThanOrEqual(60);
    expect(out).toContain("**The matched sentence is this one.**");
    expect(out).toMatch(/…/);
  });

  it("cuts even the matched sentence at a space when it alone is too long", () => {
    const out = renderExcerpt(context, [{ start, end }], 30);
    expect(out.length).toBeLessThanOrEqual(30);
    expect(context).toContain(visible(out).replace(/^… /, "").replace(/ …$/, ""));
  });

  it("merges adjacent highlights into one bold run", () => {
    const out = renderExcerpt(
      "A b. C d. E f.",
      [
        { start: 0, end: 4 },
        { start: 5, end: 9 },
      ],
      100,
    );
    expect(out).toBe("**A b. C d.** E f.");
  });
});

describe("renderAnswer", () => {
  it("an over-long, hostile answer still passes every Discord check", () => {
    for (const n of [1, 3, 10, 14]) {
      const r = renderAnswer(bigAnswer(n), { moreCustomId: "more:abc:10" });
      const body = { content: r.content, embeds: r.embeds, components: r.components, allowed_mentions: { parse: [] } };
      expect(messagePayloadProblems(body)).toEqual([]);
      expect(r.embeds.length).toBe(Math.min(n, 10));
      expect(JSON.stringify(r)).not.toMatch(/@everyone|<@&\d+>/);
      expect(r.embeds.filter((e) => e.url).every((e) => e.url!.startsWith("https://"))).toBe(true);
      for (const e of r.embeds) expect(e.description).toMatch(BOLD);
      expect(r.components[0]!.components[0]).toMatchObject({ label: "More", custom_id: "more:abc:10" });
    }
  });

  it("labels related passages and says the articles don't cover it", () => {
    const r = renderAnswer({ question: "price of bitcoin", answered: false, more: false, hits: [hit(1, "Some text here. Other words.")] });
    expect(r.content).toMatch(/^The articles don't cover “price of bitcoin”/);
    expect(r.embeds[0]!.title).toMatch(/^Related · \[1\]/);
    expect(r.components).toEqual([]);
  });

  it("with nothing related at all, says so without embeds", () => {
    const r = renderAnswer({ question: "q?", answered: false, more: false, hits: [] });
    expect(r.content).toMatch(/nothing in them comes close/);
    expect(r.embeds).toEqual([]);
  });

  it("a later page says which excerpts it shows", () => {
    const r = renderAnswer({ question: "q?", answered: true, more: false, hits: [hit(4, "A b c. D e f."), hit(5, "G h. I j.")] });
    expect(r.content).toContain("(excerpts 4–5)");
  });
});

describe("renderSource and renderSources", () => {
  const article: Article = { id: "a", title: "T ".repeat(300), file: "a.txt", url: "https://example.com/x", source: "Agency", date: "2021-01-02", text: "" };

  it("an article with a huge title and an excerpt stays within limits, linked when a URL is known", () => {
    const r = renderSource(article, hit(1, nasty), { lead: "The opening of the article:" });
    expect(messagePayloadProblems({ content: r.content, embeds: r.embeds })).toEqual([]);
    expect(r.embeds[0]!.url).toBe("https://example.com/x");
    expect(r.embeds[0]!.author!.name).toBe("Agency · 2021-01-02");
    expect(r.embeds[0]!.fields![0]).toEqual({ name: "Link", value: "https://example.com/x" });
  });

  it("a long list of articles fits, and says how many are shown", () => {
    const many: Article[] = Array.from({ length: 400 }, (_, i) => ({ ...article, id: `a${i}`, title: `Article number ${i} about *things* @everyone` }));
    const r = renderSources(many);
    expect(messagePayloadProblems({ content: r.content, embeds: r.embeds })).toEqual([]);
    expect(r.content).toMatch(/^400 articles.*Showing the first \d+/);
    expect(JSON.stringify(r)).not.toMatch(/@everyone/);
  });

  it("help fits too", () => {
    const r = renderHelp("citebot");
    expect(messagePayloadProblems({ embeds: r.embeds })).toEqual([]);
  });
});
