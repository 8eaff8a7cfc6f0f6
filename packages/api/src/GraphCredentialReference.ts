/**
 * A Graph credential named by reference: which app of which tenant, and where the process that uses it
 * finds the secret (an environment variable, or a certificate file). The reference itself holds no
 * secret, so it may be stored (e.g. in a cluster's run settings) and resolved later, by each process
 * that runs the work, from its own environment.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import type { GraphCredentialSettings, ResolvedGraphCredential } from "./GraphCredentials.js"
import { bearerToken, envProvider, optionalNonEmpty, resolve } from "./internal/credentials.js"

/** An environment variable's name (what a shell can export). */
export const EnvVarName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/, {
    message: () => "must be an environment variable name (letters, digits, _; not starting with a digit)"
  })
)

const AbsolutePath = Schema.String.pipe(
  Schema.filter((p) => NodePath.isAbsolute(p) || "must be an absolute path (the same on every machine)")
)

/**
 * Where the secret is, exactly one of: a client secret in a variable; a certificate file (PEM with its
 * private key, at this absolute path wherever the work runs) and optionally its password's variable;
 * a static bearer token in a variable (short-lived: tests and one-off runs).
 */
export const GraphCredentialReference = Schema.Struct({
  clientSecretEnv: Schema.optional(EnvVarName),
  certificatePath: Schema.optional(AbsolutePath),
  certificatePasswordEnv: Schema.optional(EnvVarName),
  accessTokenEnv: Schema.optional(EnvVarName)
}).annotations({
  message: () => ({ message: "must be an object naming the secret's variable or file", override: false })
})
  .pipe(Schema.filter((c) => {
    const kinds = [c.clientSecretEnv, c.certificatePath, c.accessTokenEnv].filter((k) => k !== undefined).length
    if (kinds !== 1) return "must name exactly one of clientSecretEnv, certificatePath, accessTokenEnv"
    return c.certificatePasswordEnv === undefined || c.certificatePath !== undefined ||
      "certificatePasswordEnv goes with certificatePath only"
  }))
export type GraphCredentialReference = typeof GraphCredentialReference.Type

/** An id as Entra writes them (a GUID, or a tenant's domain name): safe to print and to key by. */
export const EntraId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/, {
    message: () => "must be a GUID or a domain name"
  })
)

/** A tenant's app and the reference to its credential. */
export const TenantCredential = Schema.Struct({
  tenantId: EntraId,
  clientId: EntraId,
  credential: GraphCredentialReference,
  /** The Entra authority (national clouds), an https URL; default: Microsoft's global one. */
  authorityHost: Schema.optional(
    Schema.String.pipe(Schema.filter((u) => isHttpsUrl(u) || "must be an https:// URL"))
  )
})
export type TenantCredential = typeof TenantCredential.Type

const isHttpsUrl = (text: string): boolean => {
  try {
    return new URL(text).protocol === "https:"
  } catch {
    return false
  }
}

/** A variable the reference names: set and not empty, or an error naming it. */
const required = <A>(name: string, config: Config.Config<Option.Option<A>>): Config.Config<A> =>
  Config.mapOrFail(config, (value) =>
    Option.isSome(value)
      ? Either.right(value.value)
      : Either.left(ConfigError.MissingData([name], `${name} is not set (the tenant's credential names it)`)))

/** The settings a tenant's reference names, read from the current `ConfigProvider`. */
export const settingsConfig = (tenant: TenantCredential): Config.Config<GraphCredentialSettings> => {
  const { authorityHost, clientId, credential, tenantId } = tenant
  if (credential.accessTokenEnv !== undefined) {
    return Config.map(
      required(credential.accessTokenEnv, bearerToken(credential.accessTokenEnv)),
      (token) => ({ _tag: "StaticToken", token, scope: undefined })
    )
  }
  if (credential.clientSecretEnv !== undefined) {
    return Config.map(
      required(credential.clientSecretEnv, optionalNonEmpty(credential.clientSecretEnv)),
      (secret) => ({
        _tag: "ClientSecret",
        tenantId,
        clientId,
        secret: Redacted.make(secret),
        authorityHost,
        scope: undefined
      })
    )
  }
  const password = credential.certificatePasswordEnv
  return Config.map(
    password === undefined ? Config.succeed(undefined) : required(password, optionalNonEmpty(password)),
    (pw) => ({
      _tag: "ClientCertificate",
      tenantId,
      clientId,
      certificatePath: credential.certificatePath!,
      certificatePassword: pw === undefined ? undefined : Redacted.make(pw),
      authorityHost,
      scope: undefined
    })
  )
}

/** The credential a reference names cannot be built here: which variable or file is missing or wrong. */
export class TenantCredentialError extends Schema.TaggedError<TenantCredentialError>()("TenantCredentialError", {
  message: Schema.String
}) {}

/**
 * Resolves a tenant's credential from an environment (default `process.env`): the variables its
 * reference names must be set, its certificate file must exist.
 */
export const fromEnv = (
  tenant: TenantCredential,
  env: Record<string, string | undefined> = process.env
): Effect.Effect<ResolvedGraphCredential, TenantCredentialError> =>
  Effect.gen(function*() {
    const settings = yield* Effect.withConfigProvider(settingsConfig(tenant), envProvider(env)).pipe(
      // One variable per Config here, so the error is a single InvalidData or MissingData.
      Effect.mapError((e) => new TenantCredentialError({ message: "message" in e ? e.message : String(e) }))
    )
    if (settings._tag === "ClientCertificate" && !NodeFs.existsSync(settings.certificatePath)) {
      return yield* new TenantCredentialError({
        message: `the certificate file ${settings.certificatePath} does not exist on this machine`
      })
    }
    return yield* resolve(settings)
  })
