// /add's conversions (src/bot/articles/convert.ts): a Word zip bomb is refused before it is
// unpacked; text formats keep their own header; PDF and .docx become .txt with ours.
import JSZip from "jszip";
import { describe, expect, it } from "vitest";
import { ConvertError, convert, MAX_DOCX_UNPACKED } from "../src/bot/articles/convert.js";
import { minimalDocx, minimalPdf } from "./discord/documents.js";

describe("convert", () => {
  it("refuses a .docx that would unpack past the limit (a zip bomb), from its directory", async () => {
    const zip = new JSZip();
    zip.file("word/document.xml", " ".repeat(MAX_DOCX_UNPACKED + 1024 * 1024));
    const bomb = await zip.generateAsync({ type: "nodebuffer", compression: "DEFLATE", compressionOptions: { level: 9 } });
    expect(bomb.length).toBeLessThan(200 * 1024); // small to download
    const err = await convert(bomb, "docx", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConvertError);
    expect((err as Error).message).toBe("the Word document unpacks to 51 MB, over the 50 MB a document may hold");
  }, 30_000);

  it("PDF and .docx become .txt with a header; a text file's own header is kept", async () => {
    const pdf = await convert(minimalPdf(["Pier opens", "A new pier opened on Monday."]), "pdf", { title: "Pier", url: "https://example.org/p" });
    expect(pdf).toEqual({ ext: ".txt", text: "---\ntitle: Pier\nurl: https://example.org/p\n---\nPier opens\nA new pier opened on Monday." });
    const docx = await convert(await minimalDocx(["Museum", "It reopened."]), "docx", { date: "2024-01-02" });
    expect(docx.ext).toBe(".txt");
    expect(docx.text).toMatch(/^---\ndate: 2024-01-02\n---\nMuseum\n\nIt reopened\.\n*$/);
    const own = await convert(Buffer.from("---\ntitle: Mine\n---\nBody text."), "md", { title: "Theirs" });
    expect(own).toEqual({ ext: ".md", text: "---\ntitle: Mine\n---\nBody text." });
  });
});
