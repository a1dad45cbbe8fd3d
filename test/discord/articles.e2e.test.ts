// /add and /remove against the Discord emulator, on a copy of the corpus: files attached to the
// command (served by the emulator's CDN route) and links served by a local HTTP server on
// 127.0.0.1 (allowed by the test-only allowLoopback setting). Each good file is saved with its
// metadata, indexed (the /reindex path) and answered from; each bad one (binary, wrong type,
// oversized, a redirect to a private address, a wrong content type, a duplicate, a non-admin) gets
// a clear private reply and changes nothing: same files, no rebuild.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOT_ADMIN } from "../../src/bot/commands/add.js";
import { botConfig } from "../../src/bot/config.js";
import { type BotHandle, runBot } from "../../src/bot/main.js";
import { Citebot } from "../../src/citebot.js";
import { minimalDocx, minimalPdf } from "./documents.js";
import { DiscordEmulator, type EmuAttachment, EPHEMERAL } from "./emulator.js";
import { CORPUS_DIR, captureLogs, expectNoPings, type LogCapture, replyTo } from "./helpers.js";
import { Transcript } from "./transcript.js";

const MANAGE_GUILD = String(1n << 5n);
const MAX_BYTES = 64 * 1024;
const FERRY =
  "The Riverton ferry resumed service on Saturday after a two-week strike by its crew. The operator agreed to a new rota and a four percent raise.\n\nPassengers queued from dawn at the harbour.\n";
const LIGHTHOUSE_HTML = `<!doctype html><html><head><title>Lighthouse keepers return to Cape Morrow</title><meta name="date" content="2024-03-02"></head>
<body><article><h1>Lighthouse keepers return to Cape Morrow</h1><p>For the first time in forty years, two keepers will live at the Cape Morrow lighthouse.</p>
<p>The coastal trust said automated lamps had failed twice during winter storms.</p></article></body></html>`;

let corpusDir: string;
let dataDir: string;
let citebot: Citebot;
let emu: DiscordEmulator;
let bot: BotHandle;
let logs: LogCapture;
let server: http.Server;
let site: string;
let admin: ReturnType<DiscordEmulator["addUser"]>;
const t = new Transcript("articles");

