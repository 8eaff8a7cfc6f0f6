/**
 * A part writer's worker started ahead of need (see `partWriter.ts`): a run that may download large bodies
 * starts one while it sets up (state, locks, manifest, discovery), so the thread's own start (a V8 isolate
 * and Node's bootstrap: tens of milliseconds of CPU, more on a busy machine) runs on another core beside the
 * set-up instead of holding back the first large body's bytes. The first `PartWriters` that needs a worker
 * takes it; one nobody takes ends after `SPARE_MS`. It never keeps the process alive.
 *
 * The spare also maps the pages of the first bodies' rings, writing one byte in each: a page's first
 * write faults, ~12 us per 4 KiB page on this VM (~50 ms of CPU for four 4 MiB rings), which the main
 * thread otherwise paid in its first socket reads into each ring, at the start of the transfer. A ring is
 * handed out only once the worker says it is done with it.
 */
import { Worker } from "node:worker_threads"
import { workerSource } from "./partWriterWorker.js"

/** A spare nobody took is ended after this long (a run's set-up and discovery take far less). */
const SPARE_MS = 2_000

/** A worker of the part writer: its wake counter (shared with it) and the flush interval it was given. */
export interface PartWriterThread {
  readonly worker: Worker
  readonly wake: SharedArrayBuffer
  readonly flushBytes: number
  /** Rings whose pages the worker has mapped, for the first bodies (filled as it reports each one done). */
  readonly rings: Array<SharedArrayBuffer>
}

/** Starts a worker running `workerSource` (see partWriterWorker.ts). */
export const spawnPartWriter = (flushBytes: number): PartWriterThread => {
  const wake = new SharedArrayBuffer(8)
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: { wake, flushBytes },
    // the worker allocates next to nothing: a small heap keeps its memory small
    resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 }
  })
  return { worker, wake, flushBytes, rings: [] }
}

let spare: { readonly thread: PartWriterThread; readonly timer: NodeJS.Timeout } | undefined

/**
 * Starts a spare worker with flush interval `flushBytes`, unless one is waiting already, and has it map the
 * pages of the rings `rings` makes (see the module comment).
 */
export const prestartPartWriter = (flushBytes: number, rings: () => ReadonlyArray<SharedArrayBuffer>): void => {
  if (spare !== undefined) return
  let thread: PartWriterThread
  try {
    thread = spawnPartWriter(flushBytes)
  } catch {
    // no thread now (a limit on threads or memory): the first large body starts one, or fails, as without
    return
  }
  const { worker } = thread
  worker.unref()
  const touching = rings()
  worker.on("message", (m: { readonly op?: string; readonly ring?: number }) => {
    if (m.op === "touched" && m.ring !== undefined) thread.rings.push(touching[m.ring]!)
  })
  touching.forEach((ring, i) => worker.postMessage({ op: "touch", ring, n: i }))
  const drop = () => {
    if (spare?.thread !== thread) return
    clearTimeout(spare.timer)
    spare = undefined
  }
  // A spare that failed or exited is never handed out (one that does so once taken is its taker's to see:
  // the event comes after the taker's listeners are on).
  worker.on("error", drop)
  worker.on("exit", drop)
  spare = {
    thread,
    timer: setTimeout(() => {
      drop()
      void worker.terminate()
    }, SPARE_MS).unref()
  }
}

/** The spare worker, if one with flush interval `flushBytes` is waiting (it is then no longer a spare). */
export const takeSparePartWriter = (flushBytes: number): PartWriterThread | undefined => {
  const s = spare
  if (s === undefined || s.thread.flushBytes !== flushBytes) return undefined
  clearTimeout(s.timer)
  spare = undefined
  return s.thread
}
