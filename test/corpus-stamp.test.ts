// Opening an index whose corpus files are unchanged (same paths, sizes, mtimes, inodes) does not
// read the corpus again; any change to the files takes the full path (read, compare, rebuild).
import { readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Citebot } from "../src/citebot.js";
import { corpusFingerprint } from "../src/corpus/load.js";
import { LITE_MODEL, TransformersEmbedder } from "../src/embed/embedder.js";
import { cleanupTmp, copyRealCorpus, ENVOY_ID, mkTmp } from "./helpers.js";

describe("open skips reading an unchanged corpus", () => {
  let embedder: TransformersEmbedder;
  beforeAll(async () => {
    embedder = await TransformersEmbedder.load({ model: LITE_MODEL });
  });
  afterAll(cleanupTmp);

  it("loads the current version without parsing the files when nothing changed, and rebuilds when a file did", async () => {
    const corpus = copyRealCorpus();
    const dataDir = mkTmp("citebot-data-");
    const file = path.join(corpus, `${ENVOY_ID}.txt`);
    // A whole-second mtime, so that the test can put it back exactly after its edit.
    const stamp = new Date(Math.floor(Date.now() / 1000 - 60) * 1000);
    utimesSync(file, stamp, stamp);
    const first = await Citebot.open({ corpusDir: corpus, dataDir, embedder });
    expect(first.status.index).toBe("built");
    await first.close();

    // Same size, same mtime, same inode: the fingerprint can't tell, so open must not have read it.
    const before = statSync(file);
    const text = readFileSync(file, "utf8");
    const edited = text.replace("Antonov", "Antonow");
    expect(edited.length).toBe(text.length);
    const fingerprint = await corpusFingerprint(corpus);
    writeFileSync(file, edited);
    utimesSync(file, stamp, stamp);
    expect(await corpusFingerprint(corpus)).toBe(fingerprint);
    const second = await Citebot.open({ corpusDir: corpus, dataDir, embedder });
    expect(second.status.index).toBe("loaded");
    const quoted = (await second.passages(ENVOY_ID)).map((p) => p.text).join(" ");
    expect(quoted).toContain("Antonov"); // the stored text: the file was not read again
    await second.close();

    // A real edit moves the mtime: the corpus is read, and the index rebuilt with the new text.
    const later = new Date(before.mtimeMs + 5000);
    utimesSync(file, later, later);
    expect(await corpusFingerprint(corpus)).not.toBe(fingerprint);
    const third = await Citebot.open({ corpusDir: corpus, dataDir, embedder });
    expect(third.status.index).toBe("built");
    expect((await third.passages(ENVOY_ID)).map((p) => p.text).join(" ")).toContain("Antonow");
    await third.close();
  }, 120_000);
});
