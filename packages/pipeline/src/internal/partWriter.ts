/**
 * Hash + write of large bodies off the main thread. At disk speed, hashing (sha256: ~0.66 s per GiB on
 * one core) and the write calls of a download cost the main thread as much as receiving it; here one
 * worker thread, started on the first large body and ended when idle (or by `close`), does both for
 * every body of a staging folder. The main thread copies each received chunk into the body's ring (a
 * SharedArrayBuffer) and lets go of it at once, or has the socket read into the ring's free run (`into`)
 * and only counts the chunk; no chunk waits on a write, so none lives long enough to be promoted by the
 * garbage collector. The worker writes strictly in order at the end of the part, so
 * the part's size on disk stays the end of a correct prefix (see `staging.ts`).
 *
 * The descriptor stays the main thread's (it truncates, fsyncs and closes it): `release` waits until the
 * worker has written out the ring and let go of it, and must come before the close. Given the part's
 * path, a body also gets a second descriptor opened with O_DIRECT (where the file system takes it), that
 * the worker writes whole blocks through (see `partWriterWorker.ts`); it is closed when the worker lets go.
 */
import * as fs from "node:fs"
import type { Worker } from "node:worker_threads"
import { prestartPartWriter, spawnPartWriter, takeSparePartWriter } from "./partWriterSpare.js"
import { BLOCK, RING_USED, RING_WAITING, WAKE_ASLEEP, WAKE_SEQ } from "./partWriterWorker.js"

/**
 * Room per body for bytes received and not yet written: enough to ride out a slow write and the
 * worker's turns between bodies (with 1 MiB, 4 bodies at ~250 MiB/s each filled their rings before the
 * worker came back, and reads fell back to copies and "space" messages: sync-bulk's CPU 2.5-2.7 s per
 * GiB, 1.7-2.3 s with 4 MiB), small enough to cost little memory (4 MiB per large body in flight).
 */
export const RING_BYTES = 4 * 1024 * 1024

/**
 * Direct writes (by all bodies together) between two progressive flushes of the device's write cache
 * (see `partWriterWorker.ts`). A flush costs about its data (~0.6 s per GiB on the VM disk measured, a
 * few ms more for the journal commit) and holds every write back meanwhile, so it is kept short enough
 * for the rings to ride it out (16 MiB: ~10-15 ms; a 4 MiB ring holds ~20 ms of a body at 200 MiB/s):
 * with 64 MiB, sampled with other benchmarks running, each flush left every thread idle for 40-100 ms.
 * A body that alone stays below it gets no flush but its final fsync (small bodies do not come here).
 */
export const FLUSH_BYTES = 16 * 1024 * 1024

/** At most this many rings are mapped ahead (see `prestart`). */
const PREMAPPED_RINGS = 8

/**
 * Starts a worker for the next staging folder's first large body now, with the rings of its first
 * `bodies` bodies mapped (see `partWriterSpare.ts`): a run that may download large bodies calls it while it
 * sets up.
 */
export const prestart = (bodies: number): void =>
  prestartPartWriter(FLUSH_BYTES, () => {
    const rings: Array<SharedArrayBuffer> = []
    for (let i = 0; i < Math.min(bodies, PREMAPPED_RINGS); i++) {
      const ring = alignedRing(RING_BYTES)
      if (ring === null) break
      rings.push(ring)
    }
    return rings
  })

/** WebAssembly pages are 64 KiB: ring sizes are rounded up to them. */
const WASM_PAGE = 64 * 1024

/**
 * Ring memory for direct writes: a shared WebAssembly memory, because V8 maps it page-aligned (a
 * SharedArrayBuffer's memory comes from malloc, 16 bytes off a page) and direct writes need block-aligned
 * addresses. V8 reserves (does not commit) gigabytes of address space for each, so rings are reused
 * (`PartWriters`); null where the reservation is refused (a `ulimit -v`, say): the body is written
 * through the page cache from a plain SharedArrayBuffer then.
 */
const alignedRing = (bytes: number): SharedArrayBuffer | null => {
  const pages = Math.ceil(bytes / WASM_PAGE)
  try {
    return new wasm.Memory({ initial: pages, maximum: pages, shared: true }).buffer
  } catch {
    return null
  }
}

