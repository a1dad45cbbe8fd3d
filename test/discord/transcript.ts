// A readable record of an e2e scenario: what users did and what the bot answered, as text. Written
// to $TRANSCRIPT_DIR/<name>.txt when that variable is set (the transcripts quoted in reports).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { RecordedRequest } from "./emulator.js";
import { messageData, unmarkdown } from "./helpers.js";

const EPHEMERAL = 1 << 6;

export class Transcript {
  readonly lines: string[] = [];

  constructor(readonly name: string) {}

  user(who: string, what: string): void {
    this.lines.push(`${who}: ${what}`);
  }

  note(text: string): void {
    this.lines.push(`   (${text})`);
  }

  /** The bot's message carried by a recorded request: content, embed titles, buttons; private ones marked. */
  /** `ephemeral`: the reply edits a private deferred response (the edit itself carries no flags). */
  bot(r: RecordedRequest, ephemeral = false): void {
    const d = messageData(r) ?? {};
    const priv = ephemeral || (d.flags ?? 0) & EPHEMERAL ? " [only you can see this]" : "";
    const parts: string[] = [];
    if (d.content) parts.push(unmarkdown(String(d.content)).replace(/\n+/g, " ⏎ ").slice(0, 400));
    for (const e of d.embeds ?? []) parts.push(`  ▸ ${unmarkdown(String(e.title ?? ""))}${e.footer?.text ? ` — ${e.footer.text}` : ""}`);
    const buttons = (d.components ?? []).flatMap((row: any) => row.components ?? []).map((b: any) => `[${b.label ?? b.emoji?.name ?? "?"}]`);
    if (buttons.length) parts.push(`  buttons: ${buttons.join(" ")}`);
    this.lines.push(`citebot${priv}: ${parts.join("\n")}`);
  }

  log(text: string): void {
    this.lines.push(`log: ${text}`);
  }

  write(): void {
    const dir = process.env.TRANSCRIPT_DIR;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `${this.name}.txt`), `${this.lines.join("\n")}\n`);
  }
}