beforeAll(async () => {
  corpusDir = mkdtempSync(path.join(tmpdir(), "citebot-add-corpus-"));
  dataDir = mkdtempSync(path.join(tmpdir(), "citebot-add-data-"));
  cpSync(CORPUS_DIR, corpusDir, { recursive: true });
  citebot = await Citebot.open({ corpusDir, dataDir });
  server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": type, ...headers });
      res.end(body);
    };
    switch (req.url) {
      case "/lighthouse":
        return send(200, "text/html; charset=utf-8", LIGHTHOUSE_HTML);
      case "/moved":
        return send(301, "text/plain", "", { location: "/lighthouse" });
      case "/to-private":
        return send(302, "text/plain", "", { location: "http://10.0.0.7/admin" });
      case "/to-metadata":
        return send(302, "text/plain", "", { location: "http://169.254.169.254/latest/meta-data/" });
      case "/photo":
        return send(200, "image/png", Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      case "/huge":
        // No Content-Length (chunked): the limit must hold on the bytes received.
        res.writeHead(200, { "content-type": "text/plain" });
        for (let i = 0; i < 20; i++) res.write("word ".repeat(1000));
        return res.end();
      default:
        return send(404, "text/plain", "not found");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  site = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  emu = await DiscordEmulator.start();
  admin = emu.addUser("editor");
  logs = captureLogs();
  bot = await runBot({
    citebot,
    config: botConfig({
      token: emu.token,
      apiUrl: emu.apiUrl,
      rateLimit: { max: 1000, windowMs: 60_000 },
      add: { maxBytes: MAX_BYTES, timeoutMs: 5000, allowLoopback: true },
    }),
    logger: logs.logger,
  });
}, 60_000);

afterAll(async () => {
  t.write();
  await bot?.stop();
  await emu?.stop();
  await new Promise((r) => server?.close(r));
  for (const d of [corpusDir, dataDir]) if (d) rmSync(d, { recursive: true, force: true });
});

const files = () => readdirSync(corpusDir).sort();
const rebuilds = () => logs.lines.filter((l) => l.msg === "rebuilding the index in a child process").length;

async function add(options: Record<string, string>, attachments?: Record<string, EmuAttachment>, user = admin, permissions = MANAGE_GUILD) {
  const shown = Object.entries(options).map(([k, v]) => `${k}:${v}`);
  for (const [k, a] of Object.entries(attachments ?? {})) shown.push(`${k}:${a.filename} (${a.size ?? Buffer.byteLength(a.content)} bytes)`);
  t.user(user.username, `/add ${shown.join(" ")}`);
  const ia = emu.sendSlashCommand({ name: "add", options, attachments, user, permissions });
  const res = await emu.waitForInteractionResponse(ia, 60_000);
  t.bot(res, true);
  expectNoPings(res);
  const [first] = emu.requestsFor(ia);
  expect((first!.body.data?.flags ?? 0) & EPHEMERAL).toBe(EPHEMERAL); // private to the admin
  return String((res.body.data ?? res.body).content);
}

async function ask(q: string) {
  t.user("alice", `@citebot ${q}`);
  const m = emu.sendMessage({ content: q, mentionBot: true });
  const reply = await emu.waitForRequest(replyTo(m.id), 10_000);
  t.bot(reply);
  return reply.body;
}

describe("/add", () => {
  it("a .txt attachment: saved with a YAML header (title, date), indexed, answered from", async () => {
    const before = files();
    const text = await add(
      { title: "Riverton ferry back after strike", date: "2024-05-11" },
      { file: { filename: "ferry.txt", content: FERRY, contentType: "text/plain; charset=utf-8" } },
    );
    expect(text).toMatch(
      /^Added “Riverton ferry back after strike” \(2024-05-11\) as `riverton-ferry-back-after-strike\.txt`: [2-9] sentences\. I'm answering from it now \(\d+ articles in the archive\)\.$/,
    );
    expect(files()).toEqual([...before, "riverton-ferry-back-after-strike.txt"].sort());
    const saved = readFileSync(path.join(corpusDir, "riverton-ferry-back-after-strike.txt"), "utf8");
    expect(saved).toMatch(/^---\ntitle: Riverton ferry back after strike\ndate: 2024-05-11\n---\nThe Riverton ferry/);
    const answer = await ask("When did the Riverton ferry resume service?");
    expect(answer.embeds[0].title).toMatch(/Riverton ferry back after strike/);
    for (const step of ["download", "downloaded", "checked", "saved", "rebuild", "done"])
      expect(logs.lines.some((l) => l.command === "add" && l.step === step)).toBe(true);
  }, 90_000);

  it("a URL (after a redirect): the page is saved as .html with its link, title and date from the page", async () => {
    const text = await add({ url: `${site}/moved` });
    expect(text).toMatch(/^Added “Lighthouse keepers return to Cape Morrow” \(2024-03-02\) as `lighthouse-keepers-return-to-cape-morrow\.html`: \d+ sentences/);
    const saved = readFileSync(path.join(corpusDir, "lighthouse-keepers-return-to-cape-morrow.html"), "utf8");
    expect(saved.startsWith(`---\ntitle: Lighthouse keepers return to Cape Morrow\ndate: 2024-03-02\nurl: ${site}/lighthouse\n---\n<!doctype html>`)).toBe(
      true,
    );
    expect(citebot.articles().find((a) => a.file === "lighthouse-keepers-return-to-cape-morrow.html")?.url).toBe(`${site}/lighthouse`);
  }, 90_000);

  it("a PDF and a Word .docx: their text is saved as .txt with a header", async () => {
    const pdf = minimalPdf([
      "Harbour pier opens",
      "The Riverton harbour opened a new pier on Monday for fishing boats.",
      "The pier cost two million euros and took a year to build.",
    ]);
    const p = await add({ title: "Harbour pier opens" }, { file: { filename: "pier.pdf", content: pdf, contentType: "application/pdf" } });
    expect(p).toMatch(/^Added “Harbour pier opens” as `harbour-pier-opens\.txt`: \d+ sentences/);
    const docx = await minimalDocx([
      "Museum reopens",
      "The Cape Morrow maritime museum reopened on Sunday after a long renovation.",
      "Entry is free for children.",
    ]);
    const d = await add(
      { title: "Museum reopens" },
      { file: { filename: "museum.docx", content: docx, contentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document" } },
    );
    expect(d).toMatch(/^Added “Museum reopens” as `museum-reopens\.txt`: \d+ sentences/);
    expect(readFileSync(path.join(corpusDir, "museum-reopens.txt"), "utf8")).toMatch(/^---\ntitle: Museum reopens\n---\n[\s\S]*maritime museum reopened/);
  }, 120_000);
});

describe("/add refuses, and changes nothing", () => {
  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    ["a binary file named .txt", () => add({}, { file: { filename: "notes.txt", content: Buffer.from([0x41, 0, 0x42, 0, 0x43]) } }), /it looks binary/],
    ["a file type it can't read", () => add({}, { file: { filename: "setup.exe", content: "MZ" } }), /is not a file type I can add/],
    [
      "an oversized attachment (refused before downloading)",
      () => add({}, { file: { filename: "big.txt", content: "x", size: MAX_BYTES + 1 } }),
      /the limit is 64 KB/,
    ],
    [
      "a .pdf that isn't one",
      () => add({}, { file: { filename: "fake.pdf", content: "hello there, I am not a PDF at all, just text", contentType: "application/pdf" } }),
      /it is not a PDF file/,
    ],
    ["a URL redirecting to a private address", () => add({ url: `${site}/to-private` }), /10\.0\.0\.7 is a private address, which I don't fetch from/],
    ["a URL redirecting to the cloud metadata address", () => add({ url: `${site}/to-metadata` }), /169\.254\.169\.254 is a link-local address/],
    ["a URL with the wrong content type", () => add({ url: `${site}/photo` }), /its content type is image\/png, not an article I can read/],
    ["an oversized URL (no Content-Length)", () => add({ url: `${site}/huge` }), /over the limit of 64 KB/],
    ["a non-http URL", () => add({ url: "file:///etc/passwd" }), /only http and https links can be added \(not file\)/],
    [
      "a page that is already in the archive",
      () => add({}, { file: { filename: "again.txt", content: FERRY } }),
      /it is already in the archive, as “Riverton ferry back after strike”/,
    ],
  ];
  for (const [what, run, why] of cases) {
    it(what, async () => {
      const before = files();
      const builds = rebuilds();
      const text = await run();
      expect(text).toMatch(/^I couldn't add /);
      expect(text).toMatch(why);
      expect(text).toMatch(/Nothing was changed\.$/);
      expect(files()).toEqual(before);
      expect(rebuilds()).toBe(builds);
    }, 30_000);
  }

  it("the oversized attachment was never downloaded", () => {
    const big = [...emu.cdn.values()].find((a) => a.filename === "big.txt")!;
    expect(emu.cdnRequests.some((p) => p.includes(big.id))).toBe(false);
  });

  it("a member without Manage Server, or neither/both of file and url", async () => {
    expect(await add({ url: `${site}/lighthouse` }, undefined, emu.addUser("member"), "0")).toBe(NOT_ADMIN);
    expect(await add({})).toMatch(/^Give me either a file/);
  });
});

describe("/remove", () => {
  it("suggests titles, deletes the file, rebuilds; answers no longer quote it", async () => {
    const ac = emu.sendAutocomplete({ name: "remove", options: { article: "Riverton ferry" }, focused: "article", user: admin });
    const choices = (await emu.waitForInteractionResponse(ac)).body.data.choices;
    expect(choices[0]).toEqual({ name: "Riverton ferry back after strike", value: "riverton-ferry-back-after-strike" });
    const before = citebot.articles().length;
    t.user(admin.username, "/remove article:Riverton ferry back after strike");
    const ia = emu.sendSlashCommand({ name: "remove", options: { article: choices[0].value }, user: admin, permissions: MANAGE_GUILD });
    const res = await emu.waitForInteractionResponse(ia, 60_000);
    t.bot(res, true);
    expect((emu.requestsFor(ia)[0]!.body.data?.flags ?? 0) & EPHEMERAL).toBe(EPHEMERAL);
    expect(res.body.content).toBe(
      `Removed “Riverton ferry back after strike” (\`riverton-ferry-back-after-strike.txt\`). ${before - 1} articles left in the archive; answers no longer quote it.`,
    );
    expect(files()).not.toContain("riverton-ferry-back-after-strike.txt");
    const answer = await ask("When did the Riverton ferry resume service?");
    expect(JSON.stringify(answer.embeds)).not.toMatch(/Riverton ferry back after strike/);
    expect(logs.lines.some((l) => l.command === "remove" && l.step === "deleted")).toBe(true);
  }, 90_000);
});
