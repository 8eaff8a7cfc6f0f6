/**
 * The one place that uses `@duckdb/node-api` (an optional peer dependency,
 * loaded by the Parquet sink through `loadDriver`): an in-memory DuckDB
 * connection with the few calls the Parquet sink needs.
 */
import type { DuckDBValue } from "@duckdb/node-api"
import { randomBytes } from "node:crypto"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { fsyncDir, TEMP_SUFFIX } from "./atomic.js"

export type Value = DuckDBValue
export type Columns = ReadonlyArray<readonly [string, string]>

export interface Duck {
  readonly run: (sql: string, values?: Array<Value>) => Promise<void>
  readonly rows: (sql: string, values?: Array<Value>) => Promise<Array<Record<string, unknown>>>
  readonly close: () => void
}

export type DuckDriver = typeof import("@duckdb/node-api")

export const openDuck = async (driver: DuckDriver): Promise<Duck> => {
  const instance = await driver.DuckDBInstance.create(":memory:", { threads: "1" })
  const c = await driver.DuckDBConnection.create(instance)
  return {
    run: async (sql, values) => {
      await c.run(sql, values)
    },
    rows: async (sql, values) =>
      (await c.runAndReadAll(sql, values)).getRowObjectsJS() as Array<Record<string, unknown>>,
    close: () => {
      c.closeSync()
      instance.closeSync()
    }
  }
}

/** A SQL string literal. */
export const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`

export const ddl = (cols: Columns): string => cols.map(([n, t]) => `${n} ${t}`).join(", ")
export const names = (cols: Columns): string => cols.map(([n]) => n).join(", ")

/**
 * Write `data` (rows in `cols` order) as the Parquet file `file`, atomically:
 * rows go to a typed temp table (so a NULL column keeps its type), COPY to a
 * temp file beside `file` (COPY takes no bound parameters), fsync, rename,
 * fsync of the folder. A kill leaves the old file (or none) and at most a
 * `.<name>.<hex>.partial` temp file, never a partial `file`.
 */
export const writeParquet = async (
  duck: Duck,
  file: string,
  cols: Columns,
  data: ReadonlyArray<ReadonlyArray<Value>>,
  orderBy: string
): Promise<void> => {
  const dir = nodePath.dirname(file)
  await fsp.mkdir(dir, { recursive: true })
  await duck.run(`CREATE OR REPLACE TEMP TABLE parquet_rows (${ddl(cols)})`)
  const width = cols.length
  for (let i = 0; i < data.length; i += 300) {
    const batch = data.slice(i, i + 300)
    const placeholders = batch.map(() => `(${Array.from({ length: width }, () => "?").join(", ")})`).join(", ")
    await duck.run(`INSERT INTO parquet_rows (${names(cols)}) VALUES ${placeholders}`, batch.flat())
  }
  const temp = nodePath.join(
    dir,
    `.${nodePath.basename(file).slice(0, 80)}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`
  )
  try {
    await duck.run(`COPY (SELECT * FROM parquet_rows ORDER BY ${orderBy}) TO ${lit(temp)} (FORMAT parquet)`)
    const h = await fsp.open(temp, "r+")
    await h.sync().finally(() => h.close())
    await fsp.rename(temp, file)
    await fsyncDir(dir)
  } finally {
    await fsp.rm(temp, { force: true }).catch(() => undefined)
    await duck.run(`DROP TABLE IF EXISTS parquet_rows`)
  }
}

/**
 * Every row of some Parquet files, with the file each came from as `filename`. By column name: files
 * written by an older version may lack a later column (it reads as NULL).
 */
export const readParquetFiles = (duck: Duck, files: ReadonlyArray<string>, columns: string) =>
  files.length === 0
    ? Promise.resolve([])
    : duck.rows(
      `SELECT ${columns}, filename FROM read_parquet([${
        files.map(lit).join(", ")
      }], filename = true, hive_partitioning = false, union_by_name = true)`
    )
