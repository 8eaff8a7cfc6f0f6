/**
 * Credential resolution: which credential the configuration names (pure, from `Config`), and
 * building it (`@azure/identity` loaded only when one of its credentials is chosen).
 */
import type { TokenCredential } from "@azure/identity"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { GraphCredential } from "../GraphClient.js"
import type { GraphCredentialSettings, ResolvedGraphCredential } from "../GraphCredentials.js"
import { staticTokenProblem } from "./auth.js"

// Authorities whose instance metadata Entra serves; any other host (a sovereign proxy or a local
// test endpoint) cannot answer instance discovery.
const knownAuthorityHosts = new Set([
  "login.microsoftonline.com",
  "login.microsoftonline.us",
  "login.chinacloudapi.cn",
  "login.partner.microsoftonline.cn",
  "login.microsoftonline.de",
  "login.windows.net",
  "login.microsoft.com",
  "sts.windows.net"
])

/** An environment as a ConfigProvider (unset variables left out). */
export const envProvider = (env: Record<string, string | undefined>): ConfigProvider.ConfigProvider => {
  const map = new Map<string, string>()
  for (const [k, v] of Object.entries(env)) if (v !== undefined) map.set(k, v)
  return ConfigProvider.fromMap(map)
}

/**
 * An optional variable, trimmed. Set but empty is an error, not "unset": a variable someone meant to
 * fill (`GRAPH_ACCESS_TOKEN=$(cat missing-file)`) must not silently switch to another credential.
 */
export const optionalNonEmpty = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(
    Config.mapOrFail(Option.match({
      onNone: () => Either.right(Option.none()),
      onSome: (value) =>
        value.trim() === ""
          ? Either.left(ConfigError.InvalidData([name], `${name} is set but empty: unset it, or give it a value`))
          : Either.right(Option.some(value.trim()))
    }))
  )

// A bearer token is one printable word: what no HTTP header can carry (staticTokenProblem, the
// client's own check) and whitespace both mean the variable holds something else.
export const bearerToken = (name: string): Config.Config<Option.Option<Redacted.Redacted<string>>> =>
  optionalNonEmpty(name).pipe(
    Config.mapOrFail(Option.match({
      onNone: () => Either.right(Option.none()),
      onSome: (token) =>
        staticTokenProblem(token) !== null || /\s/.test(token)
          ? Either.left(
            ConfigError.InvalidData(
              [name],
              `${name} contains whitespace or a control character; a bearer token never does`
            )
          )
          : Either.right(Option.some(Redacted.make(token)))
    }))
  )

/** `AZURE_AUTHORITY_HOST`: an https URL, when set. */
export const authorityHost = optionalNonEmpty("AZURE_AUTHORITY_HOST").pipe(
  Config.mapOrFail((host): Either.Either<Option.Option<string>, ConfigError.ConfigError> => {
    if (Option.isNone(host)) return Either.right(host)
    try {
      const url = new URL(host.value)
      return url.protocol === "https:"
        ? Either.right(host)
        : Either.left(ConfigError.InvalidData(["AZURE_AUTHORITY_HOST"], "AZURE_AUTHORITY_HOST must be an https:// URL"))
    } catch {
      return Either.left(ConfigError.InvalidData(["AZURE_AUTHORITY_HOST"], "AZURE_AUTHORITY_HOST is not a URL"))
    }
  })
)

