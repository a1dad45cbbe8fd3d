import { createHash } from "node:crypto";
import type { Article } from "../types.js";

/** An article's content hash: any change to what is stored of it changes this. */
export function hashArticle(a: Article): string {
  return createHash("sha256")
    .update(JSON.stringify([a.id, a.title, a.date, a.source, a.url, a.byline, a.file, a.text]))
    .digest("hex");
}
