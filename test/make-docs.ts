// Tiny PDF and DOCX files made at test time (no binary fixtures in the repository): a PDF written
// object by object (Helvetica, one text line per `Tj`, a wider gap between paragraphs) and a DOCX
// zipped with JSZip from the four parts Word needs.
import JSZip from "jszip";

export interface PdfInfo {
  title?: string;
  author?: string;
  /** YYYY-MM-DD */
  date?: string;
}

const pdfString = (s: string) => `(${s.replace(/[\\()]/g, (c) => `\\${c}`)})`;

/** A PDF whose pages hold paragraphs of lines (ASCII text). */
export function makePdf(pages: string[][][], info: PdfInfo = {}): Buffer {
  const objects: string[] = [];
  // Object numbers are 1-based: the n-th object pushed is object n.
  const add = (body: string) => objects.push(body);
  const catalog = add("");
  const pagesObj = add("");
  const font = add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
  const kids: number[] = [];
  for (const paragraphs of pages) {
    const ops = ["BT", "/F1 11 Tf", "72 720 Td"];
    paragraphs.forEach((lines, p) => {
      if (p > 0) ops.push("0 -26 Td");
      lines.forEach((line, l) => {
        if (l > 0) ops.push("0 -14 Td");
        ops.push(`${pdfString(line)} Tj`);
      });
    });
    ops.push("ET");
    const stream = ops.join("\n");
    const content = add(`<< /Length ${Buffer.byteLength(stream, "latin1")} >>\nstream\n${stream}\nendstream`);
    kids.push(add(`<< /Type /Page /Parent ${pagesObj} 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 ${font} 0 R >> >> /Contents ${content} 0 R >>`));
  }
  objects[catalog - 1] = `<< /Type /Catalog /Pages ${pagesObj} 0 R >>`;
  objects[pagesObj - 1] = `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(" ")}] /Count ${kids.length} >>`;
  const infoFields = [
    info.title && `/Title ${pdfString(info.title)}`,
    info.author && `/Author ${pdfString(info.author)}`,
    info.date && `/CreationDate (D:${info.date.replace(/-/g, "")}120000Z)`,
  ].filter(Boolean);
  const infoObj = infoFields.length ? add(`<< ${infoFields.join(" ")} >>`) : undefined;

  let out = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, "latin1"));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, "latin1");
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root ${catalog} 0 R${infoObj ? ` /Info ${infoObj} 0 R` : ""} >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

export interface DocxParagraph {
  text: string;
  /** A Word paragraph style: "Title", "Heading1", … */
  style?: string;
}

const xmlEscape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** A DOCX with the given paragraphs and document properties (title, author, created date). */
export async function makeDocx(paragraphs: DocxParagraph[], props: PdfInfo = {}): Promise<Buffer> {
  const zip = new JSZip();
  zip.file(
    "[Content_Types].xml",
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
</Types>`,
  );
  zip.file(
    "_rels/.rels",
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>
</Relationships>`,
  );
  const body = paragraphs
    .map((p) => `<w:p>${p.style ? `<w:pPr><w:pStyle w:val="${p.style}"/></w:pPr>` : ""}<w:r><w:t xml:space="preserve">${xmlEscape(p.text)}</w:t></w:r></w:p>`)
    .join("");
  zip.file(
    "word/document.xml",
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}</w:body></w:document>`,
  );
  zip.file(
    "docProps/core.xml",
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
${props.title ? `<dc:title>${xmlEscape(props.title)}</dc:title>` : ""}${props.author ? `<dc:creator>${xmlEscape(props.author)}</dc:creator>` : ""}${
  props.date ? `<dcterms:created xsi:type="dcterms:W3CDTF">${props.date}T09:00:00Z</dcterms:created>` : ""
}
</cp:coreProperties>`,
  );
  return zip.generateAsync({ type: "nodebuffer", compression: "DEFLATE" });
}
