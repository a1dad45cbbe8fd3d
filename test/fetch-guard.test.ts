// The /add downloader's guard (src/bot/articles/fetch.ts): only public unicast addresses, checked
// on the address actually connected to (literal or resolved), on every redirect; a deadline.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockedAddress, FetchRefused, type SafeFetchOptions, safeFetch } from "../src/bot/articles/fetch.js";

let server: http.Server;
let port: number;
const any = () => true;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === "/slow") return; // never answers
    if (req.url === "/loop") return void res.writeHead(302, { location: "/loop" }).end();
    if (req.url === "/to-localhost") return void res.writeHead(302, { location: `http://localhost:${port}/ok` }).end();
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("blockedAddress", () => {
  it("allows public unicast only (loopback only when allowed)", () => {
    expect(blockedAddress("93.184.216.34")).toBeUndefined();
    expect(blockedAddress("2606:4700::1111")).toBeUndefined();
    for (const a of [
      "127.0.0.1",
      "10.0.0.1",
      "172.16.5.4",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "fe80::1",
      "fd12::1",
      "::ffff:10.0.0.1",
      "::ffff:127.0.0.1",
      "224.0.0.1",
    ]) {
      expect(blockedAddress(a), a).toBeDefined();
    }
    expect(blockedAddress("127.0.0.1", true)).toBeUndefined();
    expect(blockedAddress("10.0.0.1", true)).toBeDefined();
  });
});

describe("safeFetch", () => {
  const opts = { maxBytes: 1000, timeoutMs: 2000, accept: any };
  const refused = async (url: string, o: SafeFetchOptions = opts) => {
    const err = await safeFetch(url, o).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchRefused);
    return err as FetchRefused;
  };

  it("refuses loopback by literal address, by name (after DNS) and as IPv4-mapped IPv6", async () => {
    expect((await refused(`http://127.0.0.1:${port}/ok`)).reason).toBe("address");
    const byName = await refused(`http://localhost:${port}/ok`);
    expect(byName.reason).toBe("address");
    expect(byName.message).toMatch(/localhost resolves to a loopback address/);
    expect((await refused(`http://[::ffff:127.0.0.1]:${port}/ok`)).reason).toBe("address");
  });

  it("with loopback allowed (tests), fetches; still checks each redirect and bounds them", async () => {
    const o = { ...opts, allowLoopback: true };
    expect((await safeFetch(`http://127.0.0.1:${port}/ok`, o)).bytes.toString()).toBe("ok");
    expect((await refused(`http://127.0.0.1:${port}/loop`, o)).reason).toBe("redirects");
    expect((await safeFetch(`http://127.0.0.1:${port}/to-localhost`, o)).url).toBe(`http://localhost:${port}/ok`);
  });

  it("gives up at the deadline", async () => {
    const err = await refused(`http://127.0.0.1:${port}/slow`, { ...opts, timeoutMs: 300, allowLoopback: true });
    expect(err.reason).toBe("timeout");
    expect(err.message).toBe("the download took longer than 0.3 s");
  });

  it("refuses other schemes and credentials in the URL", async () => {
    expect((await refused("ftp://example.org/x")).reason).toBe("protocol");
    expect((await refused("http://user:pw@example.org/")).reason).toBe("protocol");
  });
});
