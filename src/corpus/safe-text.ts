// Characters from articles and file names that a terminal or Discord would obey instead of show:
// C0/C1 control characters (ANSI escape sequences clear the screen, set the window title or write
// the clipboard) and bidi embeddings/overrides/isolates (a right-to-left override makes
// "report\u202Etxt.exe" read as "reportexe.txt"). They are neutralised once, at ingest, so every
// front end receives text that is safe to print: controls become their visible Unicode "control
// picture" (ESC → ␛), so they are shown, not obeyed.

/** Bidi embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI). */
const BIDI = /[\u202A-\u202E\u2066-\u2069]/g;
/** C0 controls but tab and newline, DEL, C1 controls. */
const CONTROLS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
/** Any control character, tab and newline included (for one-line fields: names and titles). */
const ALL_CONTROLS = /[\u0000-\u001F\u007F-\u009F]/g;

/** The visible stand-in of a control character: U+2400 + code for C0, ␡ for DEL, U+FFFD for C1. */
function picture(c: string): string {
  const code = c.charCodeAt(0);
  if (code < 0x20) return String.fromCharCode(0x2400 + code);
  if (code === 0x7f) return "\u2421";
  return "\uFFFD";
}

/**
 * Article text: control characters (but tab and newline) shown as pictures, bidi controls dropped.
 * Line and paragraph separators (U+2028/U+2029) become newlines. Everything else is kept verbatim.
 */
export function safeText(text: string): string {
  return text
    .replace(/[\u2028\u2029]/g, "\n")
    .replace(CONTROLS, picture)
    .replace(BIDI, "");
}

/** A one-line field (title, date, source, url, byline): any line break or tab is a space, controls pictures, bidi dropped. */
export function safeLine(text: string): string {
  return text
    .replace(/[\t\n\r\u2028\u2029]+/g, " ")
    .replace(ALL_CONTROLS, picture)
    .replace(BIDI, "")
    .trim();
}

/**
 * A file name or path: every control (tab and newline too: they would break a table) shown as its
 * picture, and bidi controls shown as U+FFFD, so a name's real order and its oddities stay visible.
 */
export function safeName(name: string): string {
  return name
    .replace(/[\u2028\u2029]/g, "\uFFFD")
    .replace(ALL_CONTROLS, picture)
    .replace(BIDI, "\uFFFD");
}
