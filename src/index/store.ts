// Where a corpus's index lives, and the error that says an index can't be used (a reason to
// rebuild). The on-disk format itself is the store's (src/store/fs/format.ts).
import { createHash } from "node:crypto";
import path from "node:path";

export class IndexError extends Error {}

/** Where a corpus folder's index lives: data/<folder name>-<hash of its path>/. */
export function indexDirFor(dataDir: string, corpusDir: string): string {
  const abs = path.resolve(corpusDir);
  const slug = path.basename(abs).replace(/[^\w.-]+/g, "_") || "corpus";
  return path.join(path.resolve(dataDir), `${slug}-${createHash("sha256").update(abs).digest("hex").slice(0, 8)}`);
}
