// Questions behind "More" buttons: a custom_id carries only a short key and an offset; the question
// itself lives here, in a bounded in-memory map (oldest forgotten first, and after a restart).
import { randomBytes } from "node:crypto";

export interface StoredQuestion {
  question: string;
  at: number;
}

export class QuestionStore {
  private map = new Map<string, StoredQuestion>();
  /** Differs per process, so a key from before a restart never finds another question. */
  private readonly boot = randomBytes(3).toString("base64url");
  private counter = 0;

  constructor(
    readonly maxEntries = 1000,
    readonly ttlMs = 24 * 60 * 60 * 1000,
  ) {}

  put(question: string, now = Date.now()): string {
    const key = `${this.boot}${(this.counter++).toString(36)}`;
    this.map.set(key, { question, at: now });
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value!);
    return key;
  }

  get(key: string, now = Date.now()): StoredQuestion | undefined {
    const q = this.map.get(key);
    if (!q) return undefined;
    if (now - q.at > this.ttlMs) {
      this.map.delete(key);
      return undefined;
    }
    return q;
  }

  get size(): number {
    return this.map.size;
  }
}

const MORE = /^more:([A-Za-z0-9_-]{1,40}):(\d{1,6})$/;

/** custom_id of a "More" button: `more:<key>:<offset>`. */
export function moreCustomId(key: string, offset: number): string {
  return `more:${key}:${offset}`;
}

export function parseMoreCustomId(id: string): { key: string; offset: number } | undefined {
  const m = MORE.exec(id);
  return m ? { key: m[1]!, offset: Number(m[2]) } : undefined;
}
