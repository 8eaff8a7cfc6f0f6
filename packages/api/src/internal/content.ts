/**
 * Content bodies: opened under a download slot and a request slot, streamed in constant memory, resumed
 * (Range/206) or restarted (200, bytes already delivered skipped) when cut, followed range by range when
 * a 206 stops before the end, and never spliced from two versions of the content.
 */
import type { Answer } from "./nodeSend.js"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Content, ContentOptions } from "../GraphClient.js"
import type { GraphError } from "../GraphError.js"
import { backoffDelay } from "../GraphPolicy.js"
import type * as Url from "../GraphUrl.js"
import { describeCause, invalidArgument, transportCause, transportError } from "./errors.js"
import { type ChunkConsumer, drainBody, type Drained, type ReceiveInto } from "./drainBody.js"
import { nodeSource, pullBody } from "./nodeBody.js"
import { drainRaw, readRawWhole } from "./rawDrain.js"
import { rawLeaseOf } from "./rawSend.js"
import { readWholeBody, type WholeBody } from "./wholeBody.js"
import { guard } from "./pages.js"
import type { RequestSlots } from "./heldSlots.js"
import { addToCounter, type ClientCore, run } from "./request.js"

const contentBytes = Metric.counter("graph_content_bytes_total", {
  description: "Content bytes delivered",
  incremental: true
})

const METRIC_BATCH_BYTES = 8 * 1024 * 1024
const EMPTY = new Uint8Array(0)

/** `Content-Range: bytes 100-199/1000` → { start, end, total } (total null for `*`). */
export const parseContentRange = (
  value: string | undefined
): { start: number; end: number; total: number | null } | undefined => {
  if (value === undefined) return undefined
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value)
  if (m === null) return undefined
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === "*" ? null : Number(m[3]) }
}

const parseLength = (value: string | undefined): number | null => {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return null
  return Number(value)
}

/**
 * Whether a 416 to a request for bytes from `at` shows that the content ends exactly at `at` (nothing
 * after it), or why not. The strict rule: its Content-Range (the unsatisfied form, `bytes *` + `/N`)
 * says N === at, or it names no length and the request carried `If-Range` (a server whose content no
 * longer matched the validator would have answered 200 with the whole body, so the content is the one
 * asked about and `at` is not inside it). A length other than `at` (the content shrank or grew), or no
 * length without If-Range, cannot show the end: the caller fails.
 */
const endsAt = (res: Answer, at: number, sentIfRange: boolean): true | string => {
  const header = res.headers["content-range"]
  const m = header === undefined ? null : /^\s*bytes\s+\*\/(\d+|\*)\s*$/i.exec(header)
  const total = m === null || m[1] === "*" ? null : Number(m[1])
  if (total !== null) return total === at ? true : `the content is ${total} bytes long now (Content-Range ${header})`
  if (sentIfRange) return true
  return `Content-Range ${header ?? "(none)"} does not say where the content ends`
}

/** A content route and the media types asked for. */
export interface ContentSpec {
  readonly name: string
  readonly route: Url.GraphRoute
  readonly accept: string
}

const contentError = (spec: ContentSpec, why: string, attempts: number): GraphError =>
  transportError(why, { method: "GET", route: spec.route.route, clientRequestId: null, attempts })

/** One answer to a content request, in a scope of its own. */
interface Opened {
  readonly res: Answer
  /** Aborts the request (closes the scope it was made in): its body then fails. */
  readonly abort: Effect.Effect<void>
}

/**
 * Requests content from `offset` (a Range request when > 0) through the request loop, under the caller's
 * slots (`slots`: given back while a retry waits; without, kept).
 */
const request = (
  core: ClientCore,
  spec: ContentSpec,
  offset: number,
  ifRange: string | undefined,
  scope: Scope.Scope,
  slots?: RequestSlots
): Effect.Effect<Answer, GraphError> =>
  run<Answer, never>(
    core,
    {
      name: spec.name,
      url: spec.route.url,
      route: spec.route.route,
      accept: spec.accept,
      // If-Range: a server whose content no longer matches the validator answers 200 with the whole body.
      headers: offset > 0
        ? (ifRange !== undefined ? { range: `bytes=${offset}-`, "if-range": ifRange } : { range: `bytes=${offset}-` })
        : undefined,
      payload: "content",
      // 416 (range not satisfiable) comes back to the caller, which starts over or fails clearly.
      okStatus: (s) => s === 200 || s === 206 || (offset > 0 && s === 416),
      // (the body is read by the caller, under its own idle timeout)
      immediateOk: true,
      onOk: (res) => Effect.succeed({ _tag: "Value", value: res } as const)
    },
    core.execContent(scope),
    slots ?? true
  )

