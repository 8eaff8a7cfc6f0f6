/**
 * Precise handling of Graph timestamps.
 *
 * Graph sends 7 fractional digits (`2023-04-10T08:13:17.5990966Z`, 100 ns
 * ticks). An epoch-millisecond double cannot hold that exactly (its ulp near
 * 1.7e12 is ~244 ns), so an instant is kept as whole epoch seconds plus ticks
 * and differences are computed in integer ticks before converting to ms.
 */

/** An instant with 100 ns precision: `seconds` since the epoch and `ticks` (0..9_999_999) within it. */
export interface GraphInstant {
  readonly seconds: number
  readonly ticks: number
}

const digit = (s: string, i: number): number => {
  const c = s.charCodeAt(i) - 48
  return c >= 0 && c <= 9 ? c : -1
}

const num = (s: string, i: number, n: number): number => {
  let v = 0
  for (let k = 0; k < n; k++) {
    const d = digit(s, i + k)
    if (d < 0) return -1
    v = v * 10 + d
  }
  return v
}

const daysFromCivil = (y: number, m: number, d: number): number => {
  // Howard Hinnant's algorithm: exact for the proleptic Gregorian calendar.
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

// Scratch results of `scan`, so the hot path (sorting a million sets by
// time) allocates nothing.
let outSeconds = 0
let outTicks = 0

/** Parses into outSeconds/outTicks; false when the string is not a timestamp. */
const scan = (s: string): boolean => {
  if (s.length < 19) return false
  const y = num(s, 0, 4), mo = num(s, 5, 2), d = num(s, 8, 2)
  const h = num(s, 11, 2), mi = num(s, 14, 2), se = num(s, 17, 2)
  if (
    y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
    se > 60 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 ||
    s.charCodeAt(16) !== 58
  ) return false
  const t = s.charCodeAt(10)
  if (t !== 84 && t !== 116 && t !== 32) return false
  let i = 19
  let ticks = 0
  if (s.charCodeAt(i) === 46) {
    i++
    let n = 0
    while (i < s.length) {
      const dg = digit(s, i)
      if (dg < 0) break
      if (n < 7) ticks = ticks * 10 + dg
      n++
      i++
    }
    if (n === 0) return false
    for (let k = n; k < 7; k++) ticks *= 10
  }
  let offsetSeconds = 0
  if (i < s.length) {
    const z = s.charCodeAt(i)
    if (z === 90 || z === 122) {
      i++
    } else if (z === 43 || z === 45) {
      const oh = num(s, i + 1, 2)
      let om = 0
      let j = i + 3
      if (s.charCodeAt(j) === 58) j++
      if (j < s.length) {
        om = num(s, j, 2)
        j += 2
      }
      if (oh < 0 || om < 0) return false
      offsetSeconds = (z === 43 ? 1 : -1) * (oh * 3600 + om * 60)
      i = j
    } else {
      return false
    }
  }
  if (i !== s.length) return false
  outSeconds = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offsetSeconds
  outTicks = ticks
  return true
}

/**
 * Parses `YYYY-MM-DDTHH:MM:SS[.fffffff](Z|±HH:MM)` (any number of fraction
 * digits; digits past the 7th are truncated). Returns undefined when the
 * string is not such a timestamp. A missing zone is read as UTC, which is
 * what Graph means.
 */
export const parseGraphInstant = (s: string | null | undefined): GraphInstant | undefined =>
  s != null && scan(s) ? { seconds: outSeconds, ticks: outTicks } : undefined

/** Epoch milliseconds (fractional below 1 ms), or NaN when the string is not a timestamp. */
export const parseGraphDateTime = (s: string | null | undefined): number =>
  s != null && scan(s) ? outSeconds * 1000 + outTicks / 10_000 : NaN

/** `a - b` in milliseconds, exact to the 100 ns tick (computed in integer ticks). */
export const diffInstantMs = (a: GraphInstant, b: GraphInstant): number =>
  ((a.seconds - b.seconds) * 10_000_000 + (a.ticks - b.ticks)) / 10_000

/** `a - b` in milliseconds for two Graph timestamp strings, or undefined if either is missing or invalid. */
export const diffGraphDateTimeMs = (
  a: string | null | undefined,
  b: string | null | undefined
): number | undefined => {
  const x = parseGraphInstant(a)
  const y = parseGraphInstant(b)
  return x === undefined || y === undefined ? undefined : diffInstantMs(x, y)
}

const CUMULATIVE_DAYS = [NaN, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, NaN]

const twoDigits = (s: string, i: number): number => {
  const a = s.charCodeAt(i) - 48, b = s.charCodeAt(i + 1) - 48
  return (a >>> 0) < 10 && (b >>> 0) < 10 ? a * 10 + b : NaN
}

/**
 * `parseGraphDateTime` with a fast path for the exact shape Graph sends
 * (`YYYY-MM-DDTHH:MM:SS.fffffffZ`, 28 characters): same result, about 40%
 * less work, which matters when ordering a million sets by time.
 */
export const graphDateTimeMs = (s: string | null | undefined): number => {
  if (
    s == null || s.length !== 28 || s.charCodeAt(27) !== 90 || s.charCodeAt(19) !== 46 || s.charCodeAt(10) !== 84 ||
    s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58
  ) return parseGraphDateTime(s)
  const y = twoDigits(s, 0) * 100 + twoDigits(s, 2), mo = twoDigits(s, 5), d = twoDigits(s, 8)
  const h = twoDigits(s, 11), mi = twoDigits(s, 14), se = twoDigits(s, 17)
  const last = s.charCodeAt(26) - 48
  const frac = twoDigits(s, 20) * 100000 + twoDigits(s, 22) * 1000 + twoDigits(s, 24) * 10 + last
  if (!(d >= 1 && d <= 31 && h <= 23 && mi <= 59 && se <= 60 && (last >>> 0) < 10 && frac >= 0)) {
    return parseGraphDateTime(s)
  }
  const leap = mo > 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 1 : 0
  const y1 = y - 1
  // Days from 0001-01-01 to the date, minus the days up to 1970-01-01 (719162).
  const days = y1 * 365 + Math.floor(y1 / 4) - Math.floor(y1 / 100) + Math.floor(y1 / 400) - 719162 +
    CUMULATIVE_DAYS[mo] + leap + d - 1
  const ms = (days * 86400 + h * 3600 + mi * 60 + se) * 1000 + frac / 10_000
  return Number.isNaN(ms) ? parseGraphDateTime(s) : ms
}
