// Stands in for `sharp` (image decoding) in the dist/ bundle. transformers.js imports sharp at load
// time for its image pipelines, which citebot never uses (it embeds text); loading the real native
// module costs a good part of the CLI's cold start. Any use of it fails loudly.
export default function sharp() {
  throw new Error("citebot's bundle has no image support (sharp is not loaded)");
}
