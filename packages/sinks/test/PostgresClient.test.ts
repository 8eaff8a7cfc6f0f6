/**
 * PostgresClient (the pool of the Postgres sinks, the checkpoint store and the cluster): every connection,
 * not only the first, gives up after the connect timeout. Through a TCP relay in front of the test
 * server that can go silent (accept, then never answer), as a host that drops packets does.
 */
import { describe, expect, inject, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as net from "node:net"
import { PostgresClient } from "../src/index.js"

/** A relay to `target` on a free loopback port; while `silent`, new connections are held unanswered. */
const relay = (target: URL) =>
  Effect.acquireRelease(
    Effect.async<{ port: number; goSilent: () => void; server: net.Server; sockets: Set<net.Socket> }>((resume) => {
      const state = { silent: false }
      const sockets = new Set<net.Socket>()
      const server = net.createServer((client) => {
        sockets.add(client)
        client.on("close", () => sockets.delete(client))
        client.on("error", () => {})
        if (state.silent) return
        const upstream = net.connect(Number(target.port), target.hostname)
        sockets.add(upstream)
        upstream.on("error", () => client.destroy())
        client.on("error", () => upstream.destroy())
        client.pipe(upstream).pipe(client)
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({
          port: (server.address() as net.AddressInfo).port,
          goSilent: () => (state.silent = true),
          server,
          sockets
        })))
    }),
    ({ server, sockets }) =>
      Effect.sync(() => {
        for (const s of sockets) s.destroy()
        server.close()
      })
  )

describe("PostgresClient", () => {
  it.live(
    "a later connection of the pool gives up after the connect timeout instead of waiting on for ever",
    () =>
      Effect.gen(function*() {
        const server = new URL(inject("pgUrl"))
        const r = yield* relay(server)
        const url = new URL(server)
        url.host = `127.0.0.1:${r.port}`
        const context = yield* Layer.build(PostgresClient.layer(url.toString(), { connectTimeout: "500 millis" }))
        const sql = Effect.runSync(Effect.provide(SqlClient.SqlClient, context))
        // The first connection is made through the relay while it answers.
        expect(yield* sql<{ n: number }>`SELECT 1 AS n`).toEqual([{ n: 1 }])
        r.goSilent()
        // Two statements at once: the second needs a new connection, which meets silence.
        const exits = yield* Effect.all(
          [sql`SELECT pg_sleep(0.2)`, sql`SELECT pg_sleep(0.2)`].map((q) => Effect.exit(q)),
          { concurrency: 2 }
        )
        expect(exits.filter(Exit.isSuccess)).toHaveLength(1)
        expect(exits.filter(Exit.isFailure)).toHaveLength(1)
      }).pipe(Effect.scoped, Effect.timeout("20 seconds")),
    30_000
  )

  it.live("a server that never answers: the first connection says so within the timeout", () =>
    Effect.gen(function*() {
      const server = new URL(inject("pgUrl"))
      const r = yield* relay(server)
      r.goSilent()
      const url = new URL(server)
      url.host = `127.0.0.1:${r.port}`
      url.password = "hunter2"
      const message = yield* Layer.build(PostgresClient.layer(url.toString(), { connectTimeout: "500 millis" })).pipe(
        Effect.flip,
        Effect.map((e) => e.message)
      )
      expect(message).toContain(`127.0.0.1:${r.port}/`)
      expect(message).toMatch(/no answer within 500ms/)
      expect(message).not.toContain("hunter2")
    }).pipe(Effect.scoped, Effect.timeout("20 seconds")), 30_000)
})
