// Word (.docx) articles through mammoth (document → semantic HTML), then the flat HTML text walk:
// paragraphs stay paragraphs, headings are lines of their own, the Title or first Heading 1 is the
// title. Title and author also come from the document properties (docProps/core.xml).
// A .docx is a zip: before mammoth inflates it, every entry is inflated here with an output cap, so
// a zip bomb (a few MB that inflate to gigabytes) is refused instead of exhausting memory.
import { inflateRawSync } from "node:zlib";
import mammoth from "mammoth";
import { ArticleError, type Parsed } from "./common.js";
import { scanHtml } from "./html.js";

/** Most bytes a .docx may inflate to, all entries together (a long article with images is a few MB). */
export const MAX_DOCX_INFLATED_BYTES = 64 * 1024 * 1024;

const STYLE_MAP = ["p.Title => h1:fresh", "p[style-name='Title'] => h1:fresh", "p.Subtitle => p:fresh", "p[style-name='Subtitle'] => p:fresh"];

export async function parseDocx(bytes: Uint8Array): Promise<Parsed> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries = unzipChecked(buffer, MAX_DOCX_INFLATED_BYTES);
  if (!entries.has("word/document.xml")) throw new ArticleError("not a Word document (no word/document.xml inside)");
  let html: string;
  try {
    html = (
      await mammoth.convertToHtml(
        { buffer },
        // No external files, no image data: only the text matters.
        { styleMap: STYLE_MAP, externalFileAccess: false, convertImage: mammoth.images.imgElement(async () => ({ src: "" })) },
      )
    ).value;
  } catch (err) {
    throw new ArticleError(`not a readable Word document (${(err as Error).message.split("\n")[0]})`);
  }
  const scan = scanHtml(`<body>${html}</body>`);
  const core = entries.get("docProps/core.xml")?.toString("utf8") ?? "";
  const prop = (tag: string) => {
    const m = new RegExp(`<${tag}(?:\\s[^>]{0,200})?>([^<]{1,500})</${tag}>`).exec(core);
    return m ? decodeXml(m[1]!).trim() || undefined : undefined;
  };
  return { meta: { title: prop("dc:title") ?? scan.meta.h1, byline: prop("dc:creator") }, body: scan.text };
}

function decodeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (_, e: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
    if (named[e]) return named[e];
    const cp = e[1] === "x" ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
    return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : "\uFFFD";
  });
}

/**
 * The entries of a zip archive (name → inflated bytes), reading the central directory and inflating
 * each entry with a cap on the total output. Throws ArticleError for anything that is not a plain zip.
 */
export function unzipChecked(zip: Buffer, maxTotal: number): Map<string, Buffer> {
  const notZip = () => new ArticleError("not a Word document (not a valid .docx zip archive)");
  // End of central directory: signature 0x06054b50, within the last 64 KB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw notZip();
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, Buffer>();
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== 0x02014b50) throw notZip();
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLen);
    at += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > zip.length || zip.readUInt32LE(local) !== 0x04034b50) throw notZip();
    const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    if (dataAt + compressed > zip.length) throw notZip();
    const data = zip.subarray(dataAt, dataAt + compressed);
    let inflated: Buffer;
    if (method === 0) inflated = data;
    else if (method === 8) {
      try {
        inflated = inflateRawSync(data, { maxOutputLength: Math.max(1, maxTotal - total) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
          throw new ArticleError(`a .docx that inflates to over ${maxTotal / 1024 / 1024} MB (a zip bomb?)`);
        }
        throw notZip();
      }
    } else throw new ArticleError(`a .docx compressed in a way citebot can't read (method ${method})`);
    total += inflated.length;
    if (total > maxTotal) throw new ArticleError(`a .docx that inflates to over ${maxTotal / 1024 / 1024} MB (a zip bomb?)`);
    entries.set(name, inflated);
  }
  return entries;
}
