/**
 * A command's flags as data: one table per command drives its `@effect/cli` options, its `--help`,
 * and where each value may come from: the flag, else its environment variable, else the
 * `--config` file, else its default. This module loads nothing heavy (`--help` reads it).
 */

export type FlagKind = "text" | "integer" | "number" | "boolean" | "list"

export interface Flag<K extends FlagKind = FlagKind> {
  readonly kind: K
  /** `--<name>`, and the key in a config file. */
  readonly name: string
  /** What the value is, shown as `--<name> <pseudo>`. */
  readonly pseudo?: string | undefined
  /** One or two sentences. */
  readonly description: string
  /** The environment variable that may supply it (lists: comma-separated). None: flag only. */
  readonly env?: string | undefined
  /** Whether a `--config` file may supply it. */
  readonly inFile?: boolean | undefined
  /** Applied when no source gives a value. */
  readonly default?: (K extends "text" ? string : K extends "integer" | "number" ? number : never) | undefined
  /** How the default reads in `--help` when it is not a literal value (e.g. derived from another flag). */
  readonly defaultText?: string | undefined
  /**
   * "required" (checked once every source had its say), or when it is, for `--help` only ("required
   * unless --meeting or --join-url"; the command checks that).
   */
  readonly required?: string | undefined
  /** Required unless this other flag of the table is given (its key); `required` then says so for `--help`. */
  readonly requiredUnless?: string | undefined
  /** Why a value is not acceptable ("must be ..."), or undefined. The knob's own home provides it. */
  readonly check?: ((value: number) => string | undefined) | undefined
}

/** The value a flag resolves to. */
export type FlagValue<F> = F extends Flag<"list"> ? ReadonlyArray<string>
  : F extends Flag<"boolean"> ? boolean
  : F extends { readonly default: string | number } | { readonly required: "required" } ?
    (F extends Flag<"text"> ? string : number)
  : F extends Flag<"text"> ? string | undefined
  : number | undefined

export type FlagTable = Readonly<Record<string, Flag>>

export type Resolved<T extends FlagTable> = { readonly [K in keyof T]: FlagValue<T[K]> }

/** What `@effect/cli` parsed for a flag: absent text and numbers are `undefined`, lists `[]`. */
export type Parsed = string | number | boolean | ReadonlyArray<string> | undefined

/** A bad value from the environment or a config file: one line, exit 2. */
export class FlagError extends Error {
  readonly _tag = "FlagError"
}

/** The line (exit 2) for settings of `command` that could not be resolved: a `FlagError`'s message, or why not. */
export const settingsErrorLine = (command: string, e: unknown): string =>
  `meeting-artifacts ${command}: ${e instanceof FlagError ? e.message : `cannot read the configuration: ${String(e)}`}`

export const flag = <const K extends FlagKind, const F extends Omit<Flag<K>, "kind">>(
  kind: K,
  spec: F
): F & { readonly kind: K } => ({
  kind,
  ...spec
})

/** `MEETING_ARTIFACTS_CONCURRENCY` for `concurrency`. */
export const envName = (name: string): string => `MEETING_ARTIFACTS_${name.toUpperCase().replace(/-/g, "_")}`

const trueWords = new Set(["1", "true", "yes", "on"])
const falseWords = new Set(["0", "false", "no", "off"])

/** Parses text from the environment or a file for a flag; throws `FlagError` naming `where`. */
const parseText = (f: Flag, text: string, where: string): Parsed => {
  switch (f.kind) {
    case "text":
      return text
    case "list":
      return text.split(",").map((s) => s.trim()).filter((s) => s !== "")
    case "boolean": {
      const word = text.trim().toLowerCase()
      if (trueWords.has(word)) return true
      if (falseWords.has(word)) return false
      throw new FlagError(`${where}: expected true or false, got ${JSON.stringify(text)}`)
    }
    case "integer":
    case "number": {
      const n = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(text) ? Number(text) : Number.NaN
      if (!Number.isFinite(n) || (f.kind === "integer" && !Number.isInteger(n))) {
        throw new FlagError(
          `${where}: expected ${f.kind === "integer" ? "an integer" : "a number"}, got ${JSON.stringify(text)}`
        )
      }
      return n
    }
  }
}

