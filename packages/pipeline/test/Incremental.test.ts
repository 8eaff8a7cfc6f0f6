/**
 * Incremental runs (delta links stored in the checkpoint store) as a library.
 */
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import { CheckpointStore } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { sync, syncLayer, type SyncOptions } from "../src/index.js"
import { deltaLinkKind, deltaLinkScope } from "../src/internal/discover.js"

describe("sync --incremental", () => {
  it("stores delta links, and starts the window over when Graph rejects a stored one", async () => {
    const emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 3, seed: 8, recordingBytes: 4096, cues: [2, 3] }
    })
    try {
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ma-incr-")), "out")
      const organizerId = emu.fixture.users[0]!.id
      const options: SyncOptions = {
        organizers: [organizerId],
        from: "2024-01-01T00:00:00Z",
        to: "2024-03-01T00:00:00Z",
        out,
        incremental: true
      }
      const layer = syncLayer({ out, graph: { baseUrl: emu.baseUrl, credential: Redacted.make(emu.accessToken) } })
      const first = await Effect.runPromise(sync(options).pipe(Effect.provide(layer)))
      expect(first.failures).toBe(0)
      const total = first.recordings.downloaded + first.transcripts.downloaded
      expect(total).toBeGreaterThan(0)

      const key = (kind: string) => ({
        organizerId,
        windowFrom: "2024-01-01T00:00:00Z",
        windowTo: "2024-03-01T00:00:00Z",
        kind
      })
      // Delta links are the output folder's (and Graph endpoint's) own.
      const linkKey = (kind: string) => key(deltaLinkKind(kind, deltaLinkScope(emu.baseUrl, path.resolve(out))))
      const store = CheckpointStore.layerSqlite(path.join(out, ".meeting-artifacts", "state.sqlite"))
      const links = await Effect.runPromise(
        Effect.flatMap(
          CheckpointStore.CheckpointStore,
          (s) => Effect.all([s.getDeltaLink(linkKey("recordings")), s.getDeltaLink(linkKey("transcripts"))])
        ).pipe(Effect.provide(store))
      )
      expect(links.every(Option.isSome)).toBe(true)
      const progress = await Effect.runPromise(
        Effect.flatMap(CheckpointStore.CheckpointStore, (s) => s.getProgress(key("window"))).pipe(Effect.provide(store))
      )
      expect(Option.getOrThrow(progress)).toMatchObject({ status: "done", items: total })

      // Expired sync state: the stored link now names a token Graph does not know.
      await Effect.runPromise(
        Effect.flatMap(CheckpointStore.CheckpointStore, (s) =>
          Effect.all(["recordings", "transcripts"].map((k) => {
            const link = Option.getOrThrow(k === "recordings" ? links[0] : links[1])
            return s.setDeltaLink(linkKey(k), link.replace(/(token=)[^&]+/i, "$1expired-token"))
          }))).pipe(Effect.provide(store))
      )
      emu.resetCounters()
      const second = await Effect.runPromise(sync(options).pipe(Effect.provide(layer)))
      expect(second.failures).toBe(0)
      expect(second.recordings.skipped + second.transcripts.skipped).toBe(total)
      expect(emu.counters().contentRequests).toEqual({})
      // The replayed links were refused, then the window started over.
      const refused = Object.entries(emu.counters().byStatus).filter(([status]) => /^4/.test(status))
      expect(refused.length, JSON.stringify(emu.counters().byStatus)).toBeGreaterThan(0)
    } finally {
      await emu.close()
    }
  })

  it("lists the window in full when the service has no delta for these functions", async () => {
    const emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 3, seed: 13, recordingBytes: 4096, cues: [2, 3] }
    })
    // A proxy in front of the emulator that answers 404 to every delta call, like a Graph stand-in without it.
    const target = new URL(emu.origin)
    const proxy = http.createServer((req, res) => {
      if ((req.url ?? "").includes("/delta")) {
        res.writeHead(404, { "content-type": "application/json", "request-id": "rid-delta" })
        res.end(JSON.stringify({ error: { code: "NotFound", message: "Resource not found for the segment 'delta'." } }))
        return
      }
      const upstream = http.request({
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers
      }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      })
      req.pipe(upstream)
    })
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r))
    try {
      const baseUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1.0`
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ma-incr-")), "out")
      const options: SyncOptions = {
        organizers: emu.fixture.users.map((u) => u.id),
        from: "2024-01-01T00:00:00Z",
        to: "2024-03-01T00:00:00Z",
        out,
        incremental: true
      }
      const layer = syncLayer({ out, graph: { baseUrl, credential: Redacted.make(emu.accessToken) } })
      const expected = emu.fixture.meetings.reduce(
        (n, m) => n + (m.recordings ?? []).length + (m.transcripts ?? []).length,
        0
      )
      const first = await Effect.runPromise(sync(options).pipe(Effect.provide(layer)))
      expect(first.failures).toBe(0)
      expect(first.recordings.downloaded + first.transcripts.downloaded).toBe(expected)
      const second = await Effect.runPromise(sync(options).pipe(Effect.provide(layer)))
      expect(second.recordings.skipped + second.transcripts.skipped).toBe(expected)
      expect(second.recordings.downloaded + second.transcripts.downloaded).toBe(0)
    } finally {
      proxy.close()
      await emu.close()
    }
  })
})
