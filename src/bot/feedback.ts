// 👍/👎 on answers, kept in an embedded SQLite database (better-sqlite3; DATA_DIR/feedback.sqlite).
// Every answer the bot delivers is recorded under a random 128-bit key (the key its vote buttons
// carry): its question, the excerpts shown (text, article id and file), and who asked, as a keyed
// hash. A vote is one row per (answer, user): pressing the same thumb again withdraws it, the other
// thumb changes it. `citebot feedback --export` turns the votes into an evaluation file.
//
// Why hashed user ids: one vote per user needs a stable key per user, but the database (or a copy
// handed around for evaluation) should not be a list of who asked what. Ids are stored as
// HMAC-SHA256(salt, user id) with a random salt kept in the database: enough to tell votes apart,
// not a list of Discord accounts. (Whoever holds the file and a user's id can still test whether
// that user voted: this is pseudonymization, not anonymity.) The export carries no user data at all.
import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Answer } from "../types.js";

export type Vote = "up" | "down";

export interface ShownExcerpt {
  rank: number;
  articleId: string;
  file: string;
  /** The matched sentence(s), exactly as in the article. */
  text: string;
}

export interface AnswerRecord {
  key: string;
  question: string;
  answered: boolean;
  excerpts: ShownExcerpt[];
  askerHash: string;
  messageId?: string;
  createdAt: number;
}

/** What a press did: a first vote, a switch to the other thumb, or the same thumb again (withdrawn). */
export type VoteOutcome = { action: "recorded"; vote: Vote } | { action: "changed"; vote: Vote; from: Vote } | { action: "withdrawn"; vote: Vote };

