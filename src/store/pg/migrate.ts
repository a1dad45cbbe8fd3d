// Schema migrations: src/store/pg/migrations/NNN_name.sql, applied in order, each once, all in one
// transaction under an advisory lock (two processes starting at once do not race), and recorded in
// schema_migrations. The schema's tables live in their own PostgreSQL schema (default "citebot").
import fs from "node:fs";
import path from "node:path";
import type pg from "pg";
import { PROJECT_ROOT } from "../../paths.js";
import { ident, PgStoreError } from "./connection.js";

export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, "src", "store", "pg", "migrations");

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The shipped migrations, in order. */
export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: fs.readFileSync(path.join(dir, f), "utf8") }));
}

/** The lowest pgvector with HNSW. */
const MIN_PGVECTOR = [0, 5, 0];

const olderThan = (v: string, min: number[]) => {
  const parts = v.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < min.length; i++) if ((parts[i] ?? 0) !== min[i]) return (parts[i] ?? 0) < min[i]!;
  return false;
};

/**
 * Creates the vector extension and `schema` if needed and applies the migrations not applied yet.
 * Returns the versions applied now, and the schema pgvector lives in (for search_path).
 */
export async function migrate(client: pg.ClientBase, schema: string, migrations = listMigrations()): Promise<{ applied: number[]; vectorSchema: string }> {
  // Up to date already: no DDL and no lock, so a role that may only read and write the tables (a
  // bot's) opens the store too.
  const ext = await client.query<{ extversion: string; schema: string }>(
    "SELECT e.extversion, n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'",
  );
  const present = await client.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [`${ident(schema)}.schema_migrations`]);
  if (ext.rows[0] && !olderThan(ext.rows[0].extversion, MIN_PGVECTOR) && present.rows[0]!.present) {
    const done = new Set((await client.query<{ version: number }>(`SELECT version FROM ${ident(schema)}.schema_migrations`)).rows.map((r) => r.version));
    if (migrations.every((m) => done.has(m.version))) return { applied: [], vectorSchema: ext.rows[0].schema };
  }
  await client.query("BEGIN");
  try {
    // One migrator at a time, across processes (CREATE EXTENSION races too).
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["citebot-migrate"]);
    try {
      await client.query("CREATE EXTENSION IF NOT EXISTS vector");
    } catch (err) {
      throw new PgStoreError(
        `pgvector is not available on this PostgreSQL (CREATE EXTENSION vector failed: ${(err as Error).message}). Install pgvector ≥ 0.5 on the server, or have an administrator run CREATE EXTENSION vector.`,
        { cause: err },
      );
    }
    const ext = await client.query<{ extversion: string; schema: string }>(
      "SELECT e.extversion, n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'",
    );
    const { extversion, schema: vectorSchema } = ext.rows[0]!;
    if (olderThan(extversion, MIN_PGVECTOR))
      throw new PgStoreError(`pgvector ${extversion} is too old: citebot needs 0.5 or later (HNSW). Run ALTER EXTENSION vector UPDATE.`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    await client.query(`SET LOCAL search_path TO ${ident(schema)}, ${ident(vectorSchema)}`);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const done = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query("COMMIT");
    return { applied, vectorSchema };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
}
