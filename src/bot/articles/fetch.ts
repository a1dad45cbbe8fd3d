// Downloads for /add (a URL, or a Discord attachment's CDN URL) that can't be turned against the
// machine the bot runs on: http/https only; every host name resolved and every address checked
// before connecting (the check happens in the connection's own DNS lookup, so the address checked
// is the address used: no rebinding between check and connect); only public unicast addresses
// (no private, loopback, link-local, CGNAT, multicast, reserved, unspecified, IPv4-mapped tricks);
// redirects followed by hand, each one checked the same way, at most MAX_REDIRECTS; a size limit
// (Content-Length, then the bytes actually received) and one deadline for the whole download.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";

export const MAX_REDIRECTS = 5;

export class FetchRefused extends Error {
  constructor(
    message: string,
    readonly reason: "protocol" | "address" | "redirects" | "status" | "size" | "timeout" | "type" | "network",
  ) {
    super(message);
    this.name = "FetchRefused";
  }
}

export interface SafeFetchOptions {
  maxBytes: number;
  timeoutMs: number;
  /** Tests only: allow 127.0.0.1 / ::1 (a page served by the test itself). Never set from the environment. */
  allowLoopback?: boolean;
  /** Content types accepted (lowercase, without parameters); anything else is refused. */
  accept: (contentType: string) => boolean;
}

export interface Fetched {
  bytes: Buffer;
  /** Lowercase, without parameters ("" when the server sent none). */
  contentType: string;
  /** After redirects. */
  url: string;
}

/** ipaddr.js range names, as people read them. */
const RANGE_NAMES: Record<string, string> = {
  linkLocal: "link-local",
  uniqueLocal: "private (unique local)",
  carrierGradeNat: "carrier-grade NAT",
  ipv4Mapped: "IPv4-mapped",
  rfc6145: "IPv4-translated",
  rfc6052: "IPv4-embedded",
  "6to4": "6to4",
};

/** Why an address may not be fetched from, or undefined when it may. */
export function blockedAddress(address: string, allowLoopback = false): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address); // IPv4-mapped IPv6 becomes plain IPv4
  } catch {
    return "not an IP address";
  }
  const range = parsed.range();
  if (range === "unicast") return undefined;
  if (range === "loopback" && allowLoopback) return undefined;
  return `${RANGE_NAMES[range] ?? range} address`;
}

/** dns.lookup that refuses names resolving to any non-public address (all are checked: the socket may use any). */
function guardedLookup(allowLoopback: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const list = addresses as LookupAddress[];
      const bad = list.find((a) => blockedAddress(a.address, allowLoopback));
      if (!list.length) return callback(new FetchRefused(`${hostname} has no address`, "network"), "", 0);
      if (bad)
        return callback(
          new FetchRefused(`${hostname} resolves to a ${blockedAddress(bad.address, allowLoopback)} (${bad.address}), which I don't fetch from`, "address"),
          "",
          0,
        );
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

function checkUrl(raw: string, allowLoopback: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FetchRefused("that is not a valid URL", "protocol");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new FetchRefused(`only http and https links can be added (not ${url.protocol.replace(/:$/, "")})`, "protocol");
  if (url.username || url.password) throw new FetchRefused("links with a user name or password can't be added", "protocol");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  // A literal address never goes through DNS: check it here.
  if (isIP(host)) {
    const why = blockedAddress(host, allowLoopback);
    if (why) throw new FetchRefused(`${host} is a ${why}, which I don't fetch from`, "address");
  }
  return url;
}

/** GET `raw` within the limits; throws FetchRefused saying what was wrong. */
export async function safeFetch(raw: string, opts: SafeFetchOptions): Promise<Fetched> {
  const allowLoopback = opts.allowLoopback ?? false;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  try {
    let url = checkUrl(raw, allowLoopback);
    for (let hop = 0; ; hop++) {
      const res = await request(url, controller.signal, allowLoopback);
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status)) {
        res.resume();
        const location = res.headers.location;
        if (!location) throw new FetchRefused(`the server answered ${status} without a location`, "status");
        if (hop >= MAX_REDIRECTS) throw new FetchRefused(`more than ${MAX_REDIRECTS} redirects`, "redirects");
        url = checkUrl(new URL(location, url).href, allowLoopback);
        continue;
      }
      if (status !== 200) {
        res.resume();
        throw new FetchRefused(`the server answered ${status}`, "status");
      }
      const contentType = (res.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      if (!opts.accept(contentType)) {
        res.resume();
        throw new FetchRefused(
          `its content type is ${contentType || "missing"}, not an article I can read (HTML, plain text, Markdown, PDF, Word .docx)`,
          "type",
        );
      }
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        res.destroy();
        throw new FetchRefused(`it is ${formatBytes(declared)}; the limit is ${formatBytes(opts.maxBytes)}`, "size");
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res) {
        size += (chunk as Buffer).length;
        if (size > opts.maxBytes) {
          res.destroy();
          throw new FetchRefused(`it is over the limit of ${formatBytes(opts.maxBytes)}`, "size");
        }
        chunks.push(chunk as Buffer);
      }
      return { bytes: Buffer.concat(chunks), contentType, url: url.href };
    }
  } catch (err) {
    if (err instanceof FetchRefused) throw err;
    if (controller.signal.aborted) throw new FetchRefused(`the download took longer than ${Number((opts.timeoutMs / 1000).toFixed(1))} s`, "timeout");
    const cause = (err as { cause?: unknown })?.cause;
    if (cause instanceof FetchRefused) throw cause;
    throw new FetchRefused(`the download failed (${(err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err)})`, "network");
  } finally {
    clearTimeout(timer);
  }
}

function request(url: URL, signal: AbortSignal, allowLoopback: boolean): Promise<http.IncomingMessage> {
  const mod = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { signal, lookup: guardedLookup(allowLoopback), headers: { "user-agent": "citebot (article import)", accept: "*/*" } }, resolve);
    req.on("error", reject);
  });
}

export function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(n / 1024)} KB`;
}