/** Opens content in a scope of its own, so a stalled body can be aborted without ending the caller's scope. */
const openIn = (
  core: ClientCore,
  spec: ContentSpec,
  offset: number,
  ifRange?: string,
  slots?: RequestSlots
): Effect.Effect<Opened, GraphError, Scope.Scope> =>
  Effect.flatMap(
    Effect.scope,
    (outer) =>
      Effect.flatMap(Scope.fork(outer, ExecutionStrategy.sequential), (own) =>
        Effect.map(
          request(core, spec, offset, ifRange, own, slots),
          (res) => ({ res, abort: Scope.close(own, Exit.void) })
        ))
  )

/**
 * Where one content stream stands across its pieces (the first answer, resumes, next ranges).
 * `total` is the length of this stream (not of the artifact), `delivered` counts from `base`; requests
 * ask for absolute positions.
 */
class Body {
  /** The content's validators as first answered: a later answer with others is other content. */
  readonly etag: string | undefined
  readonly lastModified: string | undefined
  /** A strong ETag identifies the content on its own; Last-Modified is the evidence only without one. */
  readonly strongEtag: boolean
  /** Sent as If-Range with every later request, so a server whose content changed answers 200. */
  readonly ifRange: string | undefined
  delivered = 0
  resumes = 0
  /** Content bytes not yet added to the metric (reported in batches: a metric update per chunk costs more than the rest). */
  unreported = 0
  /** Why the last piece was cut off, until the resume that follows it is asked for. */
  cut: string | null = null
  started = false
  /** `Content.drain`'s consumer: pieces read from a Node message feed it directly (see `drainPiece`). */
  sink: ChunkConsumer | undefined = undefined
  /** Where the consumer would like bytes received (see `DrainOptions.into`). */
  into: ReceiveInto | undefined = undefined
  constructor(
    readonly core: ClientCore,
    readonly spec: ContentSpec,
    readonly first: Opened,
    readonly firstSkip: number,
    readonly base: number,
    public total: number | null,
    /** The current response's end (absolute, exclusive) when the content may go on after it. */
    public rangeEnd: number | null,
    callerIfRange: string | undefined
  ) {
    const firstEtag = first.res.headers["etag"]
    const firstModified = first.res.headers["last-modified"]
    // A 206 to the caller's (strong) If-Range that carries no validators keeps the caller's as the expected one.
    const callerValidator = first.res.status === 206 && firstEtag === undefined && firstModified === undefined &&
        callerIfRange !== undefined && !callerIfRange.startsWith("W/")
      ? callerIfRange
      : undefined
    this.etag = firstEtag ?? (callerValidator?.startsWith("\"") ? callerValidator : undefined)
    this.lastModified = firstModified ??
      (callerValidator !== undefined && !callerValidator.startsWith("\"") ? callerValidator : undefined)
    // (some servers stamp Last-Modified anew on every response)
    this.strongEtag = this.etag !== undefined && !this.etag.startsWith("W/")
    this.ifRange = this.strongEtag ? this.etag : this.lastModified
  }
}

const reportBytes = (body: Body): Effect.Effect<void> =>
  Effect.suspend(() => {
    const n = body.unreported
    body.unreported = 0
    return n === 0 ? Effect.void : addToCounter(contentBytes, n)
  })

type Step = Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<GraphError>>

/**
 * Checks one chunk of a piece: drops the `skip` bytes the consumer already has (`segment.toSkip`), fails
 * a body longer than its Content-Length or Content-Range. `pending`: bytes of the same pull before it,
 * not yet counted in `body.delivered`. The bytes to deliver (maybe empty), or the failure.
 */
