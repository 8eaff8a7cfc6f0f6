/**
 * Payloads a hostile or broken server may send: a listing page far larger than any Graph page, and an
 * item whose id is megabytes long. The page is refused with a typed error naming the limit (never read
 * whole into memory); the id is not echoed into errors or handed on as something to fetch again.
 * The server is a tiny loopback one (the emulator serves only sane pages).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { GraphClient, handleInvalidItems, type InvalidItem } from "../src/index.js"
import { WINDOW } from "./helpers.js"

const serve = (handler: (res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ baseUrl: string; close: () => Promise<void> }>((resolve) => {
        const server = createServer((_req, res) => handler(res))
        server.listen(0, "127.0.0.1", () =>
          resolve({
            baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1.0`,
            close: () => new Promise<void>((r) => server.close(() => r()))
          }))
      })
    ),
    (s) => Effect.promise(() => s.close())
  )

const item = (id: string) => ({ id, meetingId: "m1", createdDateTime: "2024-01-16T09:00:01.1234567Z" })

const client = (baseUrl: string, maxJsonBytes = 64 * 1024) =>
  GraphClient.layer({ baseUrl, credential: Redacted.make("t"), policy: { maxJsonBytes, baseDelayMs: 1 } })

describe("bad payloads", () => {
  for (const declared of [true, false]) {
    it.scoped(`a page over maxJsonBytes (${declared ? "with" : "without"} Content-Length) fails with a DecodeError naming the limit`, () =>
      Effect.gen(function*() {
        const page = JSON.stringify({
          value: Array.from({ length: 2000 }, (_, i) => item(`id-${i}-${"x".repeat(100)}`))
        })
        let served = 0
        const server = yield* serve((res) => {
          served++
          res.writeHead(200, {
            "content-type": "application/json",
            ...(declared ? { "content-length": Buffer.byteLength(page) } : {})
          })
          res.end(page)
        })
        const e = yield* Effect.flip(
          Effect.flatMap(GraphClient, (api) => Stream.runCollect(api.getAllRecordings(WINDOW))).pipe(
            Effect.provide(client(server.baseUrl))
          )
        )
        expect(e._tag).toBe("DecodeError")
        expect(e.message).toContain(`larger than ${64 * 1024} bytes (GraphPolicy.maxJsonBytes)`)
        // refused, not retried
        expect(served).toBe(1)
      }))
  }

  it.scoped("an item with an id megabytes long: dead-lettered without its id, and the error quotes a bounded part", () =>
    Effect.gen(function*() {
      const huge = "A".repeat(2 * 1024 * 1024)
      const page = JSON.stringify({ value: [item("ok-1"), item(huge), item("ok-2")] })
      const server = yield* serve((res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(page)
      })
      const invalid: Array<InvalidItem> = []
      const listed = yield* Effect.flatMap(GraphClient, (api) => Stream.runCollect(api.getAllRecordings(WINDOW))).pipe(
        handleInvalidItems((bad) => Effect.sync(() => void invalid.push(bad))),
        Effect.provide(client(server.baseUrl, 16 * 1024 * 1024))
      )
      expect([...listed].map((r) => r.id)).toEqual(["ok-1", "ok-2"])
      expect(invalid).toHaveLength(1)
      expect(invalid[0]!.id).toBeNull()
      expect(invalid[0]!.error.field).toBe("value[1].id")
      expect(invalid[0]!.error.message.length).toBeLessThan(2000)
    }))
})
