/**
 * The source of the part-writer worker (see `partWriter.ts`), run with `eval`: plain JavaScript that
 * needs only Node's own modules, so it works the same from the sources, under vitest and from the CLI's
 * bundle (which has no file of its own for a worker to load).
 *
 * The worker serves every body of its owner. Each body has a ring (shared memory, with two Int32 counters
 * in a SharedArrayBuffer of their own) that the main thread copies received bytes into. The worker takes
 * one contiguous run of a ring, hashes it and writes it at the end of the part in the background (the
 * thread pool), and hands its room back (`USED` goes down) once it is written. One write per body is in
 * flight at a time, so the part only ever grows at its end; the bodies' writes run side by side (the
 * disk gets several at once, while the worker hashes). Between runs it waits (Atomics.waitAsync) on the
 * owner's wake counter; control messages (open, finish, release) arrive on its port.
 *
 * A body with a second descriptor opened with O_DIRECT (see `partWriter.ts`) has its whole 4 KiB blocks
 * written through it, from the page-aligned ring straight to the device: no copy into the page cache (at
 * disk speed the largest cost of a buffered write) and nothing left for the final fsync to flush. Bytes
 * short of a block boundary (a resumed part's first block, the body's last one, a stall) go through the
 * buffered descriptor; the ring's read position and the part's end stay congruent modulo the block, so
 * once the end is on a boundary, so is the ring address. A direct write the file system refuses
 * (EINVAL) turns the body back to buffered writes.
 *
 * Direct writes land in the device's write cache; a virtual disk in `write back` mode persists them
 * only on a flush, which takes as long as the cache holds data (~0.6 s per GiB measured here) and holds
 * back every write issued meanwhile. Paid once at the end, by the first body's fsync before its rename,
 * that was a stall of 0.3-0.7 s per GiB in which nothing moved (sync-bulk, 4 x 256 MiB). So the worker
 * flushes progressively: each time `flushBytes` (workerData) more have been written directly, by all
 * bodies together, it fdatasyncs one body's part on the thread pool (one flush in flight; a device flush
 * persists every body's direct writes done before it, and the file's own pending metadata), and the
 * final fsync before each rename (kept: it is what makes the file durable) finds little left. Bodies
 * that never get there (below `flushBytes` in all) pay no flush. A body is let go of only once a flush
 * of its descriptor is over; a flush that fails fails its body, as its fsync would.
 *
 * Messages to the main thread: `space` (the main thread was waiting for room), `failed` (a write, a flush
 * or the prefix read failed; later bytes of that body are dropped, nothing after the failure is written),
 * `done` (after `finish`: the ring is empty; sha256, end position, the bytes written directly and how many
 * of them a progressive flush persisted, or the failure) and `released`
 * (after `release`: the ring is written out and the worker no longer touches the descriptor).
 */
export const RING_USED = 0
export const RING_WAITING = 1
/** Direct writes are whole blocks of this many bytes, at block-aligned positions and ring addresses. */
export const BLOCK = 4096
/** The owner's wake counter (bumped after every push or message) and the worker's "asleep" flag. */
export const WAKE_SEQ = 0
export const WAKE_ASLEEP = 1