const admit = (
  body: Body,
  segment: { toSkip: number },
  pending: number,
  chunk: Uint8Array
): Uint8Array | GraphError => {
  const { base, rangeEnd, spec, total } = body
  let c = chunk
  if (segment.toSkip > 0) {
    if (c.length <= segment.toSkip) {
      segment.toSkip -= c.length
      return EMPTY
    }
    c = c.subarray(segment.toSkip)
    segment.toSkip = 0
  }
  if (total !== null && body.delivered + pending + c.length > total) {
    return contentError(spec, `the body is longer than its Content-Length ${total}`, body.resumes + 1)
  }
  if (rangeEnd !== null && base + body.delivered + pending + c.length > rangeEnd) {
    return contentError(spec, `the body goes past the end of its Content-Range (byte ${rangeEnd})`, body.resumes + 1)
  }
  return c
}

/** Counts `n` delivered bytes (the metric in batches: a metric update per chunk costs more than the rest). */
const count = (body: Body, n: number): void => {
  body.delivered += n
  body.core.stats.bytes += n
  body.unreported += n
}

/** Checks and counts one pulled chunk (see `admit`). Copies the element list only when an element changed. */
const acceptChunk = (body: Body, segment: { toSkip: number }, chunk: Chunk.Chunk<Uint8Array>): Step => {
  let out: Array<Uint8Array> | undefined
  let n = 0
  let i = 0
  for (const original of chunk) {
    const c = admit(body, segment, n, original)
    if (!(c instanceof Uint8Array)) return Effect.fail(Option.some(c))
    n += c.length
    if (out === undefined && (c !== original || c.length === 0)) out = Chunk.toReadonlyArray(chunk).slice(0, i)
    if (out !== undefined && c.length > 0) out.push(c)
    i++
  }
  count(body, n)
  const result = out === undefined ? chunk : Chunk.unsafeFromArray(out)
  return body.unreported >= METRIC_BATCH_BYTES ? Effect.as(reportBytes(body), result) : Effect.succeed(result)
}

/** A chunk `admit` refused, thrown out of the consumer to stop the body. */
class Refused {
  constructor(readonly error: GraphError) {}
}

/**
 * A piece read from a Node message straight into `body.sink` (see drainBody.ts): each chunk checked and
 * counted as `acceptChunk` does, inside the message's 'data' event; one Effect for the whole piece. A cut
 * (a transport error, a close, `bodyIdleTimeoutMs` without data while the sink was not holding the body
 * back) ends the piece, noted in `body.cut` for `following` to resume, as a streamed piece's would be.
 */
const drainPiece = (
  body: Body,
  opened: Opened,
  start: DrainStart,
  skip: number
): Effect.Effect<void, GraphError> => {
  const sink = body.sink!
  const segment = { toSkip: skip }
  const consume = (chunk: Uint8Array) => {
    const c = admit(body, segment, 0, chunk)
    if (!(c instanceof Uint8Array)) throw new Refused(c)
    if (c.length === 0) return
    count(body, c.length)
    return sink(c)
  }
  const idle = body.core.policy.bodyIdleTimeoutMs
  return Effect.async<Drained>((resume) => {
    const cancel = start(idle, describeCause, consume, (d) => resume(Effect.succeed(d)), body.into)
    return Effect.sync(cancel)
  }).pipe(
    Effect.flatMap((d): Effect.Effect<void, GraphError> => {
      if (d.stopped !== null) {
        const cause = d.stopped.cause
        return cause instanceof Refused ? Effect.fail(cause.error) : Effect.die(cause)
      }
      if (d.cut === null) return Effect.void
      body.cut = d.cut
      return d.stalled ? opened.abort : Effect.void
    }),
    Effect.ensuring(reportBytes(body))
  )
}

/**
 * The body of one response, `skip` bytes the consumer already has dropped, each pull checked and
 * counted in one step (one Effect per pulled chunk, no extra stream stages). A cut (the transport
 * failed, or a watchdog aborted the request because a pull waited `bodyIdleTimeoutMs` for data; time
 * the consumer spends between pulls does not count) ends the piece, noted in `body.cut` for
 * `following` to resume.
 */
