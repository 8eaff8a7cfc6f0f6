/**
 * A single-pass WebVTT block scanner over a string.
 *
 * Speed matters (transcripts of long meetings run to tens of MB), so it works
 * on indices with `charCodeAt` and native `indexOf`, never splits the input
 * into lines and never runs a regex per line. It finds cue blocks (optional
 * id line, timing line, payload lines up to a blank line), skips NOTE / STYLE
 * / REGION blocks and hands each cue's payload range to a callback.
 */

export interface Issue {
  readonly message: string
  readonly line: number
  readonly column: number
}

/** Called per cue; returns an error (offset into the input + message) to reject the cue, else undefined. */
export type OnCue = (
  id: string | null,
  startMs: number,
  endMs: number,
  payloadStart: number,
  payloadEnd: number
) => { readonly offset: number; readonly message: string } | undefined

const LF = 10, CR = 13, SPACE = 32, TAB = 9, COLON = 58, DOT = 46, COMMA = 44

export class Scanner {
  /** Set by `timestamp` to the index after the parsed timestamp. */
  private tsEnd = 0
  private arrowAt = -1

  /** Whether the input has any CR (then CRLF lines are handled line by line). */
  readonly hasCR: boolean

  constructor(readonly s: string) {
    this.hasCR = s.indexOf("\r") !== -1
  }

  /** Position of the next "-->" at or after `from`, cached so scanning stays linear. */
  private arrowFrom(from: number): number {
    if (this.arrowAt !== -2 && this.arrowAt < from) {
      const k = this.s.indexOf("-->", from)
      this.arrowAt = k === -1 ? -2 : k
    }
    return this.arrowAt === -2 ? Infinity : this.arrowAt
  }

  /**
   * Parses `[H+:]M+:S+[.f+]` at `p` (hours, minutes, seconds unpadded or
   * padded; any number of fraction digits; `,` accepted for `.`). Returns
   * milliseconds or a negative number on error (then `tsEnd` is the bad spot).
   */
  private timestamp(p: number, limit: number): number {
    const s = this.s
    // Fast path: the padded "HH:MM:SS.mmm" nearly every file uses.
    if (
      p + 12 <= limit && s.charCodeAt(p + 2) === COLON && s.charCodeAt(p + 5) === COLON &&
      s.charCodeAt(p + 8) === DOT && (p + 12 === limit || !isDigit(s.charCodeAt(p + 12)))
    ) {
      const h1 = s.charCodeAt(p) - 48, h2 = s.charCodeAt(p + 1) - 48
      const m1 = s.charCodeAt(p + 3) - 48, m2 = s.charCodeAt(p + 4) - 48
      const s1 = s.charCodeAt(p + 6) - 48, s2 = s.charCodeAt(p + 7) - 48
      const f1 = s.charCodeAt(p + 9) - 48, f2 = s.charCodeAt(p + 10) - 48, f3 = s.charCodeAt(p + 11) - 48
      if (
        (h1 | h2 | m1 | m2 | s1 | s2 | f1 | f2 | f3) >= 0 && h1 <= 9 && h2 <= 9 && m1 <= 5 && m2 <= 9 && s1 <= 5 &&
        s2 <= 9 && f1 <= 9 && f2 <= 9 && f3 <= 9
      ) {
        this.tsEnd = p + 12
        return (((h1 * 10 + h2) * 60 + m1 * 10 + m2) * 60 + s1 * 10 + s2) * 1000 + f1 * 100 + f2 * 10 + f3
      }
    }
    let a = 0, b = 0, c = 0, parts = 0
    let q = p
    for (;;) {
      let v = 0, nd = 0
      while (q < limit) {
        const d = s.charCodeAt(q) - 48
        if (d < 0 || d > 9) break
        v = v * 10 + d
        nd++
        q++
      }
      if (nd === 0 || nd > 10) {
        this.tsEnd = q
        return -1
      }
      if (parts === 0) a = v
      else if (parts === 1) b = v
      else c = v
      parts++
      if (parts < 3 && q < limit && s.charCodeAt(q) === COLON) {
        q++
        continue
      }
      break
    }
    if (parts < 2) {
      this.tsEnd = q
      return -1
    }
    let h: number, m: number, sec: number
    if (parts === 3) {
      h = a
      m = b
      sec = c
      if (m > 59) {
        this.tsEnd = p
        return -2
      }
    } else {
      h = 0
      m = a
      sec = b
    }
    if (sec > 59) {
      this.tsEnd = p
      return -2
    }
    let ms = 0
    const sep = q < limit ? s.charCodeAt(q) : -1
    if (sep === DOT || sep === COMMA) {
      q++
      let nd = 0, f = 0
      while (q < limit) {
        const d = s.charCodeAt(q) - 48
        if (d < 0 || d > 9) break
        // Keep four digits for rounding; the rest cannot change whole ms except through carry, which rounding covers.
        if (nd < 4) f = f * 10 + d
        nd++
        q++
      }
      if (nd === 0) {
        this.tsEnd = q
        return -1
      }
      ms = nd === 1 ? f * 100 : nd === 2 ? f * 10 : nd === 3 ? f : Math.round(f / 10)
    }
    this.tsEnd = q
    return ((h * 60 + m) * 60 + sec) * 1000 + ms
  }

