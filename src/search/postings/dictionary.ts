// Term dictionary of a keyword segment: unique terms as UTF-8 in one byte blob, sorted bytewise
// (which is code point order), addressed by an offsets array. Looked up by binary search and
// searched for typos by walking the sorted list as an implicit trie (no extra memory, and the
// walk only visits prefixes that can still end within the allowed edit distance).

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Compares two strings in code point order (= UTF-8 byte order), unlike `<` (UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800–DFFF) encode code points above FFFF: move them above E000–FFFF.
    if (x >= 0xd800) x = x < 0xe000 ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** Indexes of `terms` in code point order; native comparison when no term has a unit ≥ D800 (same order). */
export function termOrder(terms: string[]): number[] {
  const order = Array.from({ length: terms.length }, (_, i) => i);
  const wide = terms.some((t) => /[\ud800-\uffff]/.test(t));
  if (wide) return order.sort((a, b) => compareCodePoints(terms[a]!, terms[b]!));
  return order.sort((a, b) => {
    const x = terms[a]!;
    const y = terms[b]!;
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

export interface FuzzyMatch {
  id: number;
  distance: number;
}

export class TermDictionary {
  /** `offsets` has count + 1 entries; term i is bytes[offsets[i], offsets[i + 1]). */
  constructor(
    readonly bytes: Uint8Array,
    readonly offsets: Uint32Array,
  ) {}

  get count(): number {
    return this.offsets.length - 1;
  }

  /** A dictionary of unique terms already in `termOrder`. */
  static fromSorted(terms: string[]): TermDictionary {
    const encoded = terms.map((t) => encoder.encode(t));
    const offsets = new Uint32Array(terms.length + 1);
    let total = 0;
    encoded.forEach((e, i) => {
      offsets[i] = total;
      total += e.length;
    });
    offsets[terms.length] = total;
    const bytes = new Uint8Array(total);
    encoded.forEach((e, i) => {
      bytes.set(e, offsets[i]!);
    });
    return new TermDictionary(bytes, offsets);
  }

  term(id: number): string {
    return decoder.decode(this.bytes.subarray(this.offsets[id]!, this.offsets[id + 1]!));
  }

  /** Id of `term`, or -1. */
  find(term: string): number {
    return this.findBytes(encoder.encode(term));
  }

  findBytes(key: Uint8Array): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.compareAt(mid, key);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Sign of term(id) − key, bytewise. */
  private compareAt(id: number, key: Uint8Array): number {
    const s = this.offsets[id]!;
    const len = this.offsets[id + 1]! - s;
    const n = Math.min(len, key.length);
    for (let i = 0; i < n; i++) {
      const d = this.bytes[s + i]! - key[i]!;
      if (d !== 0) return d;
    }
    return len - key.length;
  }

  /** Whether the terms are strictly increasing bytewise and valid UTF-8 (for opening untrusted data). */
  checkOrder(): string | undefined {
    for (let i = 0; i < this.count; i++) {
      const s = this.offsets[i]!;
      const e = this.offsets[i + 1]!;
      if (e <= s) return `term ${i} is empty`;
      if (i > 0 && this.compareAt(i - 1, this.bytes.subarray(s, e)) >= 0) return `terms ${i - 1} and ${i} are out of order`;
    }
    try {
      decoder.decode(this.bytes);
    } catch {
      return "the terms are not valid UTF-8";
    }
    return undefined;
  }

  /**
   * Terms within Levenshtein distance `maxDistance` of `term` (counted in code points), with their
   * distance. Walks the sorted terms as a trie: a run of terms sharing a prefix is one node, and a
   * node is left as soon as every cell of its edit-distance row exceeds `maxDistance`.
   */
  fuzzy(term: string, maxDistance: number): FuzzyMatch[] {
    const q = Array.from(term, (c) => c.codePointAt(0)!);
    const m = q.length;
    const out: FuzzyMatch[] = [];
    if (this.count === 0) return out;
    // One DP row per trie level, reused down the walk (a node deeper than m + maxDistance is never viable).
    const W = m + 1;
    const rows = new Uint32Array((m + maxDistance + 2) * W);
    for (let j = 0; j <= m; j++) rows[j] = j;
    const { bytes, offsets } = this;

    const walk = (lo: number, hi: number, depth: number, level: number): void => {
      const row = level * W;
      let i = lo;
      // The term that is exactly the prefix sorts first in its run.
      if (offsets[i + 1]! - offsets[i]! === depth) {
        if (rows[row + m]! <= maxDistance) out.push({ id: i, distance: rows[row + m]! });
        i++;
      }
      const next = row + W;
      while (i < hi) {
        const at = offsets[i]! + depth;
        const lead = bytes[at]!;
        const n = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
        let cp = n === 1 ? lead : lead & (0xff >> (n + 1));
        for (let k = 1; k < n; k++) cp = (cp << 6) | (bytes[at + k]! & 0x3f);
        // End of the run of terms with the same next character: gallop, then binary search on
        // those n bytes (runs are short below the first levels).
        let a = i + 1;
        let step = 1;
        while (a + step < hi && this.sameBytes(a + step - 1, depth, at, n)) {
          a += step;
          step *= 2;
        }
        let b = Math.min(a + step, hi);
        while (a < b) {
          const mid = (a + b) >>> 1;
          if (this.sameBytes(mid, depth, at, n)) a = mid + 1;
          else b = mid;
        }
        let best = rows[row]! + 1;
        rows[next] = best;
        for (let j = 1; j <= m; j++) {
          const cost = q[j - 1] === cp ? 0 : 1;
          const v = Math.min(rows[row + j]! + 1, rows[next + j - 1]! + 1, rows[row + j - 1]! + cost);
          rows[next + j] = v;
          if (v < best) best = v;
        }
        if (best <= maxDistance) walk(i, a, depth + n, level + 1);
        i = a;
      }
    };
    walk(0, this.count, 0, 0);
    return out;
  }

  /** Whether term `id` holds, at byte `depth`, the same `n` bytes as bytes[at, at + n). */
  private sameBytes(id: number, depth: number, at: number, n: number): boolean {
    const s = this.offsets[id]! + depth;
    if (s + n > this.offsets[id + 1]!) return false;
    for (let k = 0; k < n; k++) if (this.bytes[s + k] !== this.bytes[at + k]) return false;
    return true;
  }
}
