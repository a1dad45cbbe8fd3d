// What recording an answer for 👍/👎 costs each answer: the synchronous SQLite insert (WAL, on disk)
// done before the reply is sent, and a vote. Prints medians and p99 over N runs, side by side.
//   npx tsx scripts/feedback-cost.ts [N]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FeedbackStore } from "../src/bot/feedback.js";
import type { Answer } from "../src/types.js";

const n = Number(process.argv[2] ?? 5000);
const dir = mkdtempSync(path.join(tmpdir(), "citebot-feedback-cost-"));
const store = new FeedbackStore(path.join(dir, "feedback.sqlite"));
const hit = (rank: number) => ({
  rank,
  text: "The talks at the highest level were held in a calm, business-like and in general constructive environment.",
  article: { id: `a${rank}`, file: `a${rank}.txt` },
});
const answer = { question: "What kind of environment were the talks held in?", answered: true, hits: [hit(1), hit(2), hit(3)] } as unknown as Answer;

const time = (f: () => void) => {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e3;
};
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} µs, p99 ${s[Math.floor(s.length * 0.99)]!.toFixed(1)} µs`;
};
const keys: string[] = [];
const record = Array.from({ length: n }, (_, i) => time(() => keys.push(store.recordAnswer(answer, `user${i % 50}`))));
const vote = keys.map((k, i) => time(() => store.vote(k, `user${i % 50}`, i % 2 ? "up" : "down")));
console.log(`record an answer (insert)  ${stats(record)}   (n=${n})`);
console.log(`vote (transaction)         ${stats(vote)}   (n=${n})`);
store.close();
rmSync(dir, { recursive: true, force: true });