  // Monotonic line locator for error reports: issues arrive in offset order,
  // so counting newlines from the last answer keeps lenient mode linear.
  private locLine = 1
  private locStart = -1
  private locAt = 0

  /** 1-based line and column of an offset at or after the previous one asked for. */
  private lineOf(offset: number): { line: number; column: number } {
    const s = this.s
    if (this.locStart < 0 || offset < this.locAt) {
      this.locStart = s.charCodeAt(0) === 0xfeff ? 1 : 0
      this.locLine = 1
      this.locAt = this.locStart
    }
    let i = s.indexOf("\n", this.locAt)
    while (i !== -1 && i < offset) {
      this.locLine++
      this.locStart = i + 1
      i = s.indexOf("\n", i + 1)
    }
    this.locAt = offset
    return { line: this.locLine, column: offset - this.locStart + 1 }
  }

  private issue(onIssue: (issue: Issue) => boolean, message: string, offset: number, column?: number): boolean {
    const loc = this.lineOf(offset)
    return onIssue({ message, line: loc.line, column: column ?? loc.column })
  }

  /**
   * Runs the scan. `onIssue` receives each malformed block (return true to
   * stop, as strict mode does). Returns the number of cues accepted.
   */
  scan(onCue: OnCue, onIssue: (issue: Issue) => boolean): number {
    const s = this.s
    const n = s.length
    const start0 = s.charCodeAt(0) === 0xfeff ? 1 : 0
    let pos = start0
    let count = 0
    // Without any CR, a cue's payload ends at the next "\n\n": one native search per cue.
    const lfOnly = !this.hasCR

    // Header: "WEBVTT" then end of line or whitespace + free text.
    const afterMagic = pos + 6
    const ch = afterMagic < n ? s.charCodeAt(afterMagic) : LF
    if (!s.startsWith("WEBVTT", pos) || !(ch === LF || ch === CR || ch === SPACE || ch === TAB)) {
      if (onIssue({ message: "Missing \"WEBVTT\" header", line: 1, column: 1 })) return count
    } else {
      // Skip the header block up to the first blank line.
      for (;;) {
        let eol = s.indexOf("\n", pos)
        if (eol === -1) eol = n
        pos = eol + 1
        if (pos >= n) break
        let e = s.indexOf("\n", pos)
        if (e === -1) e = n
        if (e === pos || (e === pos + 1 && s.charCodeAt(pos) === CR)) break
        if (fastArrow(s, pos, e) >= 0 || this.arrowFrom(pos) < e) {
          // A timing line right under the header: no blank line; treat it as the first block.
          break
        }
      }
    }

    while (pos < n) {
      // Read a line [ls, le) with its CR stripped.
      const ls = pos
      let eol = s.indexOf("\n", ls)
      if (eol === -1) eol = n
      let le = eol
      if (le > ls && s.charCodeAt(le - 1) === CR) le--
      if (le === ls || (isSpace(s.charCodeAt(ls)) && isBlank(s, ls, le))) {
        pos = eol + 1
        continue
      }
      let id: string | null = null
      let tls = ls, tle = le, teol = eol
      // Where "-->" is on the timing line; the fixed-width form is recognized without searching.
      let arrow = fastArrow(s, ls, le)
      // Whether fastArrow validated the timing line's start timestamp.
      let fixed = arrow >= 0
      if (arrow < 0) {
        // Most blocks: an id line, then a fixed-width timing line. Recognizing that form needs
        // no search (cue text cannot hold "-->", so a line followed by a timing line is not one).
        const nl = eol + 1
        const a2 = nl + 16 <= n ? fastArrow(s, nl, n) : -1
        if (a2 >= 0) {
          tls = nl
          arrow = a2
          fixed = true
          // "HH:MM:SS.mmm --> HH:MM:SS.mmm" is 29 characters; else find the line end.
          const c29 = s.charCodeAt(nl + 29)
          if (c29 === LF) teol = nl + 29
          else if (c29 === CR && s.charCodeAt(nl + 30) === LF) teol = nl + 30
          else {
            teol = s.indexOf("\n", nl)
            if (teol === -1) teol = n
          }
          tle = teol
          if (tle > tls && s.charCodeAt(tle - 1) === CR) tle--
          id = s.slice(ls, le)
        } else if (this.arrowFrom(ls) < le) {
          arrow = this.arrowAt
        }
      }
      if (arrow < 0) {
        const c0 = s.charCodeAt(ls)
        if (
          (c0 === 78 && isWord(s, ls, le, "NOTE")) || (c0 === 83 && isWord(s, ls, le, "STYLE")) ||
          (c0 === 82 && isWord(s, ls, le, "REGION"))
        ) {
          pos = skipBlock(s, eol + 1, n)
          continue
        }
        // An id line; the timing line must follow.
        tls = eol + 1
        if (tls >= n) {
          if (this.issue(onIssue, "Cue identifier without a timing line", ls, 1)) return count
          pos = n
          break
        }
        teol = s.indexOf("\n", tls)
        if (teol === -1) teol = n
        tle = teol
        if (tle > tls && s.charCodeAt(tle - 1) === CR) tle--
        if (this.arrowFrom(tls) < tle) arrow = this.arrowAt
        if (arrow < 0) {
          const blank = tle === tls || isBlank(s, tls, tle)
          if (
            blank ?
              this.issue(onIssue, "Cue identifier without a timing line", ls, 1) :
              this.issue(onIssue, "Expected a timing line \"start --> end\"", tls, 1)
          ) return count
          pos = skipBlock(s, eol + 1, n)
          continue
        }
        id = s.slice(ls, le)
      }
      // Payload: lines after the timing line up to a blank line or EOF.
      const ps = teol + 1
      let pe: number
      if (lfOnly) {
        if (ps >= n || s.charCodeAt(ps) === LF) {
          pe = ps
          pos = ps
        } else {
          const k = s.indexOf("\n\n", ps)
          if (k === -1) {
            pe = s.charCodeAt(n - 1) === LF ? n - 1 : n
            pos = n
          } else {
            pe = k
            // k + 1 is the blank line that ends the cue: the next block starts after it.
            pos = k + 2
          }
        }
      } else {
        pe = ps
        let p = ps
        while (p < n) {
          let e = s.indexOf("\n", p)
          if (e === -1) e = n
          let le2 = e
          if (le2 > p && s.charCodeAt(le2 - 1) === CR) le2--
          // Only an empty line ends a cue (as in the LF path above and the WebVTT spec).
          if (le2 === p) break
          pe = le2
          p = e + 1
        }
        pos = p
      }

      // Timing line: start, whitespace, "-->", whitespace, end, then optional settings.
      // fastArrow already checked a fixed-width start's digits: read them directly.
      let start: number
      if (fixed) {
        // "H+:MM:SS.mmm -->": the hours end 11 characters before the arrow.
        const b = arrow - 11
        let h = 0
        for (let i = tls; i < b; i++) h = h * 10 + s.charCodeAt(i) - 48
        start = ((h * 60 + (s.charCodeAt(b + 1) - 48) * 10 + s.charCodeAt(b + 2) - 48) * 60 +
              (s.charCodeAt(b + 4) - 48) * 10 + s.charCodeAt(b + 5) - 48) * 1000 +
          (s.charCodeAt(b + 7) - 48) * 100 + (s.charCodeAt(b + 8) - 48) * 10 + s.charCodeAt(b + 9) - 48
        if (s.charCodeAt(b + 1) > 53 || s.charCodeAt(b + 4) > 53) start = this.timestamp(tls, arrow)
        else this.tsEnd = b + 10
      } else {
        start = this.timestamp(tls, arrow)
      }
      let bad = -1, why = ""
      if (start < 0) {
        bad = this.tsEnd
        why = start === -2 ? "Minutes and seconds must be below 60" : "Malformed start timestamp"
      } else {
        let q = this.tsEnd
        while (q < arrow && (s.charCodeAt(q) === SPACE || s.charCodeAt(q) === TAB)) q++
        if (q !== arrow) {
          bad = q
          why = q === this.tsEnd ? "Malformed start timestamp" : "Unexpected text before \"-->\""
        } else {
          q = arrow + 3
          while (q < tle && (s.charCodeAt(q) === SPACE || s.charCodeAt(q) === TAB)) q++
          // Fast path, inline: "H+:MM:SS.mmm" that ends the line (the usual form).
          let end = -1
          const b = tle - 10
          if (
            b > q && b - q <= 9 && s.charCodeAt(b) === COLON && s.charCodeAt(b + 3) === COLON &&
            s.charCodeAt(b + 6) === DOT
          ) {
            let h = 0, ok = 1
            for (let i = q; i < b; i++) {
              const d = s.charCodeAt(i) - 48
              if (d < 0 || d > 9) ok = 0
              h = h * 10 + d
            }
            const m1 = s.charCodeAt(b + 1) - 48, m2 = s.charCodeAt(b + 2) - 48
            const s1 = s.charCodeAt(b + 4) - 48, s2 = s.charCodeAt(b + 5) - 48
            const f1 = s.charCodeAt(b + 7) - 48, f2 = s.charCodeAt(b + 8) - 48, f3 = s.charCodeAt(b + 9) - 48
            if (
              ok === 1 && (m1 | m2 | s1 | s2 | f1 | f2 | f3) >= 0 && m1 <= 5 && m2 <= 9 && s1 <= 5 && s2 <= 9 &&
              f1 <= 9 && f2 <= 9 && f3 <= 9
            ) {
              end = ((h * 60 + m1 * 10 + m2) * 60 + s1 * 10 + s2) * 1000 + f1 * 100 + f2 * 10 + f3
              this.tsEnd = tle
            }
          }
          if (end < 0) end = this.timestamp(q, tle)
          if (end < 0) {
            bad = this.tsEnd
            why = end === -2 ? "Minutes and seconds must be below 60" : "Malformed end timestamp"
          } else {
            const r = this.tsEnd
            if (r < tle && s.charCodeAt(r) !== SPACE && s.charCodeAt(r) !== TAB) {
              bad = r
              why = "Unexpected text after the end timestamp"
            } else if (end < start) {
              bad = q
              why = "Cue ends before it starts"
            } else {
              const err = onCue(id, start, end, ps, pe)
              if (err === undefined) {
                count++
                continue
              }
              if (this.issue(onIssue, err.message, err.offset)) return count
              continue
            }
          }
        }
      }
      if (this.issue(onIssue, why, bad)) return count
    }
    return count
  }
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57
const isSpace = (c: number): boolean => c === SPACE || c === TAB

/**
 * The arrow's index when [ls, le) starts with "H+:dd:dd.ddd -->" (the usual form: hours of 1 to 9
 * digits, usually 2, 3 in files over 99 hours), else -1.
 */
const fastArrow = (s: string, ls: number, le: number): number => {
  let b = ls + 2
  if (s.charCodeAt(b) !== COLON) {
    // Not the two-digit hour: find where the hour digits end.
    b = ls
    while (b < le && b - ls < 10 && isDigit(s.charCodeAt(b))) b++
    if (b === ls || b - ls > 9 || s.charCodeAt(b) !== COLON) return -1
  } else if (!isDigit(s.charCodeAt(ls)) || !isDigit(s.charCodeAt(ls + 1))) {
    return -1
  }
  return le - b >= 14 && s.charCodeAt(b + 3) === COLON && s.charCodeAt(b + 6) === DOT &&
      s.charCodeAt(b + 10) === SPACE && s.charCodeAt(b + 11) === 45 && s.charCodeAt(b + 12) === 45 &&
      s.charCodeAt(b + 13) === 62 && isDigit(s.charCodeAt(b + 1)) && isDigit(s.charCodeAt(b + 2)) &&
      isDigit(s.charCodeAt(b + 4)) && isDigit(s.charCodeAt(b + 5)) && isDigit(s.charCodeAt(b + 7)) &&
      isDigit(s.charCodeAt(b + 8)) && isDigit(s.charCodeAt(b + 9)) ?
    b + 11 :
    -1
}

const isBlank = (s: string, ls: number, le: number): boolean => {
  for (let i = ls; i < le; i++) {
    const c = s.charCodeAt(i)
    if (c !== SPACE && c !== TAB) return false
  }
  return true
}

const isWord = (s: string, ls: number, le: number, w: string): boolean => {
  if (!s.startsWith(w, ls)) return false
  const i = ls + w.length
  if (i >= le) return true
  const c = s.charCodeAt(i)
  return c === SPACE || c === TAB
}

/** Skips lines from `p` up to the next blank line; returns the position of that line (or the end). */
const skipBlock = (s: string, p: number, n: number): number => {
  while (p < n) {
    let e = s.indexOf("\n", p)
    if (e === -1) e = n
    let le = e
    if (le > p && s.charCodeAt(le - 1) === CR) le--
    if (le === p || isBlank(s, p, le)) break
    p = e + 1
  }
  return p
}

/** Counts cues quickly: every "-->" starts one (cue text cannot contain "-->"). */
export const countArrows = (s: string): number => {
  let count = 0
  let i = s.indexOf("-->")
  while (i !== -1) {
    count++
    i = s.indexOf("-->", i + 3)
  }
  return count
}
