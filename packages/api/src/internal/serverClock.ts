/**
 * What a server's answers tell about its clock, so that a Retry-After given as an HTTP date is waited
 * out exactly, never early, whatever our own clock says.
 *
 * An answer's `Date` names the whole second its server was in when it made the answer, which happened
 * after we sent the request and before we received the answer. So the server's clock minus ours (the
 * offset) was at least `Date - receivedAt` and below `Date + 1 s - sentAt`. Every answer narrows these
 * bounds; answers received just after a server second began make the lower one tight. Waiting until
 * `at - (now + lower bound)` is never early for any offset the answers allow, and after a few answers
 * it is within a few ms of the truth (one answer alone: up to a second long, as `Date` alone gives).
 *
 * Pure: the caller passes the times (ms on our clock). They should come from `monotonicNow`: a wall
 * clock stepped forward between answers (NTP) would make the learned bound too high, and waits early.
 * The bounds also widen by `DRIFT_PER_MS` of the time since they were learned, so two clocks that run
 * at slightly different rates (ours fast, by up to 200 ppm) never make a wait early either.
 */

/** Our clock for the server clock's bounds: steady (never stepped), in ms on the Unix epoch's scale. */
export const monotonicNow = (): number => performance.timeOrigin + performance.now()

/** How far apart two clocks' rates may be (200 ppm: several times what a free-running crystal drifts). */
export const DRIFT_PER_MS = 200e-6

/**
 * Answers older than this are forgotten (the bounds start over): clocks drift and get stepped, and a
 * bound learned before a step back would make waits short.
 */
export const SERVER_CLOCK_MEMORY_MS = 5 * 60_000

/**
 * Taken off the learned lower bound: the front ends of one service answer with clocks that agree within
 * a few ms (NTP), not exactly, and the bound may come from another front end than the 429's.
 */
export const FRONT_END_SKEW_MS = 20

export class ServerClock {
  /** The offset (server minus ours) is at least `lower` and below `upper`; unknown before any answer. */
  private lower = Number.NEGATIVE_INFINITY
  private upper = Number.POSITIVE_INFINITY
  private observedAt = Number.NEGATIVE_INFINITY
  /** The last Date header parsed (answers within one second repeat it). */
  private lastHeader: string | undefined = undefined
  private lastDateMs = Number.NaN

  /** An answer with `Date` header `date` to a request sent at `sentAt`, received at `receivedAt`. */
  observe(date: string | undefined, sentAt: number, receivedAt: number): void {
    if (date === undefined || date === "") return
    if (date !== this.lastHeader) {
      this.lastHeader = date
      this.lastDateMs = Date.parse(date)
    }
    const dateMs = this.lastDateMs
    // a Date that is not a whole second is not what HTTP sends: its bounds would be wrong
    if (Number.isNaN(dateMs) || dateMs % 1000 !== 0) return
    const lower = dateMs - receivedAt
    const upper = dateMs + 1000 - sentAt
    // what the earlier answers still tell, widened by how far the clocks may have drifted apart since
    const drift = DRIFT_PER_MS * Math.max(0, receivedAt - this.observedAt)
    const agedLower = this.lower - drift
    const agedUpper = this.upper + drift
    // forgotten, or at odds with what earlier answers said (the server's clock was stepped): start over
    if (receivedAt - this.observedAt > SERVER_CLOCK_MEMORY_MS || lower >= agedUpper || upper <= agedLower) {
      this.lower = lower
      this.upper = upper
    } else {
      this.lower = Math.max(agedLower, lower)
      this.upper = Math.min(agedUpper, upper)
    }
    this.observedAt = Math.max(this.observedAt, receivedAt)
  }

  /** The earliest the server's clock can read at our `now`; null when no answer told (or it was forgotten). */
  serverTimeAtLeast(now: number): number | null {
    if (this.lower === Number.NEGATIVE_INFINITY || now - this.observedAt > SERVER_CLOCK_MEMORY_MS) return null
    return now + this.lower - DRIFT_PER_MS * Math.max(0, now - this.observedAt) - FRONT_END_SKEW_MS
  }
}
