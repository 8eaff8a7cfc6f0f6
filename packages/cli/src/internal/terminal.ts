/**
 * Text for a terminal or a log file: ids, paths and messages Graph (or a
 * file) controls must not move the cursor, set the window title, clear the
 * screen, ring the bell or forge a line. Every C0/C1 control character, DEL,
 * the Unicode line separators and the bidirectional overrides are shown as
 * visible escapes (`\x1b`, `\n`, `\u{202e}`) instead.
 */

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }

export const escapeControl = (text: string): string =>
  text.replace(UNSAFE, (c) => {
    const named = NAMED[c]
    if (named !== undefined) return named
    const code = c.codePointAt(0)!
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`
  })

const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "")

/** Text as one line: ANSI styles dropped, whitespace runs (newlines too) made one space. */
export const oneLine = (text: string): string => stripAnsi(text).replace(/\s+/g, " ").trim()
