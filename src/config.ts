// Environment (.env via dotenv) → validated core settings, with one clear message per bad variable.
import path from "node:path";
import dotenv from "dotenv";
import { z } from "zod";
import { PROJECT_ROOT } from "./embed/embedder.js";

dotenv.config({ path: path.join(PROJECT_ROOT, ".env"), quiet: true });

const schema = z.object({
  CORPUS_DIR: z.string().trim().min(1).default(path.join(PROJECT_ROOT, "corpus")),
  DATA_DIR: z.string().trim().min(1).default(path.join(PROJECT_ROOT, "data")),
  EMBED_MODEL: z.string().trim().min(1).optional(),
  EMBED_REMOTE_HOST: z.url({ message: "EMBED_REMOTE_HOST must be a URL such as http://127.0.0.1:8080/" }).optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type CoreConfig = z.infer<typeof schema>;

export class ConfigError extends Error {}

export function loadCoreConfig(source: NodeJS.ProcessEnv = process.env): CoreConfig {
  const blanksRemoved = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(blanksRemoved);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"));
  }
  return parsed.data;
}
