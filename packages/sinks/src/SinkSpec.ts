/**
 * `--sink` specs (repeatable, beside the default filesystem `--out <dir>`):
 *
 * ```
 * sqlite:<path>
 * postgres:<url>               (postgres://user:pass@host:port/db; postgresql:// also accepted)
 * parquet:<dir>
 * azure-blob:<container>[/<prefix>]
 * ```
 *
 * A kind may carry a write disposition: `sqlite+append:<path>` (default `+merge`).
 */
import { redactUrlCredentials } from "@meeting-artifacts/api/GraphUrl"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { InvalidSinkSpec } from "./SinkError.js"
import type { WriteDisposition } from "./RecordSink.js"

export type SinkSpec =
  | { readonly _tag: "sqlite"; readonly path: string; readonly disposition: WriteDisposition }
  | { readonly _tag: "postgres"; readonly url: Redacted.Redacted<string>; readonly disposition: WriteDisposition }
  | { readonly _tag: "parquet"; readonly dir: string; readonly disposition: WriteDisposition }
  | {
    readonly _tag: "azure-blob"
    readonly container: string
    /** Blob name prefix ("" or ending in "/"). */
    readonly prefix: string
    readonly disposition: WriteDisposition
  }

export const ACCEPTED_SINK_FORMS =
  "sqlite:<path>, postgres:<url>, parquet:<dir>, azure-blob:<container>[/<prefix>] (kind+append:... for append)"

const invalid = (spec: string, why: string) =>
  Either.left(
    new InvalidSinkSpec({
      spec,
      message: `invalid --sink ${JSON.stringify(redactSpecText(spec))}: ${why}; accepted forms: ${ACCEPTED_SINK_FORMS}`
    })
  )

/** Hide a password in text that may contain a URL. */
const redactSpecText = redactUrlCredentials

// Azure container rules: 3-63 chars, lower-case letters, digits, single hyphens, starts/ends alnum.
const CONTAINER = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/

/** Parse one `--sink` spec; the error is one line naming the accepted forms. */
export const parseSinkSpec = (spec: string): Either.Either<SinkSpec, InvalidSinkSpec> => {
  const colon = spec.indexOf(":")
  if (colon <= 0) return invalid(spec, "missing <kind>:")
  const head = spec.slice(0, colon).trim().toLowerCase()
  const rest = spec.slice(colon + 1)
  const [kind, disp, ...extra] = head.split("+")
  if (extra.length > 0 || (disp !== undefined && disp !== "merge" && disp !== "append")) {
    return invalid(spec, `unknown disposition ${JSON.stringify(head)} (merge or append)`)
  }
  const disposition: WriteDisposition = disp === "append" ? "append" : "merge"
  switch (kind) {
    case "sqlite": {
      if (rest.trim() === "" || rest.includes("\0")) return invalid(spec, "sqlite needs a file path")
      return Either.right({ _tag: "sqlite", path: rest, disposition })
    }
    case "postgres":
    case "postgresql": {
      // Accept both "postgres:postgres://..." and the bare URL "postgres://..." as a spec.
      const url = rest.startsWith("//") ? `${kind}:${rest}` : rest
      if (!/^postgres(ql)?:\/\/./.test(url)) return invalid(spec, "postgres needs a postgres:// URL")
      try {
        new URL(url)
      } catch {
        return invalid(spec, "postgres URL does not parse")
      }
      return Either.right({ _tag: "postgres", url: Redacted.make(url), disposition })
    }
    case "parquet": {
      if (rest.trim() === "" || rest.includes("\0")) return invalid(spec, "parquet needs a folder")
      return Either.right({ _tag: "parquet", dir: rest, disposition })
    }
    case "azure-blob": {
      const slash = rest.indexOf("/")
      const container = slash < 0 ? rest : rest.slice(0, slash)
      let prefix = slash < 0 ? "" : rest.slice(slash + 1)
      if (!CONTAINER.test(container)) {
        return invalid(spec, "azure-blob container must be 3-63 lower-case letters, digits and single hyphens")
      }
      if (prefix !== "" && !prefix.endsWith("/")) prefix += "/"
      if (prefix.split("/").slice(0, -1).some((p) => p === "" || p === "." || p === "..")) {
        return invalid(spec, "azure-blob prefix has an empty, '.' or '..' segment")
      }
      return Either.right({ _tag: "azure-blob", container, prefix, disposition })
    }
    default:
      return invalid(spec, `unknown sink kind ${JSON.stringify(kind)}`)
  }
}

/** Parse every spec; the first bad one fails. */
export const parseSinkSpecs = (specs: ReadonlyArray<string>): Either.Either<Array<SinkSpec>, InvalidSinkSpec> =>
  Either.all(specs.map(parseSinkSpec))

/** A spec as text, safe to print (Postgres password redacted). */
export const formatSinkSpec = (spec: SinkSpec): string => {
  const d = spec.disposition === "append" ? "+append" : ""
  switch (spec._tag) {
    case "sqlite":
      return `sqlite${d}:${spec.path}`
    case "postgres":
      return `postgres${d}:${redactSpecText(Redacted.value(spec.url))}`
    case "parquet":
      return `parquet${d}:${spec.dir}`
    case "azure-blob":
      return `azure-blob${d}:${spec.container}${spec.prefix ? "/" + spec.prefix.replace(/\/$/, "") : ""}`
  }
}
