// Validates an evaluation file against its corpus (format, unique ids, answers that are exact
// substrings of their article after normalization) and counts its questions by kind.
// Usage: npx tsx scripts/check-eval-set.ts <qa.jsonl> <corpus dir>
import { existsSync } from "node:fs";
import { CorpusError } from "../src/corpus/load.js";
import { checkEvalSet, KINDS } from "../src/eval-set.js";

const [file, corpusDir] = process.argv.slice(2);
if (!file || !corpusDir) {
  console.error("Usage: npx tsx scripts/check-eval-set.ts <qa.jsonl> <corpus dir>");
  process.exit(2);
}
if (!existsSync(file)) {
  console.error(`No such question file: ${file}`);
  process.exit(2);
}

try {
  const report = await checkEvalSet(file, corpusDir);
  const answerable = report.questions.filter((q) => q.kind !== "negative").length;
  console.log(`${file}: ${report.questions.length} questions (${answerable} answerable, ${report.byKind.negative ?? 0} negative)`);
  console.log(`  by kind: ${KINDS.map((k) => `${k} ${report.byKind[k] ?? 0}`).join(", ")}`);
  for (const w of report.warnings) console.log(`  warning: ${w}`);
  for (const e of report.errors) console.log(`  ERROR: ${e}`);
  console.log(report.errors.length ? `${report.errors.length} error(s)` : "OK");
  process.exitCode = report.errors.length ? 1 : 0;
} catch (err) {
  if (err instanceof CorpusError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}