export const workerSource = `"use strict"
const { parentPort, workerData } = require("node:worker_threads")
const { createHash } = require("node:crypto")
const fs = require("node:fs")
const USED = ${RING_USED}, WAITING = ${RING_WAITING}
const SEQ = ${WAKE_SEQ}, ASLEEP = ${WAKE_ASLEEP}, BLOCK = ${BLOCK}
// a partial block waits this long for the rest of it (the owner's timer wakes the worker meanwhile), then
// goes through the buffered descriptor
const PARTIAL_MS = 50
const FLUSH_BYTES = workerData.flushBytes
const wake = new Int32Array(workerData.wake)
const bodies = new Map()

const errorOf = (e) => ({
  message: String(e && e.message !== undefined ? e.message : e),
  code: e && e.code, errno: e && e.errno, syscall: e && e.syscall
})
const fail = (b, e) => {
  if (b.error !== undefined) return
  b.error = errorOf(e)
  parentPort.postMessage({ op: "failed", id: b.id, error: b.error })
}
// bytes [0, end) already in the part (a resumed body): its hash covers them
const hashPrefix = (b, end) => {
  const buf = Buffer.allocUnsafe(Math.min(end, 1 << 20))
  for (let at = 0; at < end;) {
    const n = fs.readSync(b.fd, buf, 0, Math.min(buf.length, end - at), at)
    if (n === 0) throw new Error("the part holds " + at + " bytes, expected " + end)
    b.hash.update(buf.subarray(0, n))
    at += n
  }
}
const open = (m) => {
  const b = {
    id: m.id, fd: m.fd, direct: m.direct, ctrl: new Int32Array(m.ctrl), data: new Uint8Array(m.ring),
    read: m.offset % BLOCK, position: m.offset, hash: createHash("sha256"), error: undefined, end: undefined,
    writing: false, partialSince: 0, directBytes: 0, flushedBytes: 0
  }
  bodies.set(m.id, b)
  try { hashPrefix(b, m.offset) } catch (e) { fail(b, e) }
}
// where the next run of \`b\` goes: [descriptor, bytes], or null to wait for a whole block
const target = (b, n, now) => {
  if (b.direct < 0 || b.error !== undefined) return [b.fd, n]
  const head = (BLOCK - (b.position % BLOCK)) % BLOCK
  if (head > 0) return [b.fd, Math.min(n, head)]
  if (n >= BLOCK) return [b.direct, n - (n % BLOCK)]
  if (b.end !== undefined) return [b.fd, n]
  if (b.partialSince === 0) b.partialSince = now
  return now - b.partialSince >= PARTIAL_MS ? [b.fd, n] : null
}
// the run's room goes back to the ring
const advance = (b, n) => {
  b.read = (b.read + n) % b.data.length
  Atomics.sub(b.ctrl, USED, n)
  if (Atomics.exchange(b.ctrl, WAITING, 0) === 1) parentPort.postMessage({ op: "space", id: b.id })
}
// writes ring bytes [off, off + len) of the run that started at \`b.read\` (n bytes in all)
const writeRun = (b, fd, off, len, n) => {
  fs.write(fd, b.data, off, len, b.position + off - b.read, (e, written) => {
    if (e && fd === b.direct && e.code === "EINVAL") {
      // the file system refuses this direct write after all: buffered from here on
      b.direct = -1
      return writeRun(b, b.fd, off, len, n)
    }
    if (e) fail(b, e)
    else if (written < len) return writeRun(b, fd, off + written, len - written, n)
    else {
      if (fd === b.direct) {
        b.directBytes += n
        unflushed += n
      }
      b.position += n
    }
    b.writing = false
    writes--
    advance(b, n)
    pump()
  })
}
// starts the write of one contiguous run of \`b\`'s ring (hashed first); false when there is none to write
const start = (b, now) => {
  const used = Atomics.load(b.ctrl, USED)
  if (used === 0) return false
  const to = target(b, Math.min(used, b.data.length - b.read), now)
  if (to === null) return false
  b.partialSince = 0
  const n = to[1]
  if (b.error !== undefined) {
    // nothing after a failure is written: the bytes are dropped
    advance(b, n)
    return true
  }
  b.hash.update(b.data.subarray(b.read, b.read + n))
  b.writing = true
  writes++
  writeRun(b, to[0], b.read, n, n)
  return true
}
// the body's end was asked for, its ring is empty and its last write done (nothing is pushed after finish or release)
const settle = (b) => {
  bodies.delete(b.id)
  if (b.end === "release") parentPort.postMessage({ op: "released", id: b.id })
  else if (b.error !== undefined) parentPort.postMessage({ op: "done", id: b.id, error: b.error })
  else parentPort.postMessage({ op: "done", id: b.id, sha256: b.hash.digest("hex"), position: b.position, directBytes: b.directBytes, flushedBytes: b.flushedBytes })
}
// writes and the flush in flight (their ends pump again) and whether a wait for the owner's bump is pending
let writes = 0
let waiting = false
// bytes written directly since the last flush was started, and the body whose part is being flushed
let unflushed = 0
let flushing = null
// a device flush once \`FLUSH_BYTES\` were written directly since the last one, through the part of the body
// that wrote the most since it was last covered (its own metadata goes along); it covers every body's direct
// writes done by now. Not through a body that is ending (its settling would wait for the flush; its own
// fsync comes next anyway).
const flush = () => {
  if (flushing !== null || unflushed < FLUSH_BYTES) return
  let target = null
  for (const b of bodies.values()) {
    if (b.error !== undefined || b.end !== undefined) continue
    if (target === null || b.directBytes - b.flushedBytes > target.directBytes - target.flushedBytes) target = b
  }
  if (target === null) return
  unflushed = 0
  flushing = target
  const covered = []
  for (const b of bodies.values()) covered.push([b, b.directBytes])
  writes++
  fs.fdatasync(target.fd, (e) => {
    flushing = null
    writes--
    if (e) fail(target, e)
    else for (const [b, bytes] of covered) b.flushedBytes = Math.max(b.flushedBytes, bytes)
    pump()
  })
}
// starts every write it can, settles the bodies that are done, then waits for the owner's next bump
const pump = () => {
  const seen = Atomics.load(wake, SEQ)
  const now = Date.now()
  for (let progress = true; progress;) {
    progress = false
    for (const b of bodies.values()) {
      if (b.writing) continue
      if (start(b, now)) progress = true
      else if (b.end !== undefined && flushing !== b) settle(b)
    }
  }
  flush()
  // the owner notifies only a worker that says it waits: not while a write's end is bound to pump anyway
  if (writes > 0) {
    Atomics.store(wake, ASLEEP, 0)
    return
  }
  Atomics.store(wake, ASLEEP, 1)
  if (waiting) {
    // a notify ends the pending wait whatever it expected; a bump since \`seen\` came before the flag
    if (Atomics.load(wake, SEQ) !== seen) setImmediate(pump)
    return
  }
  waiting = true
  const w = Atomics.waitAsync(wake, SEQ, seen)
  const woken = () => {
    waiting = false
    pump()
  }
  if (w.async) w.value.then(woken)
  else setImmediate(woken)
}
// (the port's listener is also what keeps the worker alive between bodies)
parentPort.on("message", (m) => {
  if (m.op === "touch") {
    // maps a ring's pages ahead of its first body (see partWriterSpare.ts); no body has it yet
    const bytes = new Uint8Array(m.ring)
    for (let at = 0; at < bytes.length; at += 4096) bytes[at] = 0
    parentPort.postMessage({ op: "touched", ring: m.n })
    return
  }
  if (m.op === "open") open(m)
  else {
    const b = bodies.get(m.id)
    if (b === undefined) parentPort.postMessage({ op: "released", id: m.id })
    else b.end = m.op
  }
  pump()
})
pump()
`
