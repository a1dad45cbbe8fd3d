// What a store can say about the index it serves, beyond the contract's `current()`: whether the
// current version is there and intact. The bot's IndexKeeper reports it (health, logs) and uses it
// to notice a new version when a watch event was missed. Optional: a store without it is trusted.
export type DiskState = "ok" | "missing" | "damaged";

export interface IndexProbeResult {
  state: DiskState;
  /** The version the store would serve now (undefined when there is none). */
  version?: string;
  /** Why it is missing or damaged, said for a person. */
  message?: string;
}

export interface IndexProbe {
  /** Cheap unless something changed since the last look (e.g. checksums only when a file's stamp changed). */
  probe(): Promise<IndexProbeResult>;
}

export const hasProbe = (store: object): store is IndexProbe => typeof (store as Partial<IndexProbe>).probe === "function";
