// Questions behind "More" buttons. A custom_id carries only a random key (unguessable: 128 bits);
// the question, who asked it, the offset of the next page and the message the button sits under
// live here, in a bounded in-memory map (oldest forgotten first, and after a restart). A key is
// spent when its button is pressed: each page's button gets a fresh one.
import { randomBytes } from "node:crypto";

export interface StoredQuestion {
  question: string;
  /** The user who asked: only they can page through the answer. */
  askerId: string;
  /** Where the next page starts. */
  offset: number;
  /** The message the button was sent under, once known; a press from any other message is refused. */
  messageId?: string;
  at: number;
}

export class QuestionStore {
  private map = new Map<string, StoredQuestion>();

  constructor(
    readonly maxEntries = 1000,
    readonly ttlMs = 24 * 60 * 60 * 1000,
  ) {}

  put(entry: Omit<StoredQuestion, "at" | "messageId">, now = Date.now()): string {
    const key = randomBytes(16).toString("base64url");
    this.map.set(key, { ...entry, at: now });
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value!);
    return key;
  }

  /** Ties a key to the message its button was sent under (known only once Discord has it). */
  bind(key: string, messageId: string): void {
    const q = this.map.get(key);
    if (q) q.messageId = messageId;
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

  delete(key: string): void {
    this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }
}

const MORE = /^more:([A-Za-z0-9_-]{22})$/;

/** custom_id of a "More" button: `more:<key>`. */
export function moreCustomId(key: string): string {
  return `more:${key}`;
}

export function parseMoreCustomId(id: string): { key: string } | undefined {
  const m = MORE.exec(id);
  return m ? { key: m[1]! } : undefined;
}
