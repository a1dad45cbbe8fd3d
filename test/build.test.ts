// The `citebot` command runs compiled JavaScript (dist/), and never stale code: bin/citebot.js
// rebuilds dist/ when a file under src/ is newer, and refuses to run old code when src/ doesn't
// compile. Checked on a copy of the project in a temp folder, so the real dist/ is not touched.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanupTmp, mkTmp, ROOT } from "./helpers.js";

afterAll(cleanupTmp);

function copyProject(): string {
  const dir = mkTmp("citebot-build-");
  for (const item of ["bin", "src", "scripts/build.mjs", "scripts/sharp-stub.mjs", "package.json"]) {
    fs.cpSync(path.join(ROOT, item), path.join(dir, item), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

const run = (dir: string, args: string[]) =>
  spawnSync(process.execPath, [path.join(dir, "bin", "citebot.js"), ...args], { cwd: dir, encoding: "utf8", timeout: 60_000 });

describe("bin/citebot.js", () => {
  it("builds dist/ when there is none, rebuilds it after an edit, and stops on a compile error", () => {
    const dir = copyProject();
    const first = run(dir, ["--help"]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain("Answers questions about a corpus of news articles");
    const bundle = path.join(dir, "dist", "cli.js");
    expect(fs.existsSync(bundle)).toBe(true);
    // Plain JavaScript: no TypeScript left, and transformers.js bundled without the image library.
    const code = fs
      .readdirSync(path.join(dir, "dist"))
      .map((f) => fs.readFileSync(path.join(dir, "dist", f), "utf8"))
      .join("\n");
    expect(code).not.toMatch(/from "sharp"/);
    expect(code).toContain("citebot's bundle has no image support");

    const cli = path.join(dir, "src", "cli.ts");
    const edited = fs.readFileSync(cli, "utf8").replace("Answers questions about a corpus of news articles", "Answers questions about an edited corpus");
    fs.writeFileSync(cli, edited);
    const later = new Date(Date.now() + 2000);
    fs.utimesSync(cli, later, later);
    const second = run(dir, ["--help"]);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain("Answers questions about an edited corpus");

    fs.writeFileSync(cli, `${edited}\nexport const broken = ;\n`);
    const evenLater = new Date(Date.now() + 4000);
    fs.utimesSync(cli, evenLater, evenLater);
    const third = run(dir, ["--help"]);
    expect(third.status).toBe(1);
    expect(third.stderr).toMatch(/could not rebuild dist\/ from src\//);
    expect(third.stdout).toBe(""); // the previous build did not run
  }, 120_000);
});
