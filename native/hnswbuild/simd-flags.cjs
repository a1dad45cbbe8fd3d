// Prints the SIMD compiler flags for hnswlib's distance functions, for binding.gyp. hnswlib picks
// SSE / AVX / AVX-512 at compile time from the compiler's flags (hnswlib.h, space_ip.h), and
// node-gyp's defaults give SSE only. The addon is compiled by `npm install` / `npm ci` on the machine
// that runs it, so the flags follow THAT machine's CPU: -mavx2 -mfma only where /proc/cpuinfo lists
// both (an x86-64 Linux machine with AVX2), nothing elsewhere (no AVX, other CPUs, other systems).
// A node_modules copied to an older CPU would need `npm rebuild @citebot/hnswbuild` there.
// CITEBOT_HNSW_SIMD=off forces the plain build.
const { readFileSync } = require("node:fs");

function flags() {
  if (process.env.CITEBOT_HNSW_SIMD === "off" || process.arch !== "x64" || process.platform !== "linux") return [];
  let info = "";
  try {
    info = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return [];
  }
  const line = info.split("\n").find((l) => l.startsWith("flags")) ?? "";
  const has = new Set(line.split(/\s+/));
  return has.has("avx2") && has.has("fma") ? ["-mavx2", "-mfma"] : [];
}

console.log(flags().join(" "));
