// Optional HTTP endpoint for operations (HEALTH_PORT): GET /healthz (200 when the gateway is
// connected and an index is loaded, 503 otherwise, with a JSON body saying what is wrong) and
// GET /metrics (Prometheus text format). Bound to 127.0.0.1 unless HEALTH_HOST says otherwise.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Logger } from "../log.js";
import { errInfo } from "./errors.js";

export interface HealthReport {
  ok: boolean;
  gateway: string;
  index: { loaded: boolean; articles: number; disk: string };
  queue: { pending: number; max: number };
  draining: boolean;
}

export interface HealthServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  report: () => HealthReport;
  log: Logger;
}): Promise<HealthServer> {
  const { registry, report, log } = opts;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (url.pathname === "/healthz") {
      let body: HealthReport;
      try {
        body = report();
      } catch (err) {
        log.error({ err: errInfo(err) }, "health check failed");
        res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ ok: false }));
        return;
      }
      res.writeHead(body.ok ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : JSON.stringify(body));
      return;
    }
    if (url.pathname === "/metrics") {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
          res.end(req.method === "HEAD" ? undefined : text);
        },
        (err: unknown) => {
          log.error({ err: errInfo(err) }, "metrics collection failed");
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /healthz or /metrics\n");
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error({ err: errInfo(err) }, "health server error"));
  const { port } = server.address() as AddressInfo;
  return {
    host: opts.host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
