#!/usr/bin/env node
// Compiles src/cli.ts and everything it imports into dist/ with esbuild: plain JavaScript that node
// runs without a TypeScript loader (packages stay in node_modules). Runs on `npm install` and
// `npm ci` (the `prepare` script; esbuild is a regular dependency, so `--omit=dev` builds too), and
// from bin/citebot.js whenever a file under src/ is newer than the bundle.
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DIST = path.join(ROOT, "dist");

// Packages stay in node_modules, except transformers.js: it is bundled so that its `sharp` import
// (image decoding, never used for text) is replaced by a stub instead of loading a native module.
// onnxruntime stays external: onnxruntime-node registers its backend in onnxruntime-common, and the
// two must be the very same module instances transformers.js sees.
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
const external = [
  ...Object.keys(pkg.dependencies).filter((d) => d !== "@huggingface/transformers"),
  "onnxruntime-node",
  "onnxruntime-common",
  "onnxruntime-web",
];

/** esbuild's options for a bundle of `entryPoints` (name → source file) as dist/ is built (the bench bundles its children so too). */
export const bundleOptions = (entryPoints, outdir) => ({
  absWorkingDir: ROOT,
  entryPoints,
  outdir,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external,
  alias: { sharp: "./scripts/sharp-stub.mjs" },
  logLevel: "error",
});

export async function buildDist() {
  const result = await build({
    // The isolated index build (src/index/isolated.ts) runs dist/buildchild.js in a child process, and
    // indexing embeds on worker threads running dist/embed-worker.js (src/embed/workers.ts).
    ...bundleOptions({ cli: "src/cli.ts", buildchild: "src/index/buildchild.ts", "embed-worker": "src/embed/embed-worker.ts" }, DIST),
    splitting: true, // the bot and eval are separate chunks, loaded only by their commands
    write: false,
  });
  mkdirSync(DIST, { recursive: true });
  const written = new Set();
  // Chunks first and the entry point last, each through a rename: a process starting meanwhile sees
  // the old bundle or the new one, never half a file.
  const outputs = [...result.outputFiles].sort((a, b) => Number(a.path.endsWith("cli.js")) - Number(b.path.endsWith("cli.js")));
  for (const file of outputs) {
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
    written.add(path.basename(file.path));
  }
  chmodSync(path.join(DIST, "cli.js"), 0o755);
  for (const name of readdirSync(DIST)) if (!written.has(name) && /-[A-Z0-9]{8}\.js$/.test(name)) rmSync(path.join(DIST, name), { force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await buildDist();
