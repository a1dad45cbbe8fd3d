// Plain text and Markdown, each with an optional YAML front matter header. Every regex here runs in
// linear time on hostile input: quantifiers that could scan far for a closing mark are bounded.
import { parse as parseYaml } from "yaml";
import { ArticleError, isoDay, type Meta, type Parsed, trimEndOf } from "./common.js";

/**
 * YAML aliases allowed in one header. A "billion laughs" header (aliases of aliases) expands
 * exponentially; the yaml library refuses documents past this count, and so does citebot (per file).
 */
export const MAX_YAML_ALIASES = 100;
/** Longest front matter read as YAML (an article's header is a few lines). */
export const MAX_FRONT_MATTER_CHARS = 64 * 1024;

/** A .txt file: optional header, then the text as it is. */
export function parseText(raw: string): Parsed {
  return splitFrontMatter(raw);
}

/** A .md file: optional header, the first heading as title, Markdown markup removed (link text kept). */
export function parseMarkdown(raw: string): Parsed {
  let { meta, body } = splitFrontMatter(raw);
  // The first heading is the title when the header gives none.
  const heading = /^[ \t]{0,3}#{1,6}[ \t]+(\S.*)$/m.exec(body);
  if (!meta.title && heading && !body.slice(0, heading.index).trim()) meta = { ...meta, title: trimEndOf(heading[1]!, " \t#") };
  return { meta, body: fromMarkdown(body) };
}

/** An optional `---` YAML header with title, date, source (or publisher), url, author. */
export function splitFrontMatter(raw: string): Parsed {
  const text = raw.replace(/^\uFEFF/, "");
  if (!text.startsWith("---\n")) return { meta: {}, body: text };
  // The header ends at the first "---" line.
  const close = /\n---[ \t]*(?:\n|$)/g;
  close.lastIndex = 3;
  const m = close.exec(text);
  if (!m || m.index > MAX_FRONT_MATTER_CHARS) return { meta: {}, body: text };
  const header = text.slice(4, m.index);
  const body = text.slice(m.index + m[0].length);
  let data: Record<string, unknown> = {};
  try {
    const parsed: unknown = parseYaml(header, { maxAliasCount: MAX_YAML_ALIASES });
    if (parsed && typeof parsed === "object") data = parsed as Record<string, unknown>;
  } catch (err) {
    if (/alias/i.test((err as Error).message)) {
      throw new ArticleError(`its YAML header uses too many aliases (over ${MAX_YAML_ALIASES}: an "alias bomb" that would expand without end)`);
    }
    // Not valid YAML, typically an unquoted colon ("title: pytest 2.7: bug fixes"): read it as
    // plain "key: value" lines, splitting each at its first colon.
    for (const line of header.split("\n")) {
      const kv = /^\s*([A-Za-z_][\w-]*)\s*:\s?(.*)$/.exec(line);
      if (kv) data[kv[1]!.toLowerCase()] = kv[2]!.trim().replace(/^(["'])(.*)\1$/, "$2");
    }
  }
  const str = (v: unknown) =>
    v instanceof Date ? v.toISOString().slice(0, 10) : v == null || typeof v === "object" ? undefined : String(v).trim() || undefined;
  const meta: Meta = {
    title: str(data.title),
    date: str(data.date),
    source: str(data.source ?? data.publisher),
    url: str(data.url),
    byline: str(data.author ?? data.byline),
  };
  if (meta.date) meta.date = isoDay(meta.date) ?? meta.date;
  return { meta, body };
}

/**
 * Markdown → text. Every span pattern stops at the next opening mark of its kind and at a line end
 * (and is bounded in length): a page of unclosed "[" or "*" must not make each opener scan to the end.
 */
function fromMarkdown(md: string): string {
  return (
    md
      .replace(/^```[^\n]*\n(?:(?!```)[^\n]*\n)*?```[^\n]*$/gm, "")
      // (A URL, with one level of parentheses, stops at the next bracket or space, so each stretch is
      // scanned about once: a data: URI of any length is fine.)
      .replace(/!\[[^\][\n]{0,500}\]\((?:[^()[\]\s]|\([^()[\]\s]*\))*(?:\s+"[^"\n]{0,300}")?\)/g, "")
      .replace(/\[([^\][\n]{1,500})\]\((?:[^()[\]\s]|\([^()[\]\s]*\))*(?:\s+"[^"\n]{0,300}")?\)/g, "$1")
      .replace(/^[ \t]{0,3}[-*+][ \t]+/gm, "")
      .replace(/^[ \t]{0,3}>[ \t]?/gm, "")
      // Headings are section titles, not sentences of the article.
      .replace(/^[ \t]{0,3}#{1,6}[ \t].*$/gm, "")
      .replace(/\*\*(?!\*)([^\n]{1,500}?)\*\*|__(?!_)([^\n]{1,500}?)__/g, "$1$2")
      .replace(/(?<![\p{L}\p{N}*_])(?:\*(?=\S)([^*\n]{1,500})(?<=\S)\*|_(?=\S)([^_\n]{1,500})(?<=\S)_)(?![\p{L}\p{N}*_])/gu, "$1$2")
      .replace(/`([^`\n]{1,500})`/g, "$1")
  );
}
