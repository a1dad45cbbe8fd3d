// A downloaded or attached document → the text of an article file the corpus loader reads.
// .txt, .md and .html are kept as they are (UTF-8 required), with a YAML front matter header giving
// what is known (title, date, url); PDF (unpdf) and Word .docx (mammoth) are turned into plain
// text and saved as .txt with that header. The corpus loader does not read PDF or .docx itself.
import { stringify } from "yaml";

export type Format = "txt" | "md" | "html" | "pdf" | "docx";

export const FORMATS: Record<Format, { ext: string; types: string[] }> = {
  txt: { ext: ".txt", types: ["text/plain"] },
  md: { ext: ".md", types: ["text/markdown", "text/x-markdown", "text/plain"] },
  html: { ext: ".html", types: ["text/html", "application/xhtml+xml"] },
  pdf: { ext: ".pdf", types: ["application/pdf"] },
  docx: { ext: ".docx", types: ["application/vnd.openxmlformats-officedocument.wordprocessingml.document"] },
};

/** The format of a file name (by extension), or undefined. */
export function formatOfName(name: string): Format | undefined {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  if (ext === "htm") return "html";
  if (ext === "markdown") return "md";
  return ext && ext in FORMATS ? (ext as Format) : undefined;
}

/** The format a URL's content type names (plain text counts as .txt), or undefined. */
export function formatOfType(contentType: string): Format | undefined {
  if (contentType === "text/plain") return "txt";
  for (const [f, { types }] of Object.entries(FORMATS) as Array<[Format, { types: string[] }]>) if (types.includes(contentType)) return f;
  return undefined;
}

export class ConvertError extends Error {}

export interface Meta {
  title?: string;
  date?: string;
  url?: string;
}

export interface Converted {
  /** The file's text, header included. */
  text: string;
  /** The extension the file is saved with (.txt for PDF and .docx). */
  ext: ".txt" | ".md" | ".html";
}

function utf8(bytes: Buffer): string {
  if (bytes.includes(0)) throw new ConvertError("it looks binary (it contains NUL bytes), not text");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ConvertError("it is not UTF-8 text (re-save it as UTF-8)");
  }
}

/** A `---` YAML header with the known fields, or "" when none is known. */
export function frontMatter(meta: Meta): string {
  const fields = Object.fromEntries(Object.entries(meta).filter(([, v]) => typeof v === "string" && v.trim()));
  return Object.keys(fields).length ? `---\n${stringify(fields).trimEnd()}\n---\n` : "";
}

/** Adds our header unless the text already has one (then the file's own metadata wins). */
function withHeader(text: string, meta: Meta): string {
  if (/^\uFEFF?---\r?\n/.test(text)) return text;
  return frontMatter(meta) + text.replace(/^\uFEFF/, "");
}

/** A .docx holds kilobytes of XML; more than this unpacked is a zip bomb, not an article. */
export const MAX_DOCX_UNPACKED = 50 * 1024 * 1024;

/**
 * Refuses a .docx whose parts would unpack past MAX_DOCX_UNPACKED, from the sizes its zip directory
 * declares, before anything is unpacked (mammoth unpacks in this process). A zip that lies about
 * its sizes is not caught here; the download limit still bounds the packed size.
 */
async function checkZipSize(bytes: Buffer): Promise<void> {
  const { default: JSZip } = await import("jszip");
  let zip: InstanceType<typeof JSZip>;
  try {
    zip = await JSZip.loadAsync(bytes, { checkCRC32: false });
  } catch (err) {
    throw new ConvertError(`the Word document can't be read (${(err as Error).message})`);
  }
  let total = 0;
  for (const entry of Object.values(zip.files)) total += (entry as unknown as { _data?: { uncompressedSize?: number } })._data?.uncompressedSize ?? 0;
  if (total > MAX_DOCX_UNPACKED)
    throw new ConvertError(
      `the Word document unpacks to ${Math.round(total / 1024 / 1024)} MB, over the ${MAX_DOCX_UNPACKED / 1024 / 1024} MB a document may hold`,
    );
}

export async function convert(bytes: Buffer, format: Format, meta: Meta): Promise<Converted> {
  switch (format) {
    case "txt":
    case "md":
    case "html":
      return { text: withHeader(utf8(bytes), meta), ext: FORMATS[format].ext as Converted["ext"] };
    case "pdf": {
      if (bytes.subarray(0, 5).toString("latin1") !== "%PDF-") throw new ConvertError("it is not a PDF file");
      const { extractText, getDocumentProxy, getMeta } = await import("unpdf");
      let text: string;
      let title: string | undefined;
      try {
        const pdf = await getDocumentProxy(new Uint8Array(bytes));
        const info = (await getMeta(pdf).catch(() => ({ info: {} }))).info as { Title?: unknown };
        title = typeof info.Title === "string" && info.Title.trim() ? info.Title.trim() : undefined;
        text = (await extractText(pdf, { mergePages: false })).text.map((p) => p.trim()).join("\n\n");
      } catch (err) {
        throw new ConvertError(`the PDF can't be read (${(err as Error).message})`);
      }
      if (!text.trim()) throw new ConvertError("the PDF has no text I can extract (a scan? I don't do OCR)");
      return { text: frontMatter({ title: meta.title ?? title, date: meta.date, url: meta.url }) + text, ext: ".txt" };
    }
    case "docx": {
      if (bytes.subarray(0, 2).toString("latin1") !== "PK") throw new ConvertError("it is not a Word .docx file");
      await checkZipSize(bytes);
      const mammoth = await import("mammoth");
      let text: string;
      try {
        text = (await mammoth.default.extractRawText({ buffer: bytes })).value;
      } catch (err) {
        throw new ConvertError(`the Word document can't be read (${(err as Error).message})`);
      }
      if (!text.trim()) throw new ConvertError("the Word document has no text");
      return { text: frontMatter(meta) + text.replace(/\n{3,}/g, "\n\n"), ext: ".txt" };
    }
  }
}
