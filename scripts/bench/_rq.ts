import { readFileSync } from "node:fs";
import { FileStore } from "../../src/store/fs/store.js";
import { base } from "./rows.js";

const b = await base(200);
const store = new FileStore("/work/tmp/scale-1m");
const snap = (await store.current())!;
const exact = JSON.parse(readFileSync("/work/tmp/scale-1m/exact-top10-100.json", "utf8")).exact as number[][];
const graph = (snap as any).shared.snap.hnsw;
const out: string[] = [];
for (const ef of [512, 1024, 1536]) {
  graph.setEf(ef);
  const per: number[] = [];
  for (let i = 0; i < 100; i++) {
    const q = b.queryVectors.slice(i * b.dim, (i + 1) * b.dim);
    const got = new Set(Array.from((await graph.search(q, 50)).neighbors).slice(0, 10));
    per.push(exact[i]!.filter((id) => got.has(id)).length);
  }
  out.push(
    `ef ${ef}: ` +
      per
        .map((x, i) => (x < 10 ? `${i}:${x}` : ""))
        .filter(Boolean)
        .join(" "),
  );
}
console.log(out.join("\n"));
const v = await snap.vectors(exact[0]!);
await store.close();
