/**
 * Content downloads started as soon as a listing page names an artifact, before its organizer's
 * discovery ends. Sets are formed only once both listings are complete (a recording pairs with a
 * transcript that may come on the last page), but the bytes of each artifact do not depend on its set:
 * fetching them into staging while later pages (and their 429 waits) are still to come keeps the
 * download slots busy. Only staging is written early; the artifact is placed, checkpointed and written
 * to the manifest by its set, as before, which takes the early download's result (`take`).
 *
 * Each artifact is downloaded at most once per run: the first of `start` and `take` to see its key
 * claims it. A listed artifact found while as many early downloads as there are download slots are
 * pending waits in a backlog, in listing order, and starts when one of them ends (unless its set took it
 * first): a listing page held up by 429s must not leave the slots idle while the artifacts of earlier
 * pages wait for their sets.
 */
import type { GraphError } from "@meeting-artifacts/api"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type * as Either from "effect/Either"
import type { SyncFatalError } from "../SyncError.js"
import type { Staged } from "./staging.js"

/**
 * An artifact's content in staging; `requested`: Graph was asked for content (not only an earlier part
 * finished); `cues`: a transcript's cue count, taken from its body while that was whole in memory (null
 * otherwise: counted from the staged file).
 */
export interface Downloaded {
  readonly staged: Staged
  readonly requested: boolean
  readonly cues: number | null
}

/**
 * How a download into staging ended: its failure is the set's to record. null: nothing was downloaded
 * (the key needed no request when its turn came: the set finishes it as it would without an early one).
 */
export type DownloadResult = Either.Either<Downloaded, GraphError | SyncFatalError>

/**
 * A started download (its outcome lands in `done`, also when it is interrupted), one waiting in the
 * backlog, or a key claimed by a set.
 */
type Entry =
  | {
    readonly _tag: "Started"
    readonly organizerId: string
    readonly done: Deferred.Deferred<Exit.Exit<DownloadResult | null>>
    /** How it ended, once it has (what `done` holds; read without a wait by a `take` that comes later). */
    ended: Exit.Exit<DownloadResult | null> | null
    fiber: Fiber.RuntimeFiber<DownloadResult | null> | null
    cancelled: boolean
  }
  | Queued
  | { readonly _tag: "Claimed" }

interface Queued {
  readonly _tag: "Queued"
  readonly key: string
  readonly organizerId: string
  readonly download: Effect.Effect<DownloadResult | null>
}

const claimed = { _tag: "Claimed" } as const

/** A runtime with the context and fiber refs `fiber` was forked with (it may have ended). */
const runtimeOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Runtime.Runtime<never> =>
  Runtime.make({
    context: fiber.currentContext,
    runtimeFlags: Runtime.defaultRuntimeFlags,
    fiberRefs: fiber.getFiberRefs()
  })

export class EarlyDownloads {
  private readonly entries = new Map<string, Entry>()
  /** Listed while the slots were full, in listing order (an entry no longer Queued in `entries` is skipped). */
  private backlog: Array<Queued> = []

  /** Early downloads started and not finished yet. */
  private pending = 0

  /**
   * `scope`: the run's, which outlives every organizer (a set of one organizer may take another's
   * download). `limit`: at most this many early downloads pending at a time (the download slots, so
   * that they never hold more connections than the sets would); the artifacts listed beyond it wait in
   * the backlog, in listing order, unless their set takes them first.
   */
  constructor(private readonly scope: Scope.Scope, private readonly limit: number) {}

  /** Whether another early download may start now (fewer than `limit` pending). */
  hasRoom(): boolean {
    return this.pending < this.limit
  }

  /** Whether `key`'s early download has started (it may have ended): a `take` of it makes no request of its own. */
  started(key: string): boolean {
    return this.entries.get(key)?._tag === "Started"
  }

  /** Whether `key` was started or taken already in this run. */
  claimed(key: string): boolean {
    return this.entries.has(key)
  }

