#!/usr/bin/env node
// citebot's command line: ask | index | sources | eval | bot | register-commands.
import { createInterface } from "node:readline";
import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import { Citebot, type OpenOptions, type OpenStatus } from "./citebot.js";
import { renderText, toJson } from "./answer/render.js";
import { cleanQuestion, QuestionError } from "./question.js";
import { CorpusError } from "./corpus/load.js";
import { ConfigError } from "./config.js";
import { EmbedderError } from "./embed/embedder.js";
import type { RetrievalMode } from "./search/retriever.js";

class UsageError extends Error {}

const program = new Command()
  .name("citebot")
  .description("Answers questions about a corpus of news articles by quoting them, with citations.")
  .showHelpAfterError();

const corpusOption = () => new Option("--corpus <dir>", "folder of articles (default: CORPUS_DIR or ./corpus)");
const modeOption = () => new Option("--mode <mode>", "retrieval mode").choices(["hybrid", "dense", "keyword"]).default("hybrid");

/** Opens the corpus, showing a progress bar on stderr while an index is built. */
async function open(opts: { corpus?: string; mode?: string; quiet?: boolean }, extra: OpenOptions = {}): Promise<Citebot> {
  const bar = new cliProgress.SingleBar(
    { format: " {stage} [{bar}] {value}/{total} sentences", stream: process.stderr, hideCursor: true, clearOnComplete: true, noTTYOutput: false },
    cliProgress.Presets.shades_classic,
  );
  let stage = "";
  const bot = await Citebot.open({
    corpusDir: opts.corpus,
    retriever: opts.mode ? { mode: opts.mode as RetrievalMode } : undefined,
    ...extra,
    onProgress: (done, total, s) => {
      if (total === 0) return;
      if (s !== stage) {
        if (stage) bar.stop();
        stage = s;
        bar.start(total, done, { stage: s === "embed" ? "embedding" : "indexing" });
      } else bar.update(done);
    },
    onStatus: (status) => {
      if (stage) bar.stop();
      reportStatus(status, opts.quiet);
    },
  });
  return bot;
}

function reportStatus(status: OpenStatus, quiet = false): void {
  for (const s of status.skipped) console.error(`skipped ${s.file}: ${s.reason}`);
  if (status.index === "built" && !quiet) {
    const st = status.stats!;
    console.error(`Built the index (${status.reason}): ${st.passages} sentences, ${st.embedded} embedded, ${st.reused} reused, ${st.seconds.toFixed(1)} s.`);
  }
}

program
  .command("ask")
  .description("answer a question with quoted, cited passages")
  .argument("[question...]", "the question")
  .option("--json", "print one JSON object")
  .option("--jsonl", "read one question per line on stdin, print one JSON object per line")
  .option("-n, --limit <n>", "how many excerpts", (v) => Number.parseInt(v, 10), 3)
  .addOption(corpusOption())
  .addOption(modeOption())
  .action(async (parts: string[], opts: { json?: boolean; jsonl?: boolean; limit: number; corpus?: string; mode: string }) => {
    if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > 20) throw new UsageError("--limit takes a whole number from 1 to 20.");
    if (opts.jsonl) {
      const bot = await open({ ...opts, quiet: true });
      const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
      for await (const line of rl) {
        if (!line.trim()) continue;
        try {
          const answer = await bot.answer(cleanQuestion(line), { limit: opts.limit });
          console.log(JSON.stringify(toJson(answer)));
        } catch (err) {
          if (!(err instanceof QuestionError)) throw err;
          console.log(JSON.stringify({ question: line, answered: false, hits: [], error: err.message }));
        }
      }
      return;
    }
    const question = cleanQuestion(parts.join(" "));
    const bot = await open(opts);
    const answer = await bot.answer(question, { limit: opts.limit });
    console.log(opts.json ? JSON.stringify(toJson(answer), null, 2) : renderText(answer));
  });

program
  .command("index")
  .description("build (or refresh) the index of the corpus")
  .addOption(corpusOption())
  .action(async (opts: { corpus?: string }) => {
    const bot = await open(opts);
    if (bot.status.index === "loaded") console.error("The index is up to date.");
    console.log(`${bot.articles().length} articles, ${bot.passageCount} sentences indexed in ${bot.indexDir}`);
  });

program
  .command("sources")
  .description("list the articles in the corpus")
  .addOption(corpusOption())
  .action(async (opts: { corpus?: string }) => {
    const bot = await open(opts);
    for (const a of bot.articles()) {
      const meta = [a.source, a.date].filter(Boolean).join(", ");
      console.log(`${a.id}\t${a.title}${meta ? ` — ${meta}` : ""}\t(${bot.passages(a.id).length} sentences)${a.url ? `\t${a.url}` : ""}`);
    }
  });

program
  .command("eval")
  .description("score retrieval on a question file (JSONL)")
  .argument("<file>", "questions with expected answers")
  .option("--json", "print the figures as JSON")
  .option("--compare", "compare keyword-only, dense-only and hybrid side by side")
  .option("--details", "print each question's outcome")
  .addOption(corpusOption())
  .addOption(modeOption())
  .action(async (file: string, opts: { json?: boolean; compare?: boolean; details?: boolean; corpus?: string; mode: string }) => {
    const { runEval } = await import("./eval.js");
    const ok = await runEval(file, opts);
    if (!ok) process.exitCode = 1;
  });

program
  .command("bot")
  .description("run the Discord bot (DISCORD_TOKEN in .env)")
  .addOption(corpusOption())
  .action(async (opts: { corpus?: string }) => {
    const { runBotFromCli } = await import("./bot/main.js");
    await runBotFromCli({ corpusDir: opts.corpus });
  });

program
  .command("register-commands")
  .description("register the slash commands with Discord (guild-scoped when DISCORD_GUILD_ID is set)")
  .action(async () => {
    const { registerCommandsFromCli } = await import("./bot/main.js");
    await registerCommandsFromCli();
  });

try {
  await program.parseAsync();
} catch (err) {
  const known = err instanceof UsageError || err instanceof QuestionError || err instanceof CorpusError || err instanceof ConfigError || err instanceof EmbedderError;
  if (known) {
    console.error(`citebot: ${(err as Error).message}`);
    process.exitCode = 2;
  } else {
    console.error(`citebot: unexpected error: ${(err as Error).message ?? String(err)}`);
    if (process.env.DEBUG) console.error(err);
    process.exitCode = 1;
  }
}
