/**
 * `--config <file>`: flag values as a JSON or YAML mapping, keys named like the flags
 * (`organizer: [...]`, `graph-url: ...`). Read only when a command runs (the YAML parser is loaded
 * on use), never for `--help`.
 */
import * as fs from "node:fs"
import { FlagError } from "./flags.js"

export interface ConfigFile {
  readonly path: string
  readonly values: Record<string, unknown>
}

export const loadConfigFile = async (path: string): Promise<ConfigFile> => {
  let text: string
  try {
    text = fs.readFileSync(path, "utf8")
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new FlagError(`--config ${path}: cannot read it (${code ?? String(e)})`)
  }
  let values: unknown
  try {
    // YAML 1.2 is a superset of JSON, but JSON.parse is exact and needs no parser to load.
    values = /\.json$/i.test(path) ? JSON.parse(text) : (await import("yaml")).parse(text)
  } catch (e) {
    // The first line only, without the quoted excerpt JSON.parse adds: the file may hold a password.
    const first = String((e as Error).message ?? e).split("\n")[0].replace(/,? ?".*" is not valid JSON/, "")
    throw new FlagError(`--config ${path}: not valid ${/\.json$/i.test(path) ? "JSON" : "YAML"}: ${first}`)
  }
  if (values === null || values === undefined) return { path, values: {} }
  if (typeof values !== "object" || Array.isArray(values)) {
    throw new FlagError(`--config ${path}: expected a mapping of flag names to values`)
  }
  return { path, values: values as Record<string, unknown> }
}
