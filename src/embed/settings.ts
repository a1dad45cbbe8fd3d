// A model's settings live with the model: models/<name>/citebot.json (written by
// scripts/export-model.py or scripts/build-model.ts). Nothing model-specific is a constant in code.
// Other stages keep their own per-model fields in the same file (e.g. fusion weights, abstention
// calibration); the embedder reads only its own and keeps the rest in `extra` for them.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

export const SETTINGS_FILE = "citebot.json";

/** transformers.js dtypes and the ONNX file each loads (onnx/model<suffix>.onnx). */
const DTYPE_SUFFIX = { fp32: "", fp16: "_fp16", q8: "_quantized", int8: "_int8", uint8: "_uint8", q4: "_q4" } as const;
export type ModelDtype = keyof typeof DTYPE_SUFFIX;

const schema = z
  .object({
    /** How token vectors become one text vector: their mean (over real tokens, special ones included) or the first token's. */
    pooling: z.enum(["mean", "cls"]).default("mean"),
    /** Scale each text vector to unit length (cosine = dot product). */
    normalize: z.boolean().default(true),
    /** Longest input in tokens, special tokens included; longer text is cut (the end special tokens kept). */
    maxTokens: z.number().int().min(2).max(8192),
    /** Put before each question / each passage (e.g. "query: " and "passage: " for E5 models). */
    queryPrefix: z.string().default(""),
    passagePrefix: z.string().default(""),
    /** Which ONNX file transformers.js loads: fp32 → onnx/model.onnx, q8 → onnx/model_quantized.onnx, … */
    dtype: z.enum(Object.keys(DTYPE_SUFFIX) as [ModelDtype, ...ModelDtype[]]).default("fp32"),
    /** The same file named outright; when given it must agree with dtype (a check against hand edits). */
    file: z.string().optional(),
  })
  .loose();

export interface ModelSettings {
  pooling: "mean" | "cls";
  normalize: boolean;
  maxTokens: number;
  queryPrefix: string;
  passagePrefix: string;
  dtype: ModelDtype;
  /** The ONNX file this model loads, relative to its folder. */
  file: string;
  /** Whether the settings came from citebot.json (false: the conservative defaults). */
  fromFile: boolean;
  /** Every other field of citebot.json (other stages' per-model settings), untouched. */
  extra: Record<string, unknown>;
}

/**
 * For a model that carries no citebot.json (a Hugging Face id, a folder made by other tools):
 * mean pooling and unit vectors (right for most sentence-transformers models), no prefixes, the
 * fp32 file, and inputs cut at 256 tokens (or the tokenizer's own limit when lower).
 */
export const DEFAULT_SETTINGS = { pooling: "mean", normalize: true, maxTokens: 256, queryPrefix: "", passagePrefix: "", dtype: "fp32" } as const;

export class ModelSettingsError extends Error {}

export function onnxFile(dtype: ModelDtype): string {
  return `onnx/model${DTYPE_SUFFIX[dtype]}.onnx`;
}

/** The defaults for a model without citebot.json. */
export function defaultSettings(): ModelSettings {
  return { ...DEFAULT_SETTINGS, file: onnxFile(DEFAULT_SETTINGS.dtype), fromFile: false, extra: {} };
}

/** Parses citebot.json text; a clear ModelSettingsError for anything wrong in it. */
export function parseModelSettings(text: string, where = SETTINGS_FILE): ModelSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ModelSettingsError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ModelSettingsError(`${where}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`).join("; ")}`);
  }
  const { pooling, normalize, maxTokens, queryPrefix, passagePrefix, dtype, file, ...extra } = parsed.data;
  const expected = onnxFile(dtype);
  if (file !== undefined && path.posix.normalize(file) !== expected) {
    throw new ModelSettingsError(`${where}: file "${file}" does not match dtype "${dtype}" (which loads ${expected})`);
  }
  return { pooling, normalize, maxTokens, queryPrefix, passagePrefix, dtype, file: expected, fromFile: true, extra };
}

/** The settings of a local model folder: its citebot.json, or undefined when it has none. */
export function readModelSettings(modelDir: string): ModelSettings | undefined {
  const file = path.join(modelDir, SETTINGS_FILE);
  if (!existsSync(file)) return undefined;
  return parseModelSettings(readFileSync(file, "utf8"), file);
}
