/**
 * `--tenants <file>`: several tenants in one `sync`, each with its own app, credential reference, Graph
 * URL, output folder, organizers and Graph budget. The file is JSON:
 *
 *   { "tenants": [ { "name": "contoso", "tenantId": "...", "clientId": "...",
 *                    "credential": { "clientSecretEnv": "CONTOSO_CLIENT_SECRET" },
 *                    "organizers": ["..."], "out": "/mnt/exports/contoso" } ] }
 *
 * This module is the one home of the file's schema, its defaults and its checks; a bad file is a
 * `TenantsFileError` naming the file and the field.
 */
import { GraphCredentialReference } from "@meeting-artifacts/api"
import { maxConcurrentRequestsFor, policyValueProblem } from "@meeting-artifacts/api/GraphPolicy"
import { DEFAULT_BASE_URL } from "@meeting-artifacts/api/GraphUrl"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { downloadsAboveRequests } from "./syncFlags.js"

/** A bad tenants file: which file, which field (`tenants[1].out`), what is wrong. */
export class TenantsFileError extends Schema.TaggedError<TenantsFileError>()("TenantsFileError", {
  file: Schema.String,
  field: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `--tenants ${this.file}: ${this.field === "" ? "" : `${this.field}: `}${this.problem}`
  }
}

// Windows device names: a folder named so cannot be created there (shared folders may be SMB).
const DEVICE_NAME = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i

/**
 * A tenant's name: its key in the file, in messages, and the name of its folder under `--out`, hence
 * one path segment that every file system accepts (no separators, no `..`, no control characters).
 */
export const TenantName = Schema.String.pipe(
  Schema.filter((name) =>
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) && !DEVICE_NAME.test(name) ||
    "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names the tenant's folder)"
  )
)

const NonEmpty = Schema.String.pipe(Schema.filter((s) => s.trim() !== "" || "must not be empty"))

const HttpUrl = Schema.String.pipe(Schema.filter((u) => {
  try {
    const url = new URL(u)
    return url.protocol === "http:" || url.protocol === "https:" ? true : "must be an http(s) URL"
  } catch {
    return "must be an http(s) URL"
  }
}))

/** A knob of the tenant's Graph budget, checked by `GraphPolicy` (the home of its bounds). */
const policyNumber = (key: Parameters<typeof policyValueProblem>[0]) =>
  Schema.Number.pipe(Schema.filter((n) => policyValueProblem(key, n) ?? true))

/** One entry of the file, as written. */
export const TenantEntry = Schema.Struct({
  name: TenantName,
  ...GraphCredentialReference.TenantCredential.fields,
  /** Default: Graph's v1.0 endpoint. */
  graphUrl: Schema.optional(HttpUrl),
  /** Default: `<--out>/<name>`. Relative: to the tenants file's folder. */
  out: Schema.optional(NonEmpty),
  organizers: Schema.Array(NonEmpty).pipe(Schema.minItems(1, { message: () => "must list at least one organizer" })),
  /** The tenant's Graph budget; default: `--rate`, `--max-requests` (else 12, or its concurrency when larger), `--concurrency`. */
  rate: Schema.optional(policyNumber("requestsPerSecond")),
  maxRequests: Schema.optional(policyNumber("maxConcurrentRequests")),
  concurrency: Schema.optional(policyNumber("maxConcurrentDownloads"))
})
export type TenantEntry = typeof TenantEntry.Type

export const TenantsFile = Schema.Struct({
  tenants: Schema.Array(TenantEntry).pipe(Schema.minItems(1, { message: () => "must list at least one tenant" }))
}).annotations({ message: () => ({ message: "must be an object {\"tenants\": [...]}", override: false }) })

/** A tenant with every default applied: what a run of it needs. */
export interface Tenant extends GraphCredentialReference.TenantCredential {
  readonly name: string
  readonly graphUrl: string
  /** Absolute. */
  readonly out: string
  readonly organizers: ReadonlyArray<string>
  readonly rate: number
  readonly maxRequests: number
  readonly concurrency: number
}

/** What a tenant leaves out comes from the command's flags. */
export interface TenantDefaults {
  /** `--out`: the parent of the folders of tenants without `out`. */
  readonly out: string | undefined
  readonly rate: number
  /** `--max-requests` when given (else each tenant's default follows its concurrency). */
  readonly maxRequests: number | undefined
  readonly concurrency: number
}