const pulledPiece = (body: Body, opened: Opened, skip: number): Stream.Stream<Uint8Array, GraphError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const idle = body.core.policy.bodyIdleTimeoutMs
    // Node's client: its message pulled directly (see nodeBody.ts); any other transport: its stream.
    const source = nodeSource(opened.res)
    const pull = source !== undefined ? yield* pullBody(source) : yield* Stream.toPull(opened.res.stream)
    const state = { toSkip: skip, waitingSince: 0, stalled: false }
    yield* Effect.forkScoped(Effect.gen(function*() {
      for (;;) {
        yield* Effect.sleep(Math.max(10, Math.min(1000, Math.floor(idle / 4))))
        if (state.waitingSince !== 0 && Date.now() - state.waitingSince > idle) {
          state.stalled = true
          return yield* opened.abort
        }
      }
    }))
    const step: Step = Effect.suspend(() => {
      state.waitingSince = Date.now()
      return pull
    }).pipe(
      Effect.matchEffect({
        onFailure: (e) => {
          if (Option.isSome(e)) {
            body.cut = state.stalled
              ? `no data for ${idle} ms`
              : describeCause(transportCause(e.value))
          }
          return Effect.fail(Option.none())
        },
        onSuccess: (chunk) => {
          state.waitingSince = 0
          return acceptChunk(body, state, chunk)
        }
      })
    )
    return Stream.repeatEffectChunkOption(step)
  }))

/** Starts feeding a response's body to a consumer (drainBody.ts, rawDrain.ts); returns its cancel. */
type DrainStart = (
  idleMs: number,
  describe: (cause: unknown) => string,
  consume: ChunkConsumer,
  done: (d: Drained) => void,
  into: ReceiveInto | undefined
) => () => void

/** How to drain `res`'s body, when it is a Node message or a raw connection's answer. */
const drainStart = (res: Answer): DrainStart | undefined => {
  const raw = rawLeaseOf(res)
  if (raw !== undefined) {
    return (idle, describe, consume, done, into) => drainRaw(raw, idle, describe, consume, done, into)
  }
  const source = nodeSource(res)
  return source === undefined
    ? undefined
    : (idle, describe, consume, done) => drainBody(source, idle, describe, consume, done)
}

/** One response's body: into `body.sink` when it has one and the response can be drained, else pulled. */
const piece = (body: Body, opened: Opened, skip: number): Stream.Stream<Uint8Array, GraphError> => {
  const start = body.sink === undefined ? undefined : drainStart(opened.res)
  return start !== undefined ? Stream.execute(drainPiece(body, opened, start, skip)) : pulledPiece(body, opened, skip)
}

/**
 * What follows the last piece: the first piece, a resume, the next range, or the end (None). The pieces
 * run one after another (`Stream.flatten`), each closing its request's scope when it ends, so a
 * download of many pieces holds one request at a time.
 */
const following = (body: Body): Effect.Effect<Stream.Stream<Uint8Array, GraphError>, Option.Option<never>> =>
  Effect.suspend(() => {
    const { base, delivered, rangeEnd, total } = body
    if (!body.started) {
      body.started = true
      return Effect.succeed(piece(body, body.first, body.firstSkip))
    }
    if (body.cut !== null) {
      const why = body.cut
      body.cut = null
      return Effect.succeed(resume(body, why))
    }
    if (rangeEnd !== null && base + delivered < rangeEnd) {
      return Effect.succeed(
        resume(body, `the body ended at byte ${base + delivered} before the end of its Content-Range (${rangeEnd})`)
      )
    }
    if (rangeEnd !== null && (total === null || delivered < total)) return Effect.succeed(nextRange(body))
    if (total !== null && delivered < total) {
      return Effect.succeed(resume(body, `the body ended after ${delivered} of ${total} bytes`))
    }
    return Effect.fail(Option.none())
  })

/** Asks for the bytes from where the body stands; a 416 may show the content ended there. */
const continueAt = (body: Body, attempts: number, delayMs = 0): Stream.Stream<Uint8Array, GraphError> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      if (delayMs > 0) yield* Effect.sleep(delayMs)
      const at = body.base + body.delivered
      const opened = yield* openIn(body.core, body.spec, at, body.ifRange)
      if (opened.res.status === 416) {
        yield* opened.abort
        return ended(body, opened, at, attempts)
      }
      return adopt(body, opened, at, attempts)
    })
  )

