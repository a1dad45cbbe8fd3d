// HTML articles. One linear pass of htmlparser2's Tokenizer (no tree, no recursion) reads the
// page's metadata, measures how deep and how large its element tree is, and extracts a flat text
// (navigation, headers, footers and scripts dropped; the <article> element when there is one).
// A page of ordinary shape then goes through reader mode (@mozilla/readability over linkedom),
// which keeps the article and drops the rest of the page (related links, comments, bylines).
// Deep or huge pages never reach the DOM: htmlparser2's tree builder is quadratic in depth (100k
// nested tags: 11 s) and DOM code recurses (5,000 unclosed <b> overflowed the stack), so they keep
// the flat text. Every walk here is iterative.
import { createRequire } from "node:module";
import type { Readability as ReadabilityClass } from "@mozilla/readability";
import { Tokenizer } from "htmlparser2";
import type { parseHTML as ParseHtml } from "linkedom";
import { findDate, isoDay, type Meta, type Parsed, readByline } from "./common.js";

// Reader mode's libraries load on the first HTML page only (linkedom alone takes ~0.3 s to import,
// which a question answered from a loaded index should not pay). `require` keeps parseHtml synchronous.
const requireLib = createRequire(import.meta.url);
let readerLibs: { parseHTML: typeof ParseHtml; Readability: typeof ReadabilityClass } | undefined;
function reader() {
  readerLibs ??= { parseHTML: requireLib("linkedom").parseHTML, Readability: requireLib("@mozilla/readability").Readability };
  return readerLibs;
}

/** Deepest element nesting a page may have to go through reader mode (real pages: < 100). */
export const MAX_DOM_DEPTH = 400;
/** Most elements a page may have to go through reader mode (real article pages: a few thousand; 15,000 take ~1.5 s). */
export const MAX_DOM_ELEMENTS = 15_000;
/** Most text (outside scripts and styles) a page may have to go through reader mode: an article is kilobytes. */
export const MAX_READER_TEXT_CHARS = 1_000_000;
/** Most pieces of text a page may have to go through reader mode (every entity splits one: 200,000 "&amp;" took 2 s). */
export const MAX_DOM_TEXT_PIECES = 50_000;

