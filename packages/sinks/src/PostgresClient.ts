/**
 * A Postgres connection pool as an `SqlClient`, for the Postgres sinks, the checkpoint store and the
 * cluster's storage: one place that loads the optional driver (`@effect/sql-pg` with `pg`), bounds how
 * long a connection may take, and says in one line why one could not be made (refused, unknown host,
 * wrong password, missing database, no answer), never with the password.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { redactUrlCredentials } from "@meeting-artifacts/api/GraphUrl"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { loadDriver } from "./internal/drivers.js"
import { SinkError } from "./SinkError.js"

export interface PostgresClientOptions {
  /** Connections in the pool (default 4: a sink or checkpoint store writes from one run). */
  readonly maxConnections?: number | undefined
  /** How long a connection may take (default `CONNECT_TIMEOUT`). */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * How long a connection may take, the first or any later one (after a restart cut the pool's): without
 * it, a pool connecting to a host that drops packets waits for the operating system, minutes long. The
 * driver bounds a query's wait for a free connection of a full pool by the same time, so it is generous:
 * a busy pool must not fail queries that would have had their turn.
 */
export const CONNECT_TIMEOUT = Duration.seconds(30)

/** An SqlClient layer for a Postgres URL (the password is kept redacted). */
export const layer = (
  url: string | Redacted.Redacted<string>,
  options: PostgresClientOptions = {}
): Layer.Layer<SqlClient.SqlClient, SinkError> =>
  Layer.unwrapEffect(
    Effect.map(
      loadDriver("postgres", "@effect/sql-pg", () => import("@effect/sql-pg/PgClient")),
      (PgClient) =>
        PgClient.layer({
          url: typeof url === "string" ? Redacted.make(url) : url,
          maxConnections: options.maxConnections ?? 4,
          connectTimeout: options.connectTimeout ?? CONNECT_TIMEOUT
        }).pipe(
          Layer.mapError((e) =>
            connectError(
              typeof url === "string" ? url : Redacted.value(url),
              e,
              Duration.decode(options.connectTimeout ?? CONNECT_TIMEOUT)
            )
          )
        )
    )
  )

/** Where a Postgres URL points, for messages: `user@host:port/db` (never the password). */
const pgTarget = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.username === "" ? "" : `${decodeURIComponent(u.username)}@`}${u.hostname}:${u.port || "5432"}/${
      decodeURIComponent(u.pathname.slice(1))
    }`
  } catch {
    return "the given URL"
  }
}

/**
 * Which of the usual reasons stopped a connection (the driver reports them all as "Failed to connect"):
 * refused or unreachable port, wrong password, missing database, a timeout; the server's own words otherwise.
 */
const connectError = (url: string, e: unknown, timeout: Duration.Duration): SinkError => {
  const cause = (e as { cause?: unknown })?.cause as { code?: string; message?: string } | undefined
  const code = cause?.code
  const reason = code === "ECONNREFUSED"
    ? "connection refused: is Postgres running and listening there?"
    : code === "ENOTFOUND" || code === "EAI_AGAIN"
    ? "host not found"
    : code === "28P01"
    ? "password authentication failed (wrong password for this user)"
    : code === "3D000"
    ? "that database does not exist (create it, or fix the name in the URL)"
    : code === "28000"
    ? `the server refused this user or host (${cause?.message ?? "pg_hba.conf"})`
    : /timed out|timeout/i.test(cause?.message ?? "")
    ? `no answer within ${Duration.format(timeout)}`
    // What the driver says when its own connect timeout ends a connection that never got an answer.
    : /Connection terminated unexpectedly/i.test(cause?.message ?? "")
    ? `the connection closed before Postgres answered (no answer within ${
      Duration.format(timeout)
    }, or the server hung up)`
    : cause?.message ?? (e as Error)?.message ?? String(e)
  return new SinkError({
    sink: "postgres",
    operation: "connect",
    message: `postgres: cannot connect to ${pgTarget(url)}: ${redactUrlCredentials(reason)}`,
    cause: e
  })
}