/**
 * The previous 206 ended cleanly where its Content-Range said and the content may go on: the next range
 * is asked for (not a resume: nothing was cut). Each answer delivers at least one byte or ends the
 * stream, so this terminates.
 */
const nextRange = (body: Body): Stream.Stream<Uint8Array, GraphError> => continueAt(body, body.resumes + 1)

/** The body was cut: after a backoff, ask again from where it stands (up to `maxResumes` times). */
const resume = (body: Body, why: string): Stream.Stream<Uint8Array, GraphError> => {
  const { policy, stats } = body.core
  body.resumes++
  if (body.resumes > policy.maxResumes) {
    return Stream.fail(
      contentError(body.spec, `body cut short (${why}); gave up after ${policy.maxResumes} resumes`, body.resumes)
    )
  }
  stats.resumes++
  return continueAt(body, body.resumes, backoffDelay(body.resumes, policy, Math.random()))
}

/**
 * A 416 to a request for bytes from `at`: the content ended there (see `endsAt`) when nothing said it
 * goes on (a known total, or a Content-Range end after `at`); otherwise a TransportError, never a
 * short body reported whole.
 */
const ended = (body: Body, opened: Opened, at: number, attempts: number): Stream.Stream<Uint8Array, GraphError> => {
  const { base, delivered, rangeEnd, total } = body
  const why = total !== null && delivered < total
    ? `the content is ${base + total} bytes long`
    : rangeEnd !== null && at < rangeEnd
    ? `the previous answer's Content-Range went on to byte ${rangeEnd}`
    : endsAt(opened.res, at, body.ifRange !== undefined)
  if (why !== true) {
    return Stream.fail(
      contentError(body.spec, `asked for bytes from ${at}, answered 416 (range not satisfiable): ${why}`, attempts)
    )
  }
  body.rangeEnd = null
  return Stream.empty
}

/**
 * Takes an answer to a request for bytes from `at` (absolute) and streams on from there, or fails: other
 * validators, a 206 that starts after `at`, or an answer that says the content has another size.
 */
const adopt = (body: Body, opened: Opened, at: number, attempts: number): Stream.Stream<Uint8Array, GraphError> => {
  const { base, etag, lastModified, spec, strongEtag } = body
  const res = opened.res
  const fail = (why: string) => Stream.fail(contentError(spec, why, attempts))
  const other = res.headers["etag"]
  if (etag !== undefined && other !== undefined && other !== etag) {
    return fail(`the content changed between requests (ETag ${etag} → ${other})`)
  }
  const otherModified = res.headers["last-modified"]
  if (!strongEtag && lastModified !== undefined && otherModified !== undefined && otherModified !== lastModified) {
    return fail(`the content changed between requests (Last-Modified ${lastModified} → ${otherModified})`)
  }
  if (res.status === 206) {
    const range = parseContentRange(res.headers["content-range"])
    if (range === undefined || range.start > at || range.end < at) {
      return fail(`asked for bytes from ${at}, answered with Content-Range ${res.headers["content-range"] ?? "(none)"}`)
    }
    if (body.total !== null && range.total !== null && range.total !== base + body.total) {
      return fail(`the content changed size between requests (${base + body.total} → ${range.total})`)
    }
    if (range.total !== null && range.end + 1 > range.total) {
      return fail(`Content-Range ${res.headers["content-range"]} ends after its total`)
    }
    if (range.total !== null) body.total = range.total - base
    body.rangeEnd = range.total !== null && range.end + 1 === range.total ? null : range.end + 1
    return piece(body, opened, at - range.start)
  }
  // 200: the whole body again; the consumer already has bytes [0, at) of it, which is only true when it
  // carries every validator the first answer had (an If-Range mismatch, or a server that drops them,
  // means other content: skipping `at` bytes of it would splice two versions).
  if (
    (etag !== undefined && other !== etag) ||
    (!strongEtag && lastModified !== undefined && otherModified !== lastModified)
  ) {
    return fail(
      `the content changed between requests (a 200 with ETag ${other ?? "(none)"}, Last-Modified ${
        otherModified ?? "(none)"
      }; first answered ETag ${etag ?? "(none)"}, Last-Modified ${lastModified ?? "(none)"})`
    )
  }
  const length = parseLength(res.headers["content-length"])
  if (body.total !== null && length !== null && length !== base + body.total) {
    return fail(`the content changed size between requests (${base + body.total} → ${length})`)
  }
  if (length !== null) body.total = length - base
  body.rangeEnd = null
  return piece(body, opened, at)
}