export interface VotedAnswer extends AnswerRecord {
  vote: Vote;
  votedAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
-- One row per answer delivered (the key is the one its buttons carry).
CREATE TABLE IF NOT EXISTS answers (
  key        TEXT PRIMARY KEY,
  question   TEXT NOT NULL,
  answered   INTEGER NOT NULL,          -- 1: the articles cover it; 0: the bot abstained
  excerpts   TEXT NOT NULL,             -- JSON [{ rank, articleId, file, text }]
  asker_hash TEXT NOT NULL,
  message_id TEXT,                      -- the message the buttons are under, once sent
  created_at INTEGER NOT NULL           -- ms since the epoch
);
-- One vote per user per answer.
CREATE TABLE IF NOT EXISTS votes (
  answer_key TEXT NOT NULL REFERENCES answers(key) ON DELETE CASCADE,
  user_hash  TEXT NOT NULL,
  vote       INTEGER NOT NULL CHECK (vote IN (-1, 1)),
  voted_at   INTEGER NOT NULL,
  PRIMARY KEY (answer_key, user_hash)
);
CREATE INDEX IF NOT EXISTS answers_created ON answers(created_at);
`;

/** How long a write waits for another process's write lock. */
const BUSY_TIMEOUT_MS = 5000;

/** Answers nobody voted on are forgotten after this long (their buttons then say "too old"). */
export const UNVOTED_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export class FeedbackStore {
  private readonly db: Database.Database;
  private readonly salt: string;
  private readonly stmts;
  private lastPrune = 0;

  /** Opens (or creates) the database; `:memory:` for a throwaway one. */
  constructor(readonly file: string) {
    if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
    // Several processes may write (one per shard): WAL lets readers run beside the writer, and the
    // busy timeout makes a writer wait for another's lock instead of failing.
    this.db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("foreign_keys = ON");
    this.db.exec(SCHEMA);
    // Several processes (the shards of a sharded bot) may open a new file at once: the first salt
    // written wins and everyone reads that one back.
    this.db.prepare("INSERT OR IGNORE INTO meta (name, value) VALUES ('salt', ?)").run(randomBytes(32).toString("hex"));
    this.salt = (this.db.prepare("SELECT value FROM meta WHERE name = 'salt'").get() as { value: string }).value;
    this.stmts = {
      insert: this.db.prepare("INSERT INTO answers (key, question, answered, excerpts, asker_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)"),
      bind: this.db.prepare("UPDATE answers SET message_id = ? WHERE key = ?"),
      get: this.db.prepare("SELECT * FROM answers WHERE key = ?"),
      getVote: this.db.prepare("SELECT vote FROM votes WHERE answer_key = ? AND user_hash = ?"),
      upsertVote: this.db.prepare(
        "INSERT INTO votes (answer_key, user_hash, vote, voted_at) VALUES (?, ?, ?, ?) ON CONFLICT (answer_key, user_hash) DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
      ),
      deleteVote: this.db.prepare("DELETE FROM votes WHERE answer_key = ? AND user_hash = ?"),
      prune: this.db.prepare("DELETE FROM answers WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM votes WHERE votes.answer_key = answers.key)"),
      voted: this.db.prepare("SELECT a.*, v.vote, v.voted_at FROM votes v JOIN answers a ON a.key = v.answer_key ORDER BY v.voted_at"),
      counts: this.db.prepare("SELECT vote, COUNT(*) AS n FROM votes GROUP BY vote"),
    };
  }

  /** The keyed hash a user id is stored as. */
  userHash(userId: string): string {
    return createHmac("sha256", this.salt).update(userId).digest("base64url");
  }

  /** Records an answer about to be sent; returns the key its buttons carry. */
  recordAnswer(answer: Pick<Answer, "question" | "answered" | "hits">, askerId: string, now = Date.now()): string {
    const key = randomBytes(16).toString("base64url");
    const excerpts: ShownExcerpt[] = answer.hits.map((h) => ({ rank: h.rank, articleId: h.article.id, file: h.article.file, text: h.text }));
    this.stmts.insert.run(key, answer.question, answer.answered ? 1 : 0, JSON.stringify(excerpts), this.userHash(askerId), now);
    if (now - this.lastPrune > 60 * 60 * 1000) {
      this.lastPrune = now;
      this.stmts.prune.run(now - UNVOTED_TTL_MS);
    }
    return key;
  }

  /** Ties an answer to the message its buttons were sent under. */
  bind(key: string, messageId: string): void {
    this.stmts.bind.run(messageId, key);
  }

  get(key: string): AnswerRecord | undefined {
    const r = this.stmts.get.get(key) as Row | undefined;
    return r && fromRow(r);
  }

  /** Whether `userId` asked this answer's question. */
  isAsker(record: AnswerRecord, userId: string): boolean {
    return record.askerHash === this.userHash(userId);
  }

  /** One vote per user per answer: a first press records, the other thumb changes, the same thumb withdraws. */
  vote(key: string, userId: string, vote: Vote, now = Date.now()): VoteOutcome {
    const user = this.userHash(userId);
    const value = vote === "up" ? 1 : -1;
    // IMMEDIATE: the write lock is taken before the read, so with other writer processes the busy
    // timeout waits for it; a read-then-upgrade (DEFERRED) transaction would fail with SQLITE_BUSY instead.
    return this.db
      .transaction((): VoteOutcome => {
        const prev = this.stmts.getVote.get(key, user) as { vote: number } | undefined;
        if (prev?.vote === value) {
          this.stmts.deleteVote.run(key, user);
          return { action: "withdrawn", vote };
        }
        this.stmts.upsertVote.run(key, user, value, now);
        return prev ? { action: "changed", vote, from: prev.vote === 1 ? "up" : "down" } : { action: "recorded", vote };
      })
      .immediate();
  }

  /** Every answer with a vote, oldest vote first. */
  votedAnswers(): VotedAnswer[] {
    return (this.stmts.voted.all() as Array<Row & { vote: number; voted_at: number }>).map((r) => ({
      ...fromRow(r),
      vote: r.vote === 1 ? "up" : "down",
      votedAt: r.voted_at,
    }));
  }

  counts(): { up: number; down: number } {
    const out = { up: 0, down: 0 };
    for (const r of this.stmts.counts.all() as Array<{ vote: number; n: number }>) out[r.vote === 1 ? "up" : "down"] = r.n;
    return out;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface Row {
  key: string;
  question: string;
  answered: number;
  excerpts: string;
  asker_hash: string;
  message_id: string | null;
  created_at: number;
}

function fromRow(r: Row): AnswerRecord {
  return {
    key: r.key,
    question: r.question,
    answered: r.answered === 1,
    excerpts: JSON.parse(r.excerpts) as ShownExcerpt[],
    askerHash: r.asker_hash,
    ...(r.message_id && { messageId: r.message_id }),
    createdAt: r.created_at,
  };
}

// ───────────────────────────── buttons ─────────────────────────────

const VOTE_ID = /^vote:([A-Za-z0-9_-]{22}):(up|down)$/;

export function voteCustomId(key: string, vote: Vote): string {
  return `vote:${key}:${vote}`;
}

export function parseVoteCustomId(id: string): { key: string; vote: Vote } | undefined {
  const m = VOTE_ID.exec(id);
  return m ? { key: m[1]!, vote: m[2] as Vote } : undefined;
}
