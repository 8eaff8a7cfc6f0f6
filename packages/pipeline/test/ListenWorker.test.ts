/**
 * The `listen` worker's retries of announced artifacts, against the emulator over loopback and the real
 * SQLite checkpoint store (retry delays set to zero, or to an hour, instead of waiting them out):
 *
 * - an artifact Graph keeps refusing (404) is dead-lettered after `maxRefusals` refusals, not before;
 * - Graph being unreachable does not count: the artifact stays pending however often it fails, with its
 *   attempts stored, and is exported once Graph answers again (by another process on the same store);
 * - artifacts waiting for their retry never hide newer work behind the round's limit.
 */
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import { CheckpointStore } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { syncLayer } from "../src/index.js"
import { makeRunContext } from "../src/internal/context.js"
import * as Worker from "../src/internal/listenWorker.js"
import { readManifest, tempOut } from "./support.js"

const USER = "1273a016-0000-4000-8000-00000000b0b0"
const MEETING = "MSpmeeting-worker"
const vtt = "WEBVTT\n\nx/1-0\n00:00:01.000 --> 00:00:02.000\n<v Ana>Hello.</v>\n"

let emu: Awaited<ReturnType<typeof startEmulator>>
beforeAll(async () => {
  emu = await startEmulator({
    fixture: {
      tenantId: "2432b57b-0abd-43db-aa7b-16eadd115d34",
      users: [{ id: USER, displayName: "Ana" }],
      meetings: [{
        id: MEETING,
        organizerId: USER,
        subject: "Worker",
        startDateTime: "2024-02-01T10:00:00Z",
        endDateTime: "2024-02-01T11:00:00Z",
        recordings: [{
          id: "rec-1",
          contentCorrelationId: "cc-1",
          createdDateTime: "2024-02-01T11:00:00Z",
          endDateTime: "2024-02-01T11:00:00Z",
          content: { bytes: 1024, seed: 1 }
        }],
        transcripts: [{
          id: "tr-1",
          contentCorrelationId: "cc-1",
          createdDateTime: "2024-02-01T11:00:05Z",
          endDateTime: "2024-02-01T11:00:00Z",
          content: { text: vtt }
        }]
      }]
    }
  })
})
afterAll(() => emu?.close())

/** A loopback URL where nothing listens: every request is a network failure. */
const deadOrigin = async () => {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

const announced = (id: string) => ({
  kind: "recording" as const,
  id,
  meetingId: MEETING,
  organizerId: USER,
  subscriptionId: "sub-1",
  resource: `communications/onlineMeetings('${MEETING}')/recordings('${id}')`
})

/** Runs `body` with a worker over `out`'s checkpoint store and a Graph client for `baseUrl`. */
const withWorker = <A>(
  out: string,
  baseUrl: string,
  retry: Worker.AnnouncedRetry,
  body: (
    worker: ReturnType<typeof Worker.make>,
    store: CheckpointStore.CheckpointStoreService
  ) => Effect.Effect<A, unknown>
) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const ctx = yield* makeRunContext({
        opts: {
          organizers: [USER],
          from: null,
          to: null,
          meetingIds: [],
          joinUrls: [],
          adhocCallIds: [],
          adhocCalls: false,
          out,
          incremental: true,
          concurrency: 2,
          dryRun: false,
          metadataContent: false
        },
        runId: "listen-worker-test",
        windowFrom: "listen",
        windowTo: "",
        downloadSlots: yield* Effect.makeSemaphore(2)
      })
      return yield* body(Worker.make(ctx, () => {}, retry), ctx.checkpoint)
    }).pipe(
      Effect.scoped,
      Effect.provide(syncLayer({
        out,
        graph: {
          baseUrl,
          credential: Redacted.make(emu.accessToken),
          // one attempt per request and a short connect retry: a round against a dead port fails at once
          policy: { maxAttempts: 1, connectRetryMs: 1 }
        }
      }))
    )
  )

const mine = (store: CheckpointStore.CheckpointStoreService) => store.listPending(1000)