/**
 * The body from byte `base` of the artifact. `firstEnd`: where the first response's bytes end
 * (absolute, exclusive) when it is a 206 that may stop before the end of the content (its total
 * unknown, or larger than its end): the stream then asks for the next range from there, until an
 * answer shows the content ended (a 206 reaching a known total, a 200, a 416 at that offset), so it
 * never ends silently short. With `sink`, Node messages are read into it and the stream emits only
 * what other transports deliver (see `drainInto`).
 */
const bodyStream = (
  core: ClientCore,
  spec: ContentSpec,
  first: Opened,
  total: number | null,
  firstSkip: number,
  base: number,
  firstEnd: number | null,
  callerIfRange: string | undefined,
  sink?: ChunkConsumer,
  into?: ReceiveInto
): Stream.Stream<Uint8Array, GraphError> =>
  Stream.suspend(() => {
    const body = new Body(core, spec, first, firstSkip, base, total, firstEnd, callerIfRange)
    body.sink = sink
    body.into = into
    return Stream.ensuring(Stream.flatten(Stream.repeatEffectOption(following(body))), reportBytes(body))
  })

/**
 * The download and request slots of one content stream (and the shared budget's request slot, when it
 * has them), each released once; given back while its first request waits to be retried (`giveBack`,
 * `takeAgain`: see RequestSlots).
 */
const makeSlots = (core: ClientCore) => {
  const held: { download: boolean; request: boolean; shared: Effect.Effect<void> | null } = {
    download: false,
    request: false,
    shared: null
  }
  const release: Effect.Effect<void> = Effect.suspend(() => {
    const { download, request, shared } = held
    held.shared = null
    held.request = false
    held.download = false
    // The client's own two first, in this step: the shared budget's give-back (the cluster's is a
    // database round trip) can be interrupted, and one interrupted before the own slots were given back
    // lost them for good (their held flags are already cleared). An interrupted shared give-back only
    // leaves its lease to expire.
    if (request) core.limiter.requests.unsafeRelease()
    if (download) core.limiter.downloads.unsafeRelease()
    return shared ?? Effect.void
  })
  // (in the order `acquire` takes them; each marked held as one step an interruption cannot split)
  const takeAgain = Effect.uninterruptibleMask((restore) => {
    const takeShared = (): Effect.Effect<void> => {
      const shared = core.budget?.requestSlot
      return shared === undefined || held.shared !== null ? Effect.void : Effect.map(restore(shared), (release) => {
        held.shared = release
      })
    }
    const takeRequest = (): Effect.Effect<void> =>
      held.request ? takeShared() : Effect.flatMap(restore(core.limiter.requests.take), () => {
        held.request = true
        return takeShared()
      })
    return held.download ? takeRequest() : Effect.flatMap(restore(core.limiter.downloads.take), () => {
      held.download = true
      return takeRequest()
    })
  })
  // One finalizer for all of them (`release` frees what is held), added to the scope itself: an
  // `Effect.addFinalizer` would also diff and patch the fiber's FiberRefs around it, which semaphore
  // releases do not read. Added (uninterruptibly) before anything is taken: a take interrupted or failing
  // after others succeeded still has them given back. The waits themselves stay interruptible (`restore`):
  // a download queued for a slot must be stoppable without waiting for one to free up.
  const acquire = Effect.uninterruptibleMask((restore) =>
    Effect.zipRight(Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizer(scope, release)), restore(takeAgain))
  )
  return { acquire, release, giveBack: release, takeAgain }
}