const fromFileValue = (f: Flag, value: unknown, where: string): Parsed => {
  if (f.kind === "list") {
    const items = Array.isArray(value) ? value : [value]
    if (!items.every((v) => typeof v === "string" || typeof v === "number")) {
      throw new FlagError(`${where}: expected a string or a list of strings`)
    }
    return items.map(String)
  }
  if (f.kind === "boolean" && typeof value === "boolean") return value
  if ((f.kind === "integer" || f.kind === "number") && typeof value === "number") {
    return parseText(f, String(value), where)
  }
  if (typeof value === "string") {
    if (value.trim() === "") throw new FlagError(`${where} is empty`)
    return parseText(f, value, where)
  }
  throw new FlagError(
    `${where}: expected ${f.kind === "boolean" ? "true or false" : f.kind === "text" ? "a string" : `a number`}`
  )
}

const isGiven = (v: Parsed): boolean => v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0)

/**
 * Each flag's value: the flag, else its environment variable, else the config file, else its
 * default. A variable that is set but empty is an error (it was meant to say something); so is a
 * key of the file that names no flag.
 */
export const resolveFlags = <T extends FlagTable>(
  table: T,
  parsed: { readonly [K in keyof T]?: Parsed },
  env: Record<string, string | undefined>,
  file: { readonly path: string; readonly values: Record<string, unknown> } | undefined
): Resolved<T> => {
  if (file !== undefined) {
    const known = new Map(Object.values(table).filter((f) => f.inFile === true).map((f) => [f.name, f]))
    for (const key of Object.keys(file.values)) {
      if (!known.has(key)) {
        throw new FlagError(`${file.path}: unknown key ${JSON.stringify(key)} (known: ${[...known.keys()].join(", ")})`)
      }
    }
  }
  const out: Record<string, unknown> = {}
  for (const [key, f] of Object.entries(table)) {
    // @effect/cli reports an absent boolean as false and an absent list as []: only the flag's own
    // value needs isGiven; a variable or a file key that is there is given, even as false.
    let value: Parsed = isGiven(parsed[key]) ? parsed[key] : undefined
    let where = `--${f.name}`
    if (value === undefined && f.env !== undefined && env[f.env] !== undefined) {
      const text = env[f.env]!
      if (text.trim() === "") throw new FlagError(`${f.env} is set but empty: unset it, or give it a value`)
      where = f.env
      value = parseText(f, text, where)
    }
    if (value === undefined && file !== undefined && f.inFile === true && file.values[f.name] !== undefined) {
      where = `${file.path}: ${f.name}`
      value = fromFileValue(f, file.values[f.name], where)
    }
    if (value === undefined) value = f.default
    if (typeof value === "number" && f.check !== undefined) {
      const problem = f.check(value)
      if (problem !== undefined) {
        throw new FlagError(`--${f.name}${where.startsWith("--") ? "" : ` (from ${where})`} ${problem}, got ${value}`)
      }
    }
    out[key] = value ?? (f.kind === "list" ? [] : f.kind === "boolean" ? false : undefined)
  }
  for (const [key, f] of Object.entries(table)) {
    const required = f.required === "required" ||
      (f.requiredUnless !== undefined && !isGiven(out[f.requiredUnless] as Parsed))
    if (required && !isGiven(out[key] as Parsed)) {
      const also = [f.env, f.inFile === true ? `${f.name}: in the --config file` : undefined].filter((x) =>
        x !== undefined
      )
      throw new FlagError(
        `--${f.name}${f.pseudo !== undefined ? ` <${f.pseudo}>` : ""} is required${
          also.length > 0 ? ` (or ${also.join(", or ")})` : ""
        }`
      )
    }
  }
  return out as Resolved<T>
}
