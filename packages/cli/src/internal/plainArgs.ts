/**
 * The plain shape of a command line, read from a flag table without `@effect/cli`: bare boolean flags
 * and `--<flag> <value>` pairs of the table's flags, lists repeated. Anything else gives undefined
 * (an unknown or built-in flag, `--flag=value`, a value that is empty or starts with "-", a number
 * written other than in plain digits, a flag given twice, a positional argument): `@effect/cli` then
 * parses the line and words its errors as always. Light (the flag tables only).
 */
import type { FlagTable, Parsed } from "./flags.js"

const INTEGER = /^(0|[1-9]\d*)$/
const NUMBER = /^(0|[1-9]\d*)(\.\d+)?$/

// beyond 2^53 a number would be rounded, where @effect/cli refuses it as "not a integer"
const isPlainInteger = (value: string) => INTEGER.test(value) && Number.isSafeInteger(Number(value))

/** What `@effect/cli` would have parsed from `args` (as `parsedValues` gives it), or undefined. */
export const plainArgs = <T extends FlagTable>(
  table: T,
  args: ReadonlyArray<string>
): { readonly [K in keyof T]?: Parsed } | undefined => {
  const byName = new Map(Object.entries(table).map(([key, f]) => [`--${f.name}`, { key, f }]))
  const out: Record<string, Parsed> = {}
  for (const [key, f] of Object.entries(table)) {
    out[key] = f.kind === "boolean"
      ? false
      : f.kind === "list"
      ? []
      : undefined
  }
  const seen = new Set<string>()
  for (let i = 0; i < args.length; i++) {
    const entry = byName.get(args[i]!)
    if (entry === undefined) return undefined
    const { f, key } = entry
    if (f.kind !== "list" && seen.has(key)) return undefined
    seen.add(key)
    if (f.kind === "boolean") {
      out[key] = true
      continue
    }
    const value = args[++i]
    if (value === undefined || value === "" || value.startsWith("-")) return undefined
    if (f.kind === "list") out[key] = [...(out[key] as ReadonlyArray<string>), value]
    else if (f.kind === "text") out[key] = value
    else if (f.kind === "integer" ? isPlainInteger(value) : NUMBER.test(value)) out[key] = Number(value)
    else return undefined
  }
  return out as { readonly [K in keyof T]?: Parsed }
}