/** Opens a content stream from `offset`: the Effect resolves once headers are in. */
export const open = (
  core: ClientCore,
  spec: ContentSpec,
  offset = 0,
  ifRange?: string
): Effect.Effect<Content, GraphError, Scope.Scope> =>
  Effect.gen(function*() {
    // A download slot and a request slot (a body in flight is a request in flight), freed when the
    // body ends or the scope closes, whichever comes first.
    const slots = makeSlots(core)
    yield* slots.acquire
    let asked = offset
    let opened = yield* openIn(core, spec, asked, ifRange, slots)
    if (opened.res.status === 416) {
      yield* opened.abort
      // The content ends exactly at `offset` (the caller has all of it): an empty stream, nothing asked
      // again. Only a strong If-Range, or a Content-Range naming that length, shows it (see `endsAt`).
      if (endsAt(opened.res, offset, ifRange !== undefined && !ifRange.startsWith("W/")) === true) {
        yield* slots.release
        return {
          contentType: opened.res.headers["content-type"] ?? null,
          contentLength: 0,
          offset,
          etag: opened.res.headers["etag"] ?? null,
          lastModified: opened.res.headers["last-modified"] ?? null,
          stream: Stream.empty,
          drain: () => Effect.void
        }
      }
      // Nothing at or after `offset` (the caller's bytes are not a prefix of this content, or it
      // changed): start over without Range. A second 416 is a BadRequest.
      asked = 0
      opened = yield* openIn(core, spec, 0, undefined, slots)
    }
    const res = opened.res
    let total = parseLength(res.headers["content-length"])
    let skip = 0
    // 200: the server sent the whole body (no Range asked, or Range ignored): the stream starts at 0.
    let start = 0
    // where this 206's bytes end when the content may go on after them (see bodyStream)
    let end: number | null = null
    if (res.status === 206) {
      // Accept a range that starts at or before what we asked for (skipping what the caller has);
      // one that starts later would leave a gap.
      const range = parseContentRange(res.headers["content-range"])
      if (
        range === undefined || range.start > asked || range.end < asked ||
        (range.total !== null && range.end >= range.total)
      ) {
        return yield* Effect.fail(contentError(
          spec,
          asked === 0
            ? "unexpected partial answer to a full request"
            : `asked for bytes from ${asked}, answered with Content-Range ${res.headers["content-range"] ?? "(none)"}`,
          1
        ))
      }
      skip = asked - range.start
      start = asked
      total = range.total === null ? null : range.total - asked
      end = range.total !== null && range.end + 1 === range.total ? null : range.end + 1
      // another process's download continued (see GraphStats.resumes)
      if (asked > 0) core.stats.resumes++
    }
    const facts = {
      contentType: res.headers["content-type"] ?? null,
      contentLength: total,
      offset: start,
      etag: res.headers["etag"] ?? null,
      lastModified: res.headers["last-modified"] ?? null
    }
    const read = res.status === 200 && total !== null && total <= WHOLE_BODY_BYTES ? wholeReader(res) : undefined
    if (read !== undefined) return yield* whole(core, spec, opened, read, total!, slots.release, facts)
    const streamed = (sink?: ChunkConsumer, into?: ReceiveInto) =>
      Stream.ensuring(
        bodyStream(core, spec, opened, total, skip, start, end, asked > 0 ? ifRange : undefined, sink, into),
        slots.release
      )
    return { ...facts, stream: streamed(), drain: (push, options) => drainInto(streamed(push, options?.into), push) }
  })

/**
 * Bodies of a 200 with a Content-Length up to this size are read whole before `open` returns (see
 * `whole`): most transcripts, every metadata-sized body.
 */
export const WHOLE_BODY_BYTES = 64 * 1024

/** Reads a small body whole (wholeBody.ts, rawDrain.ts), calling `done` once. */
type WholeRead = (
  length: number,
  idleMs: number,
  describe: (cause: unknown) => string,
  done: (w: WholeBody) => void
) => void

/** How to read `res`'s body whole, when it is a Node message or a raw connection's answer. */
const wholeReader = (res: Answer): WholeRead | undefined => {
  const raw = rawLeaseOf(res)
  if (raw !== undefined) return (length, idle, describe, done) => readRawWhole(raw, length, idle, describe, done)
  const source = nodeSource(res)
  return source === undefined
    ? undefined
    : (length, idle, describe, done) => readWholeBody(source, length, idle, describe, done)
}

/**
 * A small body read whole (`Content.bytes`), its slots freed at once. A body cut short (a transport
 * error, a close, `bodyIdleTimeoutMs` without data, an end before Content-Length) goes on as a streamed
 * body whose first piece was cut there: the bytes that arrived, then a resume from the byte after them.
 */
