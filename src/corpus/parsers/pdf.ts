// PDF articles through unpdf (a serverless build of Mozilla's pdf.js): the text layer, page by page,
// rebuilt into lines and paragraphs from the positions of the text items (a gap wider than the
// page's usual line spacing starts a paragraph). Page numbers on lines of their own are dropped.
// A PDF without a text layer (a scan) has no article text: citebot does not OCR.
import { getDocumentProxy } from "unpdf";
import { ArticleError, type Parsed } from "./common.js";

/** Pages read from one PDF; later pages are left out (an article is a few pages, not a book). */
export const MAX_PDF_PAGES = 300;

interface TextItem {
  str: string;
  hasEOL: boolean;
  transform: number[];
  height: number;
}

interface Line {
  text: string;
  y: number;
  height: number;
}

const PAGE_NUMBER = /^\s*(?:page\s*)?\d{1,4}(?:\s*(?:of|\/)\s*\d{1,4})?\s*$/i;

export async function parsePdf(bytes: Uint8Array): Promise<Parsed> {
  let doc: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    doc = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0, isEvalSupported: false, stopAtErrors: false });
  } catch (err) {
    const name = (err as Error).name;
    if (name === "PasswordException") throw new ArticleError("a password-protected PDF");
    throw new ArticleError(`not a readable PDF (${(err as Error).message.split("\n")[0]})`);
  }
  try {
    const paragraphs: string[] = [];
    const pages = Math.min(doc.numPages, MAX_PDF_PAGES);
    for (let p = 1; p <= pages; p++) {
      const page = await doc.getPage(p);
      const content = await page.getTextContent();
      paragraphs.push(...pageParagraphs(linesOf(content.items as TextItem[])));
      page.cleanup();
    }
    const info = ((await doc.getMetadata().catch(() => undefined))?.info ?? {}) as Record<string, unknown>;
    const title = typeof info.Title === "string" && usefulTitle(info.Title) ? info.Title.trim() : undefined;
    const author = typeof info.Author === "string" && info.Author.trim() ? info.Author.trim() : undefined;
    const body = paragraphs.join("\n\n");
    if (!body.trim()) throw new ArticleError("a PDF without a text layer (a scanned page? citebot does not read images)");
    return { meta: { title, byline: author }, body };
  } finally {
    await doc.destroy();
  }
}

/** Text items → lines: an item ending a line (hasEOL) or one placed lower on the page starts the next. */
function linesOf(items: TextItem[]): Line[] {
  const lines: Line[] = [];
  let cur: Line | undefined;
  for (const it of items) {
    if (typeof it.str !== "string") continue;
    const y = it.transform[5] ?? 0;
    const height = it.height || Math.abs(it.transform[3] ?? 0) || 10;
    if (cur && it.str.trim() && Math.abs(cur.y - y) > height * 0.6 && cur.text.trim()) {
      lines.push(cur);
      cur = undefined;
    }
    if (!cur) cur = { text: "", y, height };
    cur.text += it.str;
    if (it.str.trim()) cur.height = Math.max(cur.height, height);
    if (it.hasEOL) {
      lines.push(cur);
      cur = undefined;
    }
  }
  if (cur) lines.push(cur);
  return lines.filter((l) => l.text.trim() !== "");
}

/** Lines → paragraphs: a vertical gap clearly wider than the page's usual line spacing is a paragraph break. */
function pageParagraphs(lines: Line[]): string[] {
  const kept = lines.filter((l, i) => !((i === 0 || i === lines.length - 1) && PAGE_NUMBER.test(l.text)));
  const gaps = kept
    .slice(1)
    .map((l, i) => kept[i]!.y - l.y)
    .filter((g) => g > 0);
  const usual = gaps.length ? gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 4)]! : 0;
  const out: string[] = [];
  let para: string[] = [];
  kept.forEach((l, i) => {
    const gap = i > 0 ? kept[i - 1]!.y - l.y : 0;
    const breaks = i > 0 && (gap < 0 || gap > Math.max(usual * 1.4, l.height * 1.9));
    if (breaks && para.length) {
      out.push(para.join("\n"));
      para = [];
    }
    para.push(l.text.trimEnd());
  });
  if (para.length) out.push(para.join("\n"));
  return out;
}

/** Whether a PDF's Title property names the article (not "Untitled" or the file it was made from). */
function usefulTitle(title: string): boolean {
  const t = title.trim();
  return (
    t.length > 2 && t.length <= 300 && !/^untitled\b/i.test(t) && !/\.(?:docx?|pdf|odt|rtf|txt|indd)$/i.test(t) && !/^microsoft (?:word|powerpoint)/i.test(t)
  );
}
