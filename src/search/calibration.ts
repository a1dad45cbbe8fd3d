// Per-model ranking weights and abstention calibration, kept beside the weights in
// models/<name>/citebot.json ("retrieval" and "abstain" keys) and written by
// `npm run fit-abstain -- --model <name>`. No per-model constants live in code: a model without
// a calibration (a hub id, a new folder) gets the conservative default below and a log line says so.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { LOCAL_MODELS_DIR } from "../embed/embedder.js";

/** The signals one candidate passage is scored by (see Retriever.signals). */
export const SIGNALS = ["dense", "keyword", "neighbours", "coverage", "answerType", "window", "late", "weakest", "focus", "focusGap", "counted"] as const;
/** The signals that need no model run (tier 1 of the re-scoring). */
export const FIRST_SIGNALS = ["dense", "keyword", "neighbours", "coverage", "answerType"] as const satisfies readonly Signal[];
export type Signal = (typeof SIGNALS)[number];

/** The question-level evidence the answer/abstain decision is made from (see Retriever.evidence). */
export const EVIDENCE = [
  "top",
  "margin",
  "late",
  "weakest",
  "window",
  "dense",
  "keyword",
  "coverage",
  "namesMissing",
  "unknownWords",
  "typeMissing",
  "focus",
  "focusGap",
  "countMissing",
] as const;
export type EvidenceName = (typeof EVIDENCE)[number];

const weights = <K extends string>(keys: readonly K[]) => z.partialRecord(z.enum(keys as unknown as [K, ...K[]]), z.number());

const schema = z.object({
  retrieval: z
    .object({
      /** Embed the whole question for the dense search, or only its content words. */
      denseQuery: z.enum(["full", "content"]).optional(),
      lateQuery: z.enum(["all", "content"]).optional(),
      wordWeights: z.enum(["model", "idf"]).optional(),
      softWords: z.boolean().optional(),
      englishLexicon: z.boolean().optional(),
      /** Question focus: words weighed by their rarity in English or in the corpus, and SIF's a for the former. */
      focusWeights: z.enum(["idf", "english"]).optional(),
      focusRarity: z.number().positive().optional(),
      countSimilarity: z.number().min(-1).max(1).optional(),
      /** Weight of the dense cosine against BM25 in the first-stage mix. */
      denseWeight: z.number().min(0).max(1).optional(),
      /** Candidates re-scored by the signals that need no model run, and how many of them by every signal. */
      rerank: z.number().int().min(1).max(200).optional(),
      rescore: z.number().int().min(1).max(200).optional(),
      firstWeights: weights(SIGNALS).optional(),
      duplicateCosine: z.number().min(0).max(1.01).optional(),
      /** Linear weights over the signals: a candidate's score. */
      weights: weights(SIGNALS).optional(),
    })
    .optional(),
  abstain: z
    .object({
      bias: z.number(),
      /** Logistic weights over the evidence; the question is answered when the probability reaches `threshold`. */
      weights: weights(EVIDENCE),
      threshold: z.number().min(0).max(1).default(0.5),
      /** How it was fitted (sets, leave-one-set-out figures), for people reading the file. */
      fitted: z.unknown().optional(),
    })
    .optional(),
});

export type Calibration = z.infer<typeof schema>;
export type AbstainModel = NonNullable<Calibration["abstain"]>;

/**
 * For a model nobody has calibrated: answer only when the late-interaction match and the word
 * coverage are both high, so that an uncalibrated model abstains rather than cite something wrong.
 */
export const CONSERVATIVE_ABSTAIN: AbstainModel = { bias: -12, weights: { late: 8, coverage: 6, namesMissing: -4 }, threshold: 0.5 };

/** The model's citebot.json path: beside a model folder given as a path, or models/<name>/. */
export function calibrationFile(modelId: string): string | undefined {
  for (const dir of [path.resolve(modelId), path.join(LOCAL_MODELS_DIR, modelId)]) {
    if (existsSync(path.join(dir, "config.json"))) return path.join(dir, "citebot.json");
  }
  return undefined;
}

/** The model's calibration, or undefined when it has none (or the file does not parse, which is reported). */
export function loadCalibration(modelId: string): { calibration?: Calibration; problem?: string } {
  const file = calibrationFile(modelId);
  if (!file || !existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    return { problem: `${file} is not JSON (${(err as Error).message})` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { problem: `${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}` };
  return { calibration: parsed.data };
}

/** Writes the retrieval and abstain keys into the model's citebot.json, keeping every other key. */
export function writeCalibration(modelId: string, calibration: Calibration): string {
  const file = calibrationFile(modelId);
  if (!file) throw new Error(`no local model folder for "${modelId}"`);
  const current = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>) : {};
  writeFileSync(file, `${JSON.stringify({ ...current, ...calibration }, null, 2)}\n`);
  return file;
}
