/**
 * The source of the part-writer worker (see `partWriter.ts`), run with `eval`: plain JavaScript that
 * needs only Node's own modules, so it works the same from the sources, under vitest and from the CLI's
 * bundle (which has no file of its own for a worker to load).
 *
 * The worker serves every body of its owner. Each body has a ring (a SharedArrayBuffer: two Int32
 * counters, then the data) that the main thread copies received bytes into. The worker takes one
 * contiguous run of each ring in turn, writes it at the end of the part (blocking `writeSync`: this is
 * the worker's own thread), hashes it, and hands its room back (`USED` goes down). It sleeps on the
 * owner's wake counter when no ring holds bytes; control messages (open, finish, release) are taken with
 * `receiveMessageOnPort` between runs, so the worker never needs its event loop.
 *
 * Messages to the main thread: `space` (the main thread was waiting for room), `failed` (a write or the
 * prefix read failed; later bytes of that body are dropped, nothing after the failure is written),
 * `done` (after `finish`: the ring is empty; sha256 and end position, or the failure) and `released`
 * (after `release`: the ring is written out and the worker no longer touches the descriptor).
 */
export const RING_USED = 0
export const RING_WAITING = 1
/** Bytes before a ring's data (the two Int32 counters, padded). */
export const RING_HEADER = 16
/** The owner's wake counter (bumped after every push or message) and the worker's "asleep" flag. */
export const WAKE_SEQ = 0
export const WAKE_ASLEEP = 1

export const workerSource = `"use strict"
const { parentPort, workerData, receiveMessageOnPort } = require("node:worker_threads")
const { createHash } = require("node:crypto")
const fs = require("node:fs")
const USED = ${RING_USED}, WAITING = ${RING_WAITING}, HEADER = ${RING_HEADER}
const SEQ = ${WAKE_SEQ}, ASLEEP = ${WAKE_ASLEEP}
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
    id: m.id, fd: m.fd, ctrl: new Int32Array(m.ring, 0, 2), data: new Uint8Array(m.ring, HEADER),
    read: 0, position: m.offset, hash: createHash("sha256"), error: undefined, end: undefined
  }
  bodies.set(m.id, b)
  try { hashPrefix(b, m.offset) } catch (e) { fail(b, e) }
}
// one contiguous run of the ring: written at the end of the part, hashed, then its room handed back
const consume = (b) => {
  const used = Atomics.load(b.ctrl, USED)
  if (used === 0) return false
  const n = Math.min(used, b.data.length - b.read)
  if (b.error === undefined) {
    try {
      writeAll(b.fd, b.data, b.read, n, b.position)
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
  else parentPort.postMessage({ op: "done", id: b.id, sha256: b.hash.digest("hex"), position: b.position })
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
  for (const b of bodies.values()) {
    if (consume(b)) busy = true
    else if (b.end !== undefined) settle(b)
  }
  if (!busy) {
    // the main thread notifies only a worker that says it sleeps; a bump after \`seen\` makes the wait return
    Atomics.store(wake, ASLEEP, 1)
    Atomics.wait(wake, SEQ, seen)
    Atomics.store(wake, ASLEEP, 0)
  }
}
`