describe("listen worker: retries of announced artifacts", () => {
  it("dead-letters an artifact Graph refuses only at its eighth refusal", async () => {
    const out = tempOut()
    const retry = { ...Worker.defaultAnnouncedRetry, firstDelayMs: 0, maxDelayMs: 0 }
    const after = await withWorker(out, emu.baseUrl, retry, (worker, store) =>
      Effect.gen(function*() {
        yield* store.enqueuePending(announced("rec-never"), 100)
        const seen: Array<{ readonly tries: number; readonly refusals: number }> = []
        for (let round = 1; round < retry.maxRefusals; round++) {
          yield* worker.exportPending
          const [p] = yield* mine(store)
          seen.push({ tries: p!.tries, refusals: p!.refusals })
        }
        yield* worker.exportPending
        return { seen, pending: yield* mine(store) }
      }))
    expect(after.seen).toEqual(
      Array.from({ length: retry.maxRefusals - 1 }, (_, i) => ({ tries: i + 1, refusals: i + 1 }))
    )
    expect(after.pending).toEqual([])
    const failures = fs.readFileSync(path.join(out, "failures.jsonl"), "utf8").trim().split("\n").map((l) =>
      JSON.parse(l)
    )
    expect(failures).toMatchObject([{ kind: "recording", id: "rec-never", meetingId: MEETING }])
    expect(failures[0].reason).toContain("404")
    expect(readManifest(out)).toEqual([])
  })

  it("keeps an artifact pending while Graph cannot be reached, then exports it", async () => {
    const out = tempOut()
    const retry = { ...Worker.defaultAnnouncedRetry, firstDelayMs: 0, maxDelayMs: 0 }
    const rounds = retry.maxRefusals + 4
    const down = await withWorker(out, await deadOrigin(), retry, (worker, store) =>
      Effect.gen(function*() {
        yield* store.enqueuePending(announced("rec-1"), 100)
        for (let round = 0; round < rounds; round++) yield* worker.exportPending
        return yield* mine(store)
      }))
    expect(down).toMatchObject([{ id: "rec-1", tries: rounds, refusals: 0 }])
    expect(
      fs.existsSync(path.join(out, "failures.jsonl")) ? fs.readFileSync(path.join(out, "failures.jsonl"), "utf8") : ""
    )
      .toBe("")

    // Graph is back (another process over the same store): one round exports it with its partner.
    const up = await withWorker(out, emu.baseUrl, retry, (worker, store) =>
      Effect.gen(function*() {
        const took = yield* worker.exportPending
        return { took, pending: yield* mine(store) }
      }))
    expect(up).toEqual({ took: 1, pending: [] })
    expect(readManifest(out)).toMatchObject([{
      meetingId: MEETING,
      recording: { id: "rec-1", bytes: 1024 },
      transcript: { id: "tr-1" }
    }])
  })

  it("does not let a full round of artifacts waiting for their retry hold back a new one", async () => {
    const out = tempOut()
    // An hour between attempts: once tried, the missing ones are not due again during this test.
    const retry = { ...Worker.defaultAnnouncedRetry, firstDelayMs: 3_600_000, maxDelayMs: 3_600_000 }
    const result = await withWorker(out, emu.baseUrl, retry, (worker, store) =>
      Effect.gen(function*() {
        // More missing artifacts than one round takes, all older than the real one.
        for (let i = 0; i < 70; i++) yield* store.enqueuePending(announced(`rec-missing-${i}`), 1000)
        let rounds = 0
        while ((yield* worker.exportPending) > 0) rounds++
        yield* store.enqueuePending(announced("rec-1"), 1000)
        const took = yield* worker.exportPending
        return { rounds, took, pending: (yield* mine(store)).length }
      }))
    expect(result.rounds).toBe(2)
    expect(result.took).toBe(1)
    expect(result.pending).toBe(70)
    expect(readManifest(out)).toMatchObject([{ meetingId: MEETING, recording: { id: "rec-1" } }])
  })
})