/** The one WebAssembly API used here (the project's TypeScript libs declare no WebAssembly values). */
const wasm = (globalThis as unknown as {
  readonly WebAssembly: {
    readonly Memory: new(
      d: { initial: number; maximum: number; shared: true }
    ) => { readonly buffer: SharedArrayBuffer }
  }
}).WebAssembly

/**
 * Local file systems whose direct writes go to the device as fast as buffered ones get there (ext4, xfs,
 * btrfs, by `statfs` magic). Elsewhere O_DIRECT may mean a synchronous round trip per write (NFS, SMB,
 * FUSE) or is refused (tmpfs): there the page cache stays.
 */
const DIRECT_FILE_SYSTEMS: ReadonlySet<number> = new Set([0xef53, 0x58465342, 0x9123683e])

/** Whether a body written to `path` (a file or folder) gets direct writes. */
export const writesDirectly = (path: string): boolean => {
  try {
    return fs.constants.O_DIRECT !== undefined && DIRECT_FILE_SYSTEMS.has(fs.statfsSync(path).type)
  } catch {
    return false
  }
}

/** A second descriptor of `file` for direct writes, or -1 where there is none (see `DIRECT_FILE_SYSTEMS`). */
const openDirect = (file: string | undefined): number => {
  if (file === undefined || !writesDirectly(file)) return -1
  try {
    return fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_DIRECT!)
  } catch {
    return -1
  }
}

/**
 * A sleeping worker is woken once a ring holds this much (one wake, one write and one hash call per this
 * many bytes, not per socket read); less waits for the owner's timer (`TICK_MS`), the body's end, or more.
 */
const WAKE_BYTES = 256 * 1024

/**
 * A push that leaves less free room in its ring than this (or an eighth of a small ring) holds the pusher
 * back until a quarter of the ring is free: a socket then waits for the worker instead of reading into
 * memory of its own that the next push would copy (then wait all the same), and it waits once per
 * quarter of a ring, not once per write the worker finishes.
 */
const LOW_ROOM = 64 * 1024

/** While bodies are open, the worker is woken this often, so a slow body's bytes do not wait in the ring. */
const TICK_MS = 100

/** An idle worker (no body for this long) is ended; the next large body starts another. */
const IDLE_MS = 2_000

/** What the worker says about a body. */
type WorkerMessage =
  | { readonly op: "space"; readonly id: number }
  | { readonly op: "failed"; readonly id: number; readonly error: WorkerError }
  | {
    readonly op: "done"
    readonly id: number
    readonly sha256?: string
    readonly position?: number
    readonly directBytes?: number
    readonly flushedBytes?: number
    readonly error?: WorkerError
  }
  | { readonly op: "released"; readonly id: number }

interface WorkerError {
  readonly message: string
  readonly code?: string
  readonly errno?: number
  readonly syscall?: string
}

/** The worker's account of a failure as an Error with the system error's code (ENOSPC, EIO, ...). */
const toError = (e: WorkerError): Error =>
  Object.assign(new Error(e.message), {
    ...(e.code === undefined ? {} : { code: e.code }),
    ...(e.errno === undefined ? {} : { errno: e.errno }),
    ...(e.syscall === undefined ? {} : { syscall: e.syscall })
  })

/** A body's complete content as the worker wrote it. */
export interface Written {
  readonly sha256: string
  /** End of the part: the offset it was opened at plus every byte pushed. */
  readonly position: number
  /** How many of the pushed bytes went through the O_DIRECT descriptor (the rest through the page cache). */
  readonly directBytes: number
  /** How many of the direct bytes a progressive flush had persisted before the end (the rest is the final fsync's). */
  readonly flushedBytes: number
}

interface Deferred<A> {
  readonly promise: Promise<A>
  readonly resolve: (a: A) => void
  readonly reject: (e: unknown) => void
}

