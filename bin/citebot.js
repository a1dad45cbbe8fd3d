#!/usr/bin/env node
// The `citebot` command (package.json "bin"; every npm script goes through it): runs the compiled
// bundle in dist/ on plain node. In a checkout where a file under src/ is newer than the bundle, it
// rebuilds first (well under a second), so an edit is never run stale and nobody has to remember a
// build step. The check is a few dozen stat() calls.
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function newestUnder(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0; // no src/ (an installed package): dist/ is all there is
  }
  for (const e of entries) {
    const p = `${dir}/${e.name}`;
    newest = Math.max(newest, e.isDirectory() ? newestUnder(p) : mtime(p));
  }
  return newest;
}

const bundled = mtime(`${root}dist/cli.js`);
if (!bundled || Math.max(newestUnder(`${root}src`), mtime(`${root}scripts/build.mjs`)) > bundled) {
  try {
    const { buildDist } = await import("../scripts/build.mjs");
    await buildDist();
  } catch (err) {
    // A compile error in src/ (esbuild has printed it) stops here: never run the old code instead.
    // A folder citebot may not write to (a read-only install) runs the bundle it has, saying so.
    const compileError = Array.isArray(err?.errors) && err.errors.length > 0;
    console.error(`citebot: could not rebuild dist/ from src/: ${String(err?.message ?? err).split("\n")[0]}`);
    if (compileError || !bundled) process.exit(1);
    console.error("citebot: running the previous build.");
  }
}
await import("../dist/cli.js");
