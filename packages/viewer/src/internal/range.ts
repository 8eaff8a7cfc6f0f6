/**
 * One HTTP byte range (RFC 9110 §14): `bytes=a-b`, `bytes=a-`, `bytes=-n`.
 * Several ranges are answered with the whole file (allowed: a server may
 * ignore Range), which a media element never asks for anyway.
 */
export type RangeResult =
  | { readonly _tag: "Full" }
  | { readonly _tag: "Partial"; readonly start: number; readonly end: number }
  | { readonly _tag: "Unsatisfiable" }

const full: RangeResult = { _tag: "Full" }

export const parseRange = (header: string | undefined, size: number): RangeResult => {
  if (header === undefined) return full
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  // Not one byte range (another unit, a list, garbage): ignored, as RFC 9110 allows.
  if (m === null) return full
  const [, a, b] = m
  if (a === "" && b === "") return full
  if (a === "") {
    const suffix = Number(b)
    if (suffix === 0 || size === 0) return { _tag: "Unsatisfiable" }
    return { _tag: "Partial", start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(a)
  if (!Number.isSafeInteger(start) || start >= size) return { _tag: "Unsatisfiable" }
  // `a-b` with b < a is not a valid range: ignored like any other invalid one.
  if (b !== "" && !(Number(b) >= start)) return full
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1)
  return { _tag: "Partial", start, end }
}