const deferred = <A>(): Deferred<A> => {
  let resolve!: (a: A) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<A>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** What a body needs of its worker. */
interface Owner {
  readonly post: (m: object) => void
  readonly wakeWorker: () => void
  /** The worker let go of the body. */
  readonly forget: (body: BodyWriter) => void
}

/** One body's ring: `push` the received bytes in order, then `finish`; `release` before closing the descriptor. */
export class BodyWriter {
  private readonly ctrl: Int32Array
  private readonly data: Uint8Array
  /** Bytes in the ring from which a push wakes a sleeping worker. */
  private readonly wakeAt: number
  /** Free room below which a push holds the pusher back until there is `resumeRoom` (see `LOW_ROOM`). */
  private readonly lowRoom: number
  private readonly resumeRoom: number
  /** Where the next byte goes in the ring (the worker keeps its own read position). */
  private at = 0
  private failure: Error | undefined
  private spaceWaiter: (() => void) | undefined
  private ending: Deferred<Written> | undefined
  private releasing: Deferred<void> | undefined
  /** Whether the worker still has the body (and may touch its descriptor). */
  private inWorker = true
  /** Once the worker was lost: when it has exited (and the body's descriptors are free to close). */
  private afterExit: Promise<void> | undefined

  constructor(
    readonly id: number,
    readonly ring: SharedArrayBuffer,
    readonly control: SharedArrayBuffer,
    /** The part's end when opened: the ring is filled from the same position modulo a block. */
    offset: number,
    /** The O_DIRECT descriptor (or -1), closed once the worker lets go of the body. */
    private readonly direct: number,
    /** Whether the ring is page-aligned memory the owner may give the next body (once the worker let go). */
    readonly reusable: boolean,
    private readonly owner: Owner
  ) {
    this.ctrl = new Int32Array(control)
    this.data = new Uint8Array(ring)
    this.at = offset % BLOCK
    this.wakeAt = Math.min(WAKE_BYTES, this.data.byteLength / 4)
    this.lowRoom = Math.min(LOW_ROOM, this.data.byteLength / 8)
    this.resumeRoom = this.data.byteLength / 4
  }

  /**
   * Copies `chunk` into the ring: returns at once when it fit, else a promise of when it is all in. A
   * chunk that already is the ring's next bytes (received in place, see `into`) is only counted. A chunk
   * that left the ring nearly full also gets a promise, of room for the next ones (see `LOW_ROOM`).
   */
  push(chunk: Uint8Array): void | Promise<void> {
    if (this.failure !== undefined) throw this.failure
    if (chunk.buffer === this.ring && chunk.byteOffset === this.at && chunk.byteLength > 0) {
      this.commit(chunk.byteLength)
    } else {
      const off = this.copyIn(chunk, 0)
      if (off < chunk.byteLength) return this.pushRest(chunk, off)
    }
    if (this.data.byteLength - Atomics.load(this.ctrl, RING_USED) < this.lowRoom) return this.roomFor(this.resumeRoom)
  }

  /**
   * The ring's free room from where the next byte goes, up to its end (one contiguous run), for a
   * socket to read into: bytes received there and then pushed are not copied (see `push`). Empty when
   * the ring is full or the body failed.
   */
  into(): Uint8Array {
    if (this.failure !== undefined) return this.data.subarray(0, 0)
    const free = this.data.byteLength - Atomics.load(this.ctrl, RING_USED)
    return this.data.subarray(this.at, this.at + Math.min(free, this.data.byteLength - this.at))
  }

  /** Counts `n` bytes received in place at the ring's next position (a run of `into`, so never past its room). */
  private commit(n: number): void {
    this.at = (this.at + n) % this.data.byteLength
    if (Atomics.add(this.ctrl, RING_USED, n) + n >= this.wakeAt) this.owner.wakeWorker()
  }

  /** Copies what fits of `chunk` from `off`; the offset reached. */
  private copyIn(chunk: Uint8Array, off: number): number {
    const size = this.data.byteLength
    const n = Math.min(size - Atomics.load(this.ctrl, RING_USED), chunk.byteLength - off)
    if (n <= 0) return off
    for (let left = n; left > 0;) {
      const run = Math.min(left, size - this.at)
      this.data.set(chunk.subarray(off, off + run), this.at)
      this.at = (this.at + run) % size
      off += run
      left -= run
    }
    if (Atomics.add(this.ctrl, RING_USED, n) + n >= this.wakeAt) this.owner.wakeWorker()
    return off
  }

  private async pushRest(chunk: Uint8Array, off: number): Promise<void> {
    while (off < chunk.byteLength) {
      await this.room(1)
      if (this.failure !== undefined) throw this.failure
      off = this.copyIn(chunk, off)
    }
  }

  /** Resolves once the ring has `bytes` of free room; fails with the body's failure. */
  private async roomFor(bytes: number): Promise<void> {
    while (this.failure === undefined && this.data.byteLength - Atomics.load(this.ctrl, RING_USED) < bytes) {
      await this.room(bytes)
    }
    if (this.failure !== undefined) throw this.failure
  }

  /** Resolves when the worker has made room (`bytes` free at least, or it made some since), or failed. */
  private room(bytes: number): Promise<void> {
    return new Promise((resolve) => {
      this.spaceWaiter = resolve
      Atomics.store(this.ctrl, RING_WAITING, 1)
      // the worker may have made room between the caller's look and the flag
      if (this.data.byteLength - Atomics.load(this.ctrl, RING_USED) >= bytes || this.failure !== undefined) {
        this.spaceWaiter = undefined
        resolve()
      }
    })
  }

  /** Once every pushed byte is written: the content's sha256 and end; fails with the first write failure. */
  finish(): Promise<Written> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    this.ending = deferred()
    this.owner.post({ op: "finish", id: this.id })
    return this.ending.promise
  }

  /** Resolves once the worker no longer touches the descriptor (what it holds of the body is written first). */
  release(): Promise<void> {
    if (!this.inWorker) return this.afterExit ?? Promise.resolve()
    if (this.releasing === undefined) {
      this.releasing = deferred()
      // after `finish` the worker lets go by itself (`done`)
      if (this.ending === undefined) this.owner.post({ op: "release", id: this.id })
    }
    return this.releasing.promise
  }

  onMessage(m: WorkerMessage): void {
    switch (m.op) {
      case "space":
        return this.wakePusher()
      case "failed":
        this.failure ??= toError(m.error)
        return this.wakePusher()
      case "done":
        this.gone()
        if (m.error !== undefined) {
          this.failure ??= toError(m.error)
          this.ending?.reject(this.failure)
        } else {
          this.ending?.resolve({
            sha256: m.sha256!,
            position: m.position!,
            directBytes: m.directBytes!,
            flushedBytes: m.flushedBytes!
          })
        }
        return
      case "released":
        return this.gone()
    }
  }

  /**
   * The worker died or is being ended: nothing more is written for this body. Its descriptors are let go
   * of once the worker has exited (a write it had started on the thread pool is over by then).
   */
  lost(cause: Error, exited: Promise<unknown>): void {
    this.failure ??= cause
    this.wakePusher()
    this.ending?.reject(this.failure)
    if (!this.inWorker) return
    this.inWorker = false
    this.afterExit = exited.then(() => this.closeDirect())
    void this.afterExit.then(() => this.releasing?.resolve())
  }

  private closeDirect(): void {
    if (this.direct >= 0) fs.close(this.direct, () => {})
  }

  private wakePusher(): void {
    const waiter = this.spaceWaiter
    this.spaceWaiter = undefined
    waiter?.()
  }

  private gone(): void {
    if (!this.inWorker) return
    this.inWorker = false
    this.closeDirect()
    this.owner.forget(this)
    this.releasing?.resolve()
  }
}