  /**
   * Starts `download` for `key` (listed by `organizerId`) unless the key is claimed already; with no room,
   * it waits in the backlog. `download` yields null when it found nothing to download.
   */
  start(key: string, organizerId: string, download: Effect.Effect<DownloadResult | null>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.entries.has(key)) return Effect.void
      if (this.pending >= this.limit) {
        const queued: Queued = { _tag: "Queued", key, organizerId, download }
        this.entries.set(key, queued)
        this.backlog.push(queued)
        return Effect.void
      }
      return this.launch(key, organizerId, download)
    })
  }

  /** The next download of the backlog still waiting, if any, taken out of it. */
  private nextQueued(): Queued | undefined {
    while (this.backlog.length > 0) {
      const next = this.backlog.shift()!
      if (this.entries.get(next.key) === next) return next
    }
    return undefined
  }

  private launch(
    key: string,
    organizerId: string,
    download: Effect.Effect<DownloadResult | null>
  ): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.pending++
      // in the map before anything yields: a `take` from now on waits for this download
      const entry = {
        _tag: "Started" as const,
        organizerId,
        done: Deferred.unsafeMake<Exit.Exit<DownloadResult | null>>(FiberId.none),
        ended: null as Exit.Exit<DownloadResult | null> | null,
        fiber: null as Fiber.RuntimeFiber<DownloadResult | null> | null,
        cancelled: false
      }
      this.entries.set(key, entry)
      // as it ends, the next of the backlog starts in its place (forked from this fiber: the same
      // context as the download that listed it, retry handler included), once
      let handedOver = false
      const handOver = Effect.suspend(() => {
        if (handedOver) return Effect.void
        handedOver = true
        const next = this.nextQueued()
        return next === undefined ? Effect.void : this.launch(next.key, next.organizerId, next.download)
      })
      // The hand-over follows the download in its fiber (a download never fails: its failure is its
      // value); one that is interrupted or dies hands over from the observer below. (Not `ensuring`: its
      // mask and match cost every download ~10 run-loop steps for what only an interruption needs.)
      // interruptible: a fiber forked from an uninterruptible region would inherit it, and a request's
      // timeout could no longer stop a stalled body
      const run = Effect.interruptible(Effect.zipLeft(download, handOver))
      return Effect.flatMap(Effect.forkIn(run, this.scope), (fiber) => {
        entry.fiber = fiber
        // an observer sees every end, an interruption before the download began included (an onExit
        // inside it would not run then: the count would stay up and a `take` would wait forever)
        fiber.addObserver((exit) => {
          this.pending--
          entry.ended = exit
          // ended: nothing to interrupt any more, and the fiber's state is not kept until the set takes it
          entry.fiber = null
          Deferred.unsafeDone(entry.done, Exit.succeed(exit))
          // Interrupted (before its first step too) or died, it did not hand over: the backlog moves on from
          // here, in the context the download was forked with (taken from the fiber only in this rare case:
          // a runtime captured per download cost a copy of the launcher's fiber refs each).
          if (!handedOver) Runtime.runFork(runtimeOf(fiber))(handOver)
        })
        return entry.cancelled ? Fiber.interrupt(fiber) : Effect.void
      })
    })
  }

  /**
   * The result of `key`'s early download, awaited (a cancelled one until it has stopped, so that its
   * caller never writes the key's staging files beside it); null when there is none (the key is claimed
   * for the caller, who downloads it) or it was interrupted before it finished.
   */
  take(key: string): Effect.Effect<DownloadResult | null> {
    return Effect.suspend(() => {
      const entry = this.entries.get(key)
      this.entries.set(key, claimed)
      // (a queued one is the set's now: it leaves the backlog unstarted)
      if (entry === undefined || entry._tag !== "Started") return Effect.succeed(null)
      const valueOf = (exit: Exit.Exit<DownloadResult | null>) => (Exit.isSuccess(exit) ? exit.value : null)
      return entry.ended !== null
        ? Effect.succeed(valueOf(entry.ended))
        : Effect.map(Deferred.await(entry.done), valueOf)
    })
  }

  /**
   * Interrupts the downloads `organizerId` started that no set took (its discovery failed, or another
   * organizer's listing had them): they would hold download slots for nothing. A part already staged
   * stays for the next run.
   */
  cancel(organizerId: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const fibers: Array<Fiber.RuntimeFiber<DownloadResult | null>> = []
      for (const [key, entry] of this.entries) {
        // not started: it never will be (its set, if any, downloads it)
        if (entry._tag === "Queued" && entry.organizerId === organizerId) this.entries.delete(key)
        if (entry._tag === "Started" && entry.organizerId === organizerId) {
          // (it stays Started: a later `take` waits for it to stop, and uses it if it had finished)
          entry.cancelled = true
          if (entry.fiber !== null) fibers.push(entry.fiber)
        }
      }
      return Fiber.interruptAll(fibers)
    })
  }
}
