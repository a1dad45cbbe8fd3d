// A child process for the crash and watch tests: writes to a FileStore over and over (or once),
// alternating two versions of one article and adding a new one each time, so every write is an
// update with removals, additions, and (foldAt 6) frequent folds of the delta into the base.
import { FileStore } from "../../src/store/fs/store.js";
import { changes, makeArticle } from "./synthetic.js";

const [indexDir, times] = process.argv.slice(2);
const store = new FileStore(indexDir!, { foldAt: 6 });
const count = Number(times ?? "1");
for (let i = 0; i < count; i++) {
  const edited = makeArticle("a001", 8, 5000 + (i % 2));
  const added = makeArticle(`n${process.pid}-${i}`, 3, 7000 + i);
  await store.write(changes("update", [edited, added], i > 0 ? [`n${process.pid}-${i - 1}`] : []));
  process.stdout.write(`wrote ${i}\n`);
}
await store.close();