/**
 * The worker of one staging folder, started by the first `open` (or ahead of it: `warm`); between bodies
 * it does not keep the process alive, and after `IDLE_MS` without a body it is ended.
 */
export class PartWriters {
  private worker: Worker | undefined
  private wake: Int32Array | undefined
  private readonly bodies = new Map<number, BodyWriter>()
  private nextId = 1
  private idleTimer: NodeJS.Timeout | undefined
  private tick: NodeJS.Timeout | undefined
  /**
   * Page-aligned rings of `RING_BYTES` the worker let go of (or mapped ahead, see `prestart`), for the next
   * bodies (see `alignedRing`).
   */
  private freeRings: Array<SharedArrayBuffer> = []

  /** `flushBytes`: direct writes between two progressive flushes (see `FLUSH_BYTES`). */
  constructor(private readonly flushBytes: number = FLUSH_BYTES) {}

  /**
   * A ring for a body written to `fd` from `offset` (bytes [0, offset) are already in the part and hashed
   * first); with `file` (the part's path), whole blocks are written to it directly where the file system can.
   */
  open(fd: number, offset: number, file?: string, ringBytes = RING_BYTES): BodyWriter {
    const worker = this.started()
    const id = this.nextId++
    const aligned = ringBytes === RING_BYTES && this.freeRings.length > 0
      ? this.freeRings.pop()!
      : alignedRing(ringBytes)
    const direct = aligned === null ? -1 : openDirect(file)
    const ring = aligned ?? new SharedArrayBuffer(ringBytes)
    const body = new BodyWriter(id, ring, new SharedArrayBuffer(8), offset, direct, aligned !== null, this)
    this.bodies.set(id, body)
    if (this.bodies.size === 1) {
      clearTimeout(this.idleTimer)
      this.tick = setInterval(this.wakeWorker, TICK_MS).unref()
      worker.ref()
    }
    this.post({ op: "open", id, fd, direct, offset, ring: body.ring, ctrl: body.control })
    return body
  }