/** The credential settings named by `GRAPH_ACCESS_TOKEN`, `AZURE_*` and `GRAPH_SCOPE`. */
export const settingsConfig: Config.Config<GraphCredentialSettings> = Config.all({
  token: bearerToken("GRAPH_ACCESS_TOKEN"),
  tenantId: optionalNonEmpty("AZURE_TENANT_ID"),
  clientId: optionalNonEmpty("AZURE_CLIENT_ID"),
  secret: optionalNonEmpty("AZURE_CLIENT_SECRET"),
  certificatePath: optionalNonEmpty("AZURE_CLIENT_CERTIFICATE_PATH"),
  certificatePassword: optionalNonEmpty("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
  authorityHost,
  scope: optionalNonEmpty("GRAPH_SCOPE")
}).pipe(Config.map((c): GraphCredentialSettings => {
  const scope = Option.getOrUndefined(c.scope)
  const authority = Option.getOrUndefined(c.authorityHost)
  if (Option.isSome(c.token)) return { _tag: "StaticToken", token: c.token.value, scope }
  if (Option.isSome(c.tenantId) && Option.isSome(c.clientId) && Option.isSome(c.secret)) {
    return {
      _tag: "ClientSecret",
      tenantId: c.tenantId.value,
      clientId: c.clientId.value,
      secret: Redacted.make(c.secret.value),
      authorityHost: authority,
      scope
    }
  }
  if (Option.isSome(c.tenantId) && Option.isSome(c.clientId) && Option.isSome(c.certificatePath)) {
    return {
      _tag: "ClientCertificate",
      tenantId: c.tenantId.value,
      clientId: c.clientId.value,
      certificatePath: c.certificatePath.value,
      certificatePassword: Option.getOrUndefined(Option.map(c.certificatePassword, Redacted.make)),
      authorityHost: authority,
      scope
    }
  }
  return {
    _tag: "DefaultAzureCredential",
    tenantId: Option.getOrUndefined(c.tenantId),
    clientId: Option.getOrUndefined(c.clientId),
    authorityHost: authority,
    scope
  }
}))

const identityOptions = (authorityHost: string | undefined) =>
  authorityHost === undefined
    ? {}
    : {
      authorityHost,
      ...(knownAuthorityHosts.has(new URL(authorityHost).hostname.toLowerCase())
        ? {}
        : { disableInstanceDiscovery: true })
    }

/** Safe to print: names what was chosen, never a secret. */
export const describe = (settings: GraphCredentialSettings): string => {
  const where = "authorityHost" in settings && settings.authorityHost !== undefined
    ? ` at ${settings.authorityHost}`
    : ""
  switch (settings._tag) {
    case "StaticToken":
      return "static token from GRAPH_ACCESS_TOKEN"
    case "ClientSecret":
      return `client secret for app ${settings.clientId} in tenant ${settings.tenantId}${where}`
    case "ClientCertificate":
      return `client certificate for app ${settings.clientId} in tenant ${settings.tenantId}${where}`
    case "DefaultAzureCredential":
      return `DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI)${where}`
  }
}

const build = (settings: Exclude<GraphCredentialSettings, { _tag: "StaticToken" }>): Effect.Effect<TokenCredential> =>
  // Loaded only when needed: @azure/identity (MSAL) is a large module graph.
  Effect.promise(() => import("@azure/identity")).pipe(Effect.flatMap((identity) =>
    Effect.sync((): TokenCredential => {
      const common = identityOptions(settings.authorityHost)
      switch (settings._tag) {
        case "ClientSecret":
          return new identity.ClientSecretCredential(
            settings.tenantId,
            settings.clientId,
            Redacted.value(settings.secret),
            common
          )
        case "ClientCertificate":
          return new identity.ClientCertificateCredential(settings.tenantId, settings.clientId, {
            certificatePath: settings.certificatePath,
            ...(settings.certificatePassword !== undefined
              ? { certificatePassword: Redacted.value(settings.certificatePassword) }
              : {})
          }, common)
        case "DefaultAzureCredential":
          return new identity.DefaultAzureCredential({
            ...common,
            ...(settings.tenantId !== undefined ? { tenantId: settings.tenantId } : {}),
            ...(settings.clientId !== undefined ? { managedIdentityClientId: settings.clientId } : {})
          })
      }
    })
  ))

export const resolve = (settings: GraphCredentialSettings): Effect.Effect<ResolvedGraphCredential> =>
  Effect.map(
    settings._tag === "StaticToken" ? Effect.succeed<GraphCredential>(settings.token) : build(settings),
    (credential) => ({ credential, scope: settings.scope, description: describe(settings) })
  )
