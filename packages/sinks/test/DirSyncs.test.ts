import { describe, expect, it } from "@effect/vitest"
import { DIR_SYNC_ROUND_MAX, DirSyncs } from "../src/internal/atomic.js"

/**
 * The folder fsync is replaced by a recorder here: whether an fsync made a rename durable can only be
 * seen by cutting the power, so these tests check what can go wrong in the grouping: who waits for which
 * fsync, and how many fsyncs a round makes.
 */
const recorder = () => {
  const calls: Array<{ readonly dir: string; readonly finish: () => void; readonly fail: (e: Error) => void }> = []
  const syncs = new DirSyncs((dir) =>
    new Promise<void>((resolve, reject) => calls.push({ dir, finish: resolve, fail: reject }))
  )
  return { calls, syncs }
}

/** Lets every settled promise's callbacks run (no timer: a promise chain of known depth). */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

describe("DirSyncs", () => {
  it("a caller arriving while its folder's fsync is in flight waits for the next one, not that one", async () => {
    const { calls, syncs } = recorder()
    let firstDone = false
    let secondDone = false
    void syncs.sync("/a").then(() => (firstDone = true))
    expect(calls.map((c) => c.dir)).toEqual(["/a"]) // a caller alone starts at once
    // renamed after the first fsync started: that fsync may not cover it
    void syncs.sync("/a").then(() => (secondDone = true))
    calls[0]!.finish()
    await settle()
    expect(firstDone).toBe(true)
    expect(secondDone).toBe(false)
    expect(calls.map((c) => c.dir)).toEqual(["/a", "/a"])
    calls[1]!.finish()
    await settle()
    expect(secondDone).toBe(true)
  })

  it("callers that arrive during a round share one fsync per folder in the next round", async () => {
    const { calls, syncs } = recorder()
    const done: Array<string> = []
    void syncs.sync("/first").then(() => done.push("first"))
    for (let i = 0; i < 5; i++) void syncs.sync("/m1").then(() => done.push(`m1-${i}`))
    for (let i = 0; i < 3; i++) void syncs.sync("/m2").then(() => done.push(`m2-${i}`))
    expect(calls.map((c) => c.dir)).toEqual(["/first"])
    calls[0]!.finish()
    await settle()
    expect(done).toEqual(["first"])
    expect(calls.map((c) => c.dir).slice(1).sort()).toEqual(["/m1", "/m2"])
    calls[1]!.finish()
    await settle()
    const m1 = calls[1]!.dir === "/m1" ? 5 : 3
    expect(done.length).toBe(1 + m1)
    calls[2]!.finish()
    await settle()
    expect(done.length).toBe(9)
    expect(calls.length).toBe(3)
  })

  it(`a round holds at most ${DIR_SYNC_ROUND_MAX} folders; the rest go in the next round`, async () => {
    const { calls, syncs } = recorder()
    let finished = 0
    void syncs.sync("/first").then(() => finished++)
    const n = DIR_SYNC_ROUND_MAX + 10
    for (let i = 0; i < n; i++) void syncs.sync(`/d${i}`).then(() => finished++)
    calls[0]!.finish()
    await settle()
    expect(calls.length).toBe(1 + DIR_SYNC_ROUND_MAX)
    for (const c of calls.slice(1)) c.finish()
    await settle()
    expect(finished).toBe(1 + DIR_SYNC_ROUND_MAX)
    expect(calls.length).toBe(1 + n)
    for (const c of calls.slice(1 + DIR_SYNC_ROUND_MAX)) c.finish()
    await settle()
    expect(finished).toBe(1 + n)
  })

  it("a folder fsync that fails fails every caller that waited for it, no other, and the next round goes on", async () => {
    const { calls, syncs } = recorder()
    const outcome: Record<string, string> = {}
    const watch = (name: string, p: Promise<void>) =>
      void p.then(() => (outcome[name] = "ok"), (e: Error) => (outcome[name] = e.message))
    watch("first", syncs.sync("/first"))
    watch("a1", syncs.sync("/a"))
    watch("a2", syncs.sync("/a"))
    watch("b", syncs.sync("/b"))
    calls[0]!.finish()
    await settle()
    const a = calls.find((c) => c.dir === "/a")!
    const b = calls.find((c) => c.dir === "/b")!
    a.fail(new Error("EIO: i/o error, fsync"))
    b.finish()
    await settle()
    expect(outcome).toEqual({ first: "ok", a1: "EIO: i/o error, fsync", a2: "EIO: i/o error, fsync", b: "ok" })
    // a later caller of the same folder gets a new fsync of its own
    watch("a3", syncs.sync("/a"))
    expect(calls.length).toBe(4)
    calls[3]!.finish()
    await settle()
    expect(outcome.a3).toBe("ok")
  })
})