  /**
   * Ends the worker (the bodies still open fail). Resolves once it is told to end, not once its thread has
   * torn down (milliseconds a run's last steps need not wait for): a body it still held is let go of, its
   * `release` resolved and its descriptors free to close, only after the thread has exited.
   */
  close(): Promise<void> {
    const worker = this.worker
    if (worker === undefined) return Promise.resolve()
    this.stopped(worker, new Error("the part writer was closed"))
    void worker.terminate()
    return Promise.resolve()
  }

  readonly post = (m: object): void => {
    this.worker?.postMessage(m)
    this.wakeWorker()
  }

  readonly wakeWorker = (): void => {
    const wake = this.wake
    if (wake === undefined) return
    Atomics.add(wake, WAKE_SEQ, 1)
    // a notify is a system call: only for a worker that is (about to be) asleep
    if (Atomics.load(wake, WAKE_ASLEEP) === 1) Atomics.notify(wake, WAKE_SEQ)
  }

  readonly forget = (body: BodyWriter): void => {
    if (this.bodies.get(body.id) !== body) return
    this.bodies.delete(body.id)
    if (body.reusable && body.ring.byteLength === RING_BYTES) this.freeRings.push(body.ring)
    const worker = this.worker
    if (this.bodies.size > 0 || worker === undefined) return
    clearInterval(this.tick)
    this.idle(worker)
  }

  /**
   * Starts the worker ahead of a large body's `open`, so that its start-up (tens of milliseconds of
   * CPU) runs while the body's files are opened instead of holding the body's first bytes back. Until a
   * body opens it keeps nothing alive, and it is ended after `IDLE_MS` if none comes.
   */
  warm(): void {
    if (this.worker !== undefined) return
    this.idle(this.started())
  }

  /** No body: the worker does not keep the process alive, and is ended after `IDLE_MS` unless one opens. */
  private idle(worker: Worker): void {
    worker.unref()
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => {
      if (this.bodies.size === 0 && this.worker === worker) void this.close()
    }, IDLE_MS).unref()
  }

  private started(): Worker {
    if (this.worker !== undefined) return this.worker
    const { rings, wake: wakeBuffer, worker } = takeSparePartWriter(this.flushBytes) ?? spawnPartWriter(this.flushBytes)
    // (the spare's rings: still filled as the worker maps them, and by the bodies it lets go of)
    if (rings.length > 0 || this.freeRings.length === 0) this.freeRings = rings
    worker.on("message", (m: WorkerMessage) => this.bodies.get(m.id)?.onMessage(m))
    worker.on("error", (e) => this.stopped(worker, e))
    // A message it could not read leaves the worker running: end it, so that its bodies' `lost` (which waits
    // for its exit before their files are let go of) ends too.
    worker.on("messageerror", (e) => {
      this.stopped(worker, e)
      void worker.terminate()
    })
    worker.on(
      "exit",
      (code) => this.stopped(worker, new Error(`the part writer exited (code ${code})`), Promise.resolve())
    )
    this.worker = worker
    this.wake = new Int32Array(wakeBuffer)
    return worker
  }

  /** The worker is gone: every body still open fails with `cause`. */
  private stopped(worker: Worker, cause: Error, exited?: Promise<unknown>): void {
    if (this.worker !== worker) return
    this.worker = undefined
    this.wake = undefined
    clearTimeout(this.idleTimer)
    clearInterval(this.tick)
    const gone = exited ?? new Promise((resolve) => worker.once("exit", resolve))
    for (const body of this.bodies.values()) body.lost(cause, gone)
    this.bodies.clear()
  }
}
