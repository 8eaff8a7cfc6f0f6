/**
 * The source of the part-writer worker (see `partWriter.ts`), run with `eval`: plain JavaScript that
 * needs only Node's own modules, so it works the same from the sources, under vitest and from the CLI's
 * bundle (which has no file of its own for a worker to load).
 *
 * The worker serves every body of its owner. Each body has a ring (shared memory, with two Int32 counters
 * in a SharedArrayBuffer of their own) that the main thread copies received bytes into. The worker takes one
 * contiguous run of each ring in turn, writes it at the end of the part (blocking `writeSync`: this is
 * the worker's own thread), hashes it, and hands its room back (`USED` goes down). It sleeps on the
 * owner's wake counter when no ring holds bytes; control messages (open, finish, release) are taken with
 * `receiveMessageOnPort` between runs, so the worker never needs its event loop.
 *
 * A body with a second descriptor opened with O_DIRECT (see `partWriter.ts`) has its whole 4 KiB blocks
 * written through it, from the page-aligned ring straight to the device: no copy into the page cache (at
 * disk speed the largest cost of a buffered write) and nothing left for the final fsync to flush. Bytes
 * short of a block boundary (a resumed part's first block, the body's last one, a stall) go through the
 * buffered descriptor; the ring's read position and the part's end stay congruent modulo the block, so
 * once the end is on a boundary, so is the ring address. A direct write the file system refuses
 * (EINVAL) turns the body back to buffered writes.
 *
 * Messages to the main thread: `space` (the main thread was waiting for room), `failed` (a write or the
 * prefix read failed; later bytes of that body are dropped, nothing after the failure is written),
 * `done` (after `finish`: the ring is empty; sha256, end position and the bytes written directly, or the failure) and `released`
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
const { parentPort, workerData, receiveMessageOnPort } = require("node:worker_threads")
const { createHash } = require("node:crypto")
const fs = require("node:fs")
const USED = ${RING_USED}, WAITING = ${RING_WAITING}
const SEQ = ${WAKE_SEQ}, ASLEEP = ${WAKE_ASLEEP}, BLOCK = ${BLOCK}
// a partial block waits this long for the rest of it, then goes through the buffered descriptor
const PARTIAL_MS = 50
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
const writeAll = (fd, buf, off, len, position) => {
  while (len > 0) {
    const n = fs.writeSync(fd, buf, off, len, position)
    off += n; len -= n; position += n
  }
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
    partialSince: 0, directBytes: 0
  }
  bodies.set(m.id, b)
  try { hashPrefix(b, m.offset) } catch (e) { fail(b, e) }
}
// a body has a partial block waiting for the rest of it (the worker sleeps at most PARTIAL_MS then)
let partial = false
// where the next run of \`b\` goes: [descriptor, bytes], or null to wait for a whole block
const target = (b, n, now) => {
  if (b.direct < 0 || b.error !== undefined) return [b.fd, n]
  const head = (BLOCK - (b.position % BLOCK)) % BLOCK
  if (head > 0) return [b.fd, Math.min(n, head)]
  if (n >= BLOCK) return [b.direct, n - (n % BLOCK)]
  if (b.end !== undefined) return [b.fd, n]
  if (b.partialSince === 0) b.partialSince = now
  if (now - b.partialSince >= PARTIAL_MS) return [b.fd, n]
  partial = true
  return null
}
// true when the bytes went through the direct descriptor
const write = (b, fd, n) => {
  try {
    writeAll(fd, b.data, b.read, n, b.position)
    return fd === b.direct
  } catch (e) {
    if (fd !== b.direct || e.code !== "EINVAL") throw e
    b.direct = -1
    writeAll(b.fd, b.data, b.read, n, b.position)
    return false
  }
}
// one contiguous run of the ring: written at the end of the part, hashed, then its room handed back
const consume = (b, now) => {
  const used = Atomics.load(b.ctrl, USED)
  if (used === 0) return false
  const to = target(b, Math.min(used, b.data.length - b.read), now)
  if (to === null) return false
  const n = to[1]
  b.partialSince = 0
  if (b.error === undefined) {
    try {
      if (write(b, to[0], n)) b.directBytes += n
      b.hash.update(b.data.subarray(b.read, b.read + n))
      b.position += n
    } catch (e) { fail(b, e) }
  }
  b.read = (b.read + n) % b.data.length
  Atomics.sub(b.ctrl, USED, n)
  if (Atomics.exchange(b.ctrl, WAITING, 0) === 1) parentPort.postMessage({ op: "space", id: b.id })
  return true
}
// the body's end was asked for and its ring is empty (nothing is pushed after finish or release)
const settle = (b) => {
  bodies.delete(b.id)
  if (b.end === "release") parentPort.postMessage({ op: "released", id: b.id })
  else if (b.error !== undefined) parentPort.postMessage({ op: "done", id: b.id, error: b.error })
  else parentPort.postMessage({ op: "done", id: b.id, sha256: b.hash.digest("hex"), position: b.position, directBytes: b.directBytes })
}
const onMessage = (m) => {
  if (m.op === "open") return open(m)
  const b = bodies.get(m.id)
  if (b === undefined) parentPort.postMessage({ op: "released", id: m.id })
  else b.end = m.op
}
for (;;) {
  const seen = Atomics.load(wake, SEQ)
  for (let m = receiveMessageOnPort(parentPort); m !== undefined; m = receiveMessageOnPort(parentPort)) {
    onMessage(m.message)
  }
  let busy = false
  partial = false
  const now = Date.now()
  for (const b of bodies.values()) {
    if (consume(b, now)) busy = true
    else if (b.end !== undefined) settle(b)
  }
  if (!busy) {
    // the main thread notifies only a worker that says it sleeps; a bump after \`seen\` makes the wait return
    Atomics.store(wake, ASLEEP, 1)
    Atomics.wait(wake, SEQ, seen, partial ? PARTIAL_MS : Infinity)
    Atomics.store(wake, ASLEEP, 0)
  }
}
`
