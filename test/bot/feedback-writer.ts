// One writer process for feedback-processes.test.ts: opens the shared feedback database (perhaps as
// it is being created by the others), records answers, votes on each, and prints what it did.
import { FeedbackStore } from "../../src/bot/feedback.js";

const [file, name, n] = process.argv.slice(2) as [string, string, string];
const store = new FeedbackStore(file);
const asker = `1000000000000000${name.length}`;
for (let i = 0; i < Number(n); i++) {
  const key = store.recordAnswer({ question: `${name} question ${i}`, answered: true, hits: [] }, asker);
  store.bind(key, `${name}-${i}`);
  store.vote(key, asker, i % 2 ? "down" : "up");
}
console.log(JSON.stringify({ name, hash: store.userHash("123456789012345678") }));
store.close();