const BLOCK_TAGS = new Set([
  "p",
  "div",
  "section",
  "article",
  "li",
  "ul",
  "ol",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "blockquote",
  "br",
  "tr",
  "table",
  "figcaption",
  "main",
  "dd",
  "dt",
  "pre",
  "hr",
]);
const SKIP_TAGS = new Set(["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "button", "svg", "iframe", "template", "head", "title"]);
const VOID_TAGS = new Set([
  "area",
  "base",
  "basefont",
  "br",
  "col",
  "command",
  "embed",
  "frame",
  "hr",
  "img",
  "input",
  "isindex",
  "keygen",
  "link",
  "meta",
  "param",
  "source",
  "track",
  "wbr",
]);
/** Author lines marked up as such (class or id), as reader mode recognises them. */
const BYLINE_MARK = /byline|author|dateline|writtenby|p-author/i;
const MAX_BYLINE_CHARS = 100;

// Opening these closes the listed elements still open on top (htmlparser2's table, after the spec).
const P = ["p"];
const HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6", "p"];
const FORM = ["input", "option", "optgroup", "select", "button", "datalist", "textarea"];
const IMPLIES_CLOSE = new Map<string, string[]>([
  ["tr", ["tr", "th", "td"]],
  ["th", ["th"]],
  ["td", ["thead", "th", "td"]],
  ["body", ["head", "link", "script"]],
  ["a", ["a"]],
  ["li", ["li"]],
  ["p", P],
  ["h1", HEADINGS],
  ["h2", HEADINGS],
  ["h3", HEADINGS],
  ["h4", HEADINGS],
  ["h5", HEADINGS],
  ["h6", HEADINGS],
  ["select", FORM],
  ["input", FORM],
  ["output", FORM],
  ["button", FORM],
  ["datalist", FORM],
  ["textarea", FORM],
  ["option", ["option"]],
  ["optgroup", ["optgroup", "option"]],
  ["dd", ["dd", "dt"]],
  ["dt", ["dd", "dt"]],
  ...[
    "address",
    "article",
    "aside",
    "blockquote",
    "details",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hr",
    "main",
    "nav",
    "ol",
    "pre",
    "section",
    "table",
    "ul",
  ].map((t): [string, string[]] => [t, P]),
  ["rt", ["rt", "rp"]],
  ["rp", ["rt", "rp"]],
  ["tbody", ["thead", "tbody"]],
  ["tfoot", ["thead", "tbody"]],
]);

interface Open {
  name: string;
  skip: boolean;
  /** Index in `out` where this element's text starts, when it may be a byline. */
  bylineAt?: number;
}

/** What one pass over the page finds. */
export interface HtmlScan {
  maxDepth: number;
  elements: number;
  /** Characters of text outside scripts and styles. */
  textChars: number;
  /** Pieces of text the tokenizer reported (text runs and entities): the DOM makes a node of each. */
  textPieces: number;
  meta: Meta & { h1?: string; titleTag?: string };
  /** Text of the first <article> element, or of the whole page, without page furniture elements. */
  text: string;
}

/** One linear pass over the page: metadata, tree shape, and the flat text. */
export function scanHtml(html: string): HtmlScan {
  const stack: Open[] = [];
  const onStack = new Map<string, number>();
  let skipping = 0;
  let maxDepth = 0;
  let elements = 0;
  let textChars = 0;
  let textPieces = 0;
  const out: string[] = [];
  let articleStart = -1;
  let articleEnd = -1;
  let articleDepth = -1;
  const metas = new Map<string, string>();
  let canonical: string | undefined;
  let timeAttr: string | undefined;
  let byline: string | undefined;
  let capturing = false;
  // Text of <title> and of the first <h1>, collected while they are open.
  let titleText: string[] | undefined;
  let titleTag: string | undefined;
  let h1Text: string[] | undefined;
  let h1Depth = -1;
  let h1: string | undefined;

  let tagName = "";
  let attrs: Record<string, string> = {};
  let attrName = "";
  let attrValue = "";

  const text = (s: string) => {
    textPieces++;
    const top = stack[stack.length - 1]?.name;
    if (top !== "script" && top !== "style") textChars += s.length;
    titleText?.push(s);
    h1Text?.push(s);
    if (skipping === 0) out.push(s.replace(/\s+/g, " "));
  };
  const pop = () => {
    const el = stack.pop()!;
    onStack.set(el.name, onStack.get(el.name)! - 1);
    if (el.skip) skipping--;
    if (BLOCK_TAGS.has(el.name) && skipping === 0) out.push("\n\n");
    if (el.bylineAt !== undefined) {
      capturing = false;
      const line = out.slice(el.bylineAt).join("").replace(/\s+/g, " ").trim();
      if (line.length > 0 && line.length <= MAX_BYLINE_CHARS && byline === undefined) {
        byline = line;
        out.length = el.bylineAt;
        out.push("\n\n");
      }
    }
    if (stack.length === articleDepth) {
      articleEnd = out.length;
      articleDepth = -1;
    }
    if (el.name === "title" && titleText) {
      titleTag = titleText.join("").replace(/\s+/g, " ").trim();
      titleText = undefined;
    }
    if (stack.length === h1Depth && h1Text) {
      h1 = h1Text.join("").replace(/\s+/g, " ").trim() || undefined;
      h1Text = undefined;
      h1Depth = -1;
    }
  };
  const open = (name: string) => {
    elements++;
    const implied = IMPLIES_CLOSE.get(name);
    if (implied) while (stack.length > 0 && implied.includes(stack[stack.length - 1]!.name)) pop();
    if (name === "meta") {
      const key = (attrs.property ?? attrs.name ?? attrs.itemprop)?.toLowerCase();
      if (key && attrs.content !== undefined && !metas.has(key)) metas.set(key, attrs.content.trim());
    } else if (name === "link" && attrs.rel?.toLowerCase() === "canonical" && canonical === undefined) canonical = attrs.href;
    else if (name === "time" && timeAttr === undefined && attrs.datetime) timeAttr = attrs.datetime;
    if (VOID_TAGS.has(name)) {
      if (BLOCK_TAGS.has(name) && skipping === 0) out.push("\n\n");
      return;
    }
    const skip = SKIP_TAGS.has(name);
    const el: Open = { name, skip };
    if (
      skipping === 0 &&
      byline === undefined &&
      !capturing &&
      !skip &&
      BYLINE_MARK.test(`${attrs.class ?? ""} ${attrs.id ?? ""} ${attrs.rel ?? ""} ${attrs.itemprop ?? ""}`)
    ) {
      el.bylineAt = out.length;
      capturing = true;
    }
    if (BLOCK_TAGS.has(name) && skipping === 0) out.push("\n\n");
    if (skip) skipping++;
    stack.push(el);
    onStack.set(name, (onStack.get(name) ?? 0) + 1);
    if (stack.length > maxDepth) maxDepth = stack.length;
    if (name === "article" && articleStart < 0) {
      articleStart = out.length;
      articleDepth = stack.length - 1;
    }
    if (name === "title" && titleTag === undefined) titleText = [];
    if (name === "h1" && h1 === undefined && !h1Text) {
      h1Text = [];
      h1Depth = stack.length - 1;
    }
  };

  const tokenizer = new Tokenizer(
    { decodeEntities: true },
    {
      ontext: (start, end) => text(html.slice(start, end)),
      ontextentity: (cp) => text(String.fromCodePoint(cp)),
      onopentagname: (start, end) => {
        tagName = html.slice(start, end).toLowerCase();
        attrs = {};
      },
      onattribname: (start, end) => {
        attrName = html.slice(start, end).toLowerCase();
        attrValue = "";
      },
      onattribdata: (start, end) => {
        if (attrValue.length < 2048) attrValue += html.slice(start, end);
      },
      onattribentity: (cp) => {
        if (attrValue.length < 2048) attrValue += String.fromCodePoint(cp);
      },
      onattribend: () => {
        if (!(attrName in attrs)) attrs[attrName] = attrValue;
      },
      onopentagend: () => open(tagName),
      onselfclosingtag: () => open(tagName),
      onclosetag: (start, end) => {
        const name = html.slice(start, end).toLowerCase();
        if (VOID_TAGS.has(name)) {
          if (name === "br" && skipping === 0) out.push("\n\n");
          return;
        }
        // Close the element and everything opened inside it; a stray end tag is ignored.
        if (!onStack.get(name)) return;
        while (stack.length > 0 && stack[stack.length - 1]!.name !== name) pop();
        pop();
      },
      oncdata: () => {},
      oncomment: () => {},
      ondeclaration: () => {},
      onprocessinginstruction: () => {},
      onend: () => {},
    },
  );
  tokenizer.write(html);
  tokenizer.end();
  while (stack.length > 0) pop();
  if (articleStart >= 0 && articleEnd < 0) articleEnd = out.length;

  const flat = (parts: string[]) =>
    parts
      .join("")
      .split("\n")
      .map((l) => l.trim())
      .join("\n");
  const articleText = articleStart >= 0 ? flat(out.slice(articleStart, articleEnd)) : "";
  const meta = (...keys: string[]) => {
    for (const k of keys) {
      const v = metas.get(k);
      if (v) return v;
    }
    return undefined;
  };
  const fromByline = byline ? readByline(/^by\s/i.test(byline) ? byline : `By ${byline}`) : undefined;
  return {
    maxDepth,
    elements,
    textChars,
    textPieces,
    meta: {
      title: meta("og:title"),
      h1,
      titleTag: titleTag || undefined,
      source: meta("og:site_name"),
      byline: meta("author", "article:author") ?? fromByline?.byline ?? byline,
      date: isoDay(meta("article:published_time", "date", "datepublished", "dc.date", "pubdate")) ?? isoDay(timeAttr) ?? fromByline?.date,
      url: meta("og:url") ?? canonical,
    },
    text: articleText.trim() ? articleText : flat(out),
  };
}

/** An HTML page → its article: reader mode when the page's shape allows it, else the flat text. */
export function parseHtml(html: string): Parsed {
  const scan = scanHtml(html);
  const { h1, titleTag, ...meta } = scan.meta;
  let body = scan.text;
  let readerTitle: string | undefined;
  if (
    scan.maxDepth <= MAX_DOM_DEPTH &&
    scan.elements <= MAX_DOM_ELEMENTS &&
    scan.textChars <= MAX_READER_TEXT_CHARS &&
    scan.textPieces <= MAX_DOM_TEXT_PIECES
  ) {
    let found: ReaderResult | undefined;
    try {
      found = readerMode(html);
    } catch {
      // Reader mode is an improvement, never a requirement: the flat text stands.
    }
    if (found?.text.trim()) {
      body = found.text;
      readerTitle = found.title;
      meta.byline ??= found.byline;
      meta.date ??= found.date;
      meta.source ??= found.siteName;
    }
  }
  if (meta.byline) {
    const b = readByline(/^by\s/i.test(meta.byline) ? meta.byline : `By ${meta.byline}`);
    if (b?.byline) meta.byline = b.byline;
    meta.date ??= b?.date;
  }
  return { meta: { ...meta, title: meta.title ?? h1 ?? readerTitle ?? titleTag }, body };
}

interface ReaderResult {
  title?: string;
  byline?: string;
  date?: string;
  siteName?: string;
  text: string;
}

/** The part of a linkedom node the text walk reads. */
interface DomNode {
  nodeType: number;
  nodeValue: string | null;
  localName?: string;
  childNodes: ArrayLike<DomNode>;
}

/** Reader mode (Readability over a linkedom document); undefined when it finds no article. */
function readerMode(html: string): ReaderResult | undefined {
  const { parseHTML, Readability } = reader();
  const { document } = parseHTML(html);
  if (!document?.documentElement) return undefined;
  const article = new Readability<DomNode>(document as never, { maxElemsToParse: MAX_DOM_ELEMENTS, serializer: (el) => el as unknown as DomNode }).parse();
  if (!article?.content) return undefined;
  return {
    title: article.title?.trim() || undefined,
    byline: article.byline?.trim() || undefined,
    date: isoDay(article.publishedTime) ?? (article.byline ? findDate(article.byline)?.date : undefined),
    siteName: article.siteName?.trim() || undefined,
    text: domText(article.content),
  };
}

/** Text of a DOM subtree with block elements as paragraphs, walked with an explicit stack (no recursion). */
function domText(root: DomNode): string {
  const out: string[] = [];
  // Each entry: a node to enter, or a block element's closing marker.
  const todo: Array<DomNode | "\n\n"> = [root];
  while (todo.length > 0) {
    const n = todo.pop()!;
    if (n === "\n\n") {
      out.push(n);
      continue;
    }
    if (n.nodeType === 3) {
      out.push((n.nodeValue ?? "").replace(/\s+/g, " "));
      continue;
    }
    if (n.nodeType !== 1 && n.nodeType !== 9 && n.nodeType !== 11) continue;
    const name = n.nodeType === 1 ? (n.localName ?? "").toLowerCase() : "";
    if (SKIP_TAGS.has(name)) continue;
    const block = BLOCK_TAGS.has(name);
    if (block) {
      out.push("\n\n");
      todo.push("\n\n");
    }
    const kids = n.childNodes;
    for (let i = kids.length - 1; i >= 0; i--) todo.push(kids[i]!);
  }
  return out
    .join("")
    .split("\n")
    .map((l) => l.trim())
    .join("\n");
}
