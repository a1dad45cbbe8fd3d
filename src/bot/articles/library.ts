// Adding and removing article files in the corpus folder, for /add and /remove. A new file is
// written to a temporary folder first and read there by the project's own corpus loader; only a
// file that loads as exactly one non-empty article, and is not a copy of one already there, is
// moved into the corpus (under a name that can't overwrite another). Nothing else touches the corpus.
import { randomBytes } from "node:crypto";
import { constants, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadCorpus } from "../../citebot.js";
import type { Article } from "../../types.js";
import type { Converted } from "./convert.js";

export class AddError extends Error {}

export interface Staged {
  article: Article;
  /** The file in the temporary folder. */
  tempFile: string;
  tempDir: string;
  ext: string;
}

/** A file name from a title: lowercase ASCII words joined by "-", at most 60 characters. */
export function slug(title: string): string {
  const s = title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60)
    .replace(/-+$/, "");
  return s || "article";
}

const sameText = (a: string, b: string) => a.replace(/\s+/g, " ").trim() === b.replace(/\s+/g, " ").trim();

/** Writes the converted file to a temp folder and loads it there; throws AddError when it is no usable article. */
export async function stage(converted: Converted, existing: Article[]): Promise<Staged> {
  const tempDir = mkdtempSync(path.join(tmpdir(), "citebot-add-"));
  const tempFile = path.join(tempDir, `new-article${converted.ext}`);
  try {
    writeFileSync(tempFile, converted.text);
    const loaded = await loadCorpus(tempDir);
    if (loaded.skipped.length) throw new AddError(`it can't be used as an article: ${loaded.skipped[0]!.reason}`);
    const article = loaded.articles[0];
    if (!article?.text.trim()) throw new AddError("it has no article text");
    if (article.text.trim().length < 40) throw new AddError("it has almost no text (under 40 characters)");
    const twin = existing.find((a) => sameText(a.text, article.text));
    if (twin) throw new AddError(`it is already in the archive, as “${twin.title}” (${twin.file})`);
    return { article, tempFile, tempDir, ext: converted.ext };
  } catch (err) {
    rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
}

/** Moves a staged file into the corpus under a new name from its title; returns that name (relative). */
export function commit(staged: Staged, corpusDir: string): string {
  const base = slug(staged.article.title);
  try {
    for (let i = 1; i < 100; i++) {
      const name = `${base}${i === 1 ? "" : `-${i}`}${staged.ext}`;
      const target = path.join(corpusDir, name);
      if (existsSync(target)) continue;
      try {
        copyFileSync(staged.tempFile, target, constants.COPYFILE_EXCL); // never overwrites
        return name;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw err;
      }
    }
    const name = `${base}-${randomBytes(4).toString("hex")}${staged.ext}`;
    copyFileSync(staged.tempFile, path.join(corpusDir, name), constants.COPYFILE_EXCL);
    return name;
  } finally {
    discard(staged);
  }
}

export function discard(staged: Staged): void {
  rmSync(staged.tempDir, { recursive: true, force: true });
}

/** The absolute path of an article's file, refusing anything outside the corpus folder. */
export function fileInCorpus(corpusDir: string, file: string): string {
  const root = path.resolve(corpusDir);
  const abs = path.resolve(root, file);
  if (!abs.startsWith(root + path.sep)) throw new AddError(`${file} is not inside the corpus folder`);
  return abs;
}

/** Deletes a corpus file; returns its bytes so a failed rebuild can put it back. */
export function removeFile(corpusDir: string, file: string): { abs: string; bytes: Buffer } {
  const abs = fileInCorpus(corpusDir, file);
  const bytes = readFileSync(abs);
  unlinkSync(abs);
  return { abs, bytes };
}

export function restoreFile(abs: string, bytes: Buffer): void {
  writeFileSync(abs, bytes, { flag: "wx" });
}