const whole = (
  core: ClientCore,
  spec: ContentSpec,
  opened: Opened,
  read: WholeRead,
  total: number,
  release: Effect.Effect<void>,
  facts: Omit<Content, "stream" | "drain">
): Effect.Effect<Content, GraphError> =>
  Effect.flatMap(
    // (a body that came with the answer's head is read before `read` returns: no turn of the scheduler)
    Effect.async<WholeBody>((resume) => {
      read(total, core.policy.bodyIdleTimeoutMs, describeCause, (w) => resume(Effect.succeed(w)))
    }),
    (read) => {
      if (read.tooLong) {
        return Effect.zipRight(
          release,
          Effect.fail(contentError(spec, `the body is longer than its Content-Length ${total}`, 1))
        )
      }
      const n = read.bytes.length
      core.stats.bytes += n
      const counted = n === 0 ? Effect.void : addToCounter(contentBytes, n)
      if (read.cut === null) {
        const stream = Stream.succeed(read.bytes)
        return Effect.as(Effect.zipRight(counted, release), {
          ...facts,
          bytes: read.bytes,
          stream,
          drain: (push) => drainInto(stream, push)
        })
      }
      const body = new Body(core, spec, opened, 0, 0, total, null, undefined)
      body.started = true
      body.delivered = n
      body.cut = read.cut
      const rest = Stream.ensuring(Stream.flatten(Stream.repeatEffectOption(following(body))), reportBytes(body))
      const stream = Stream.ensuring(n === 0 ? rest : Stream.concat(Stream.succeed(read.bytes), rest), release)
      return Effect.as(
        Effect.zipRight(counted, read.stalled ? opened.abort : Effect.void),
        { ...facts, stream, drain: (push) => drainInto(stream, push) }
      )
    }
  )

/**
 * `Content.drain`: runs `stream` (built with `push` as its sink, when it reads Node messages) and hands
 * what it emits to `push` too, waiting for a returned Promise; a throw or rejection of `push` is a defect.
 */
const drainInto = (
  stream: Stream.Stream<Uint8Array, GraphError>,
  push: ChunkConsumer
): Effect.Effect<void, GraphError> =>
  Stream.runForEach(stream, (chunk) =>
    Effect.suspend(() => {
      const r = push(chunk)
      return r === undefined ? Effect.void : Effect.promise(() => r)
    }))

/** A whole (small) body as text, e.g. a transcript. */
export const collectText = (core: ClientCore, spec: ContentSpec): Effect.Effect<string, GraphError> =>
  Effect.scoped(
    Effect.flatMap(open(core, spec), (c) =>
      Stream.runFold(c.stream, [] as Array<Uint8Array>, (acc, chunk) => {
        acc.push(chunk)
        return acc
      }).pipe(
        // Keep a BOM if the server sent one: the text must match the bytes.
        Effect.map((parts) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(Buffer.concat(parts)))
      ))
  )

/** A content download from `options.offset` (validated: a non-negative safe integer). */
export const openFrom = (
  core: ClientCore,
  name: string,
  build: () => Url.GraphRoute,
  accept: string,
  options: ContentOptions | undefined
): Effect.Effect<Content, GraphError, Scope.Scope> => {
  const offset = options?.offset ?? 0
  if (!Number.isSafeInteger(offset) || offset < 0) {
    return Effect.fail(invalidArgument(`offset must be a non-negative integer, got ${String(offset)}`, "GET", name))
  }
  const ifRange = options?.ifRange
  if (ifRange !== undefined && (ifRange === "" || /[\r\n]/.test(ifRange))) {
    return Effect.fail(invalidArgument("ifRange must be a non-empty header value", "GET", name))
  }
  const route = guard("GET", name, build)
  return route._tag === "Left"
    ? Effect.fail(route.left)
    : open(core, { name, route: route.right, accept }, offset, ifRange)
}

/** A whole body as text (e.g. transcripts): the route checked first. */
export const text = (
  core: ClientCore,
  name: string,
  build: () => Url.GraphRoute,
  accept: string
): Effect.Effect<string, GraphError> => {
  const route = guard("GET", name, build)
  return route._tag === "Left" ? Effect.fail(route.left) : collectText(core, { name, route: route.right, accept })
}
