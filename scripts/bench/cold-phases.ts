// Bench child for cold start: one process from start to first answer, timing each phase.
// Run under tsx (node --import tsx) and as an esbuild bundle (plain node), like the CLI.
//   node --import tsx scripts/bench/cold-phases.ts <corpusDir> <dataDir> <question>
const processStart = performance.now(); // ms since the process started (performance.timeOrigin)
const [corpusDir, dataDir, question] = process.argv.slice(2);
const marks: Array<[string, number]> = [["node + loader start-up", processStart]];
let last = performance.now();
const mark = (name: string) => {
  const now = performance.now();
  marks.push([name, now - last]);
  last = now;
};
await import("@huggingface/transformers");
mark("import @huggingface/transformers (+ onnxruntime-node)");
const { Citebot } = await import("../../src/citebot.js");
const { renderText } = await import("../../src/answer/render.js");
const { TransformersEmbedder } = await import("../../src/embed/embedder.js");
mark("import citebot modules (+ hnswlib-node, …)");
const embedder = await TransformersEmbedder.load();
mark("load the model (tokenizer + ONNX session)");
const bot = await Citebot.open({ corpusDir, dataDir, embedder });
mark(`open: read the corpus, load the index (${bot.status.index})`);
const text = renderText(await bot.answer(question!));
mark("first answer (retrieve + render)");
process.stdout.write(`${JSON.stringify({ phases: Object.fromEntries(marks), total: performance.now(), answerChars: text.length })}\n`);