/** `["tenants", 1, "out"]` as `tenants[1].out`. */
const fieldOf = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`),
    ""
  )

/** Decodes the file's JSON value; every default applied, every tenant checked against the others. */
export const decodeTenants = (
  file: string,
  value: unknown,
  defaults: TenantDefaults
): Either.Either<ReadonlyArray<Tenant>, TenantsFileError> => {
  const fail = (field: string, problem: string) => Either.left(new TenantsFileError({ file, field, problem }))
  const decoded = Schema.decodeUnknownEither(TenantsFile, { onExcessProperty: "error", errors: "first" })(value)
  if (Either.isLeft(decoded)) {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]!
    return fail(fieldOf(issue.path), issue.message)
  }
  const tenants: Array<Tenant> = []
  const names = new Map<string, number>()
  const identities = new Map<string, number>()
  for (const [i, entry] of decoded.right.tenants.entries()) {
    const at = `tenants[${i}]`
    const graphUrl = entry.graphUrl ?? DEFAULT_BASE_URL
    // Case-insensitive: the names are folder names, and some file systems ignore case.
    const name = entry.name.toLowerCase()
    if (names.has(name)) return fail(`${at}.name`, `${entry.name} is also the name of tenants[${names.get(name)}]`)
    names.set(name, i)
    // Graph's budget is per app and tenant: two entries of one would share it, and their exports would race.
    const identity = `${new URL(graphUrl).host}/${entry.tenantId}/${entry.clientId}`.toLowerCase()
    if (identities.has(identity)) {
      return fail(
        at,
        `the same tenant and app as tenants[${identities.get(identity)}] (one Graph budget): ` +
          "list all its organizers in one entry"
      )
    }
    identities.set(identity, i)
    const out = entry.out !== undefined
      ? NodePath.resolve(NodePath.dirname(NodePath.resolve(file)), entry.out)
      : defaults.out !== undefined
      ? NodePath.resolve(defaults.out, entry.name)
      : undefined
    if (out === undefined) {
      return fail(`${at}.out`, "is required without --out (with --out <dir>, a tenant's folder is <dir>/<name>)")
    }
    const clash = tenants.findIndex((t) => isSameOrInside(t.out, out) || isSameOrInside(out, t.out))
    if (clash >= 0) {
      return fail(`${at}.out`, `${out} overlaps tenants[${clash}]'s folder ${tenants[clash]!.out}: give each its own`)
    }
    const concurrency = entry.concurrency ?? defaults.concurrency
    const givenMaxRequests = entry.maxRequests ?? defaults.maxRequests
    const overBudget = downloadsAboveRequests(concurrency, givenMaxRequests, {
      concurrency: entry.concurrency !== undefined ? "concurrency" : "--concurrency",
      maxRequests: entry.maxRequests !== undefined ? "maxRequests" : "--max-requests"
    })
    if (overBudget !== undefined) return fail(at, overBudget)
    const maxRequests = maxConcurrentRequestsFor(concurrency, givenMaxRequests)
    tenants.push({
      name: entry.name,
      tenantId: entry.tenantId,
      clientId: entry.clientId,
      credential: entry.credential,
      ...(entry.authorityHost !== undefined ? { authorityHost: entry.authorityHost } : {}),
      graphUrl,
      out,
      organizers: entry.organizers,
      rate: entry.rate ?? defaults.rate,
      maxRequests,
      concurrency
    })
  }
  return Either.right(tenants)
}

const isSameOrInside = (parent: string, child: string): boolean => {
  const rel = NodePath.relative(parent, child)
  return rel === "" || (!rel.startsWith("..") && !NodePath.isAbsolute(rel))
}

/** Reads and decodes a tenants file. */
export const loadTenants = (
  file: string,
  defaults: TenantDefaults
): Effect.Effect<ReadonlyArray<Tenant>, TenantsFileError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => NodeFs.readFileSync(file, "utf8"),
      catch: (e) =>
        new TenantsFileError({
          file,
          field: "",
          problem: `cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`
        })
    })
    const value = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) => new TenantsFileError({ file, field: "", problem: jsonProblem(text, e) })
    })
    return yield* decodeTenants(file, value, defaults)
  })

/**
 * Where the file stops being JSON, never what it says there: JSON.parse's message may quote the text
 * around the error, and a tenants file is where a secret pasted by mistake would be.
 */
const jsonProblem = (text: string, e: unknown): string => {
  const message = e instanceof Error ? e.message : ""
  if (/^Unexpected end of JSON input/.test(message)) return "not valid JSON: it ends too early"
  const position = /\bposition (\d+)/.exec(message)
  if (position === null) return "not valid JSON"
  const before = text.slice(0, Number(position[1]))
  const line = before.split("\n").length
  return `not valid JSON at line ${line}, column ${before.length - before.lastIndexOf("\n")}`
}
