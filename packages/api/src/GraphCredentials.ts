/**
 * Which credential a Graph client authenticates with, resolved from configuration: the one rule
 * shared by `GraphClient.layerConfig` and the `meeting-artifacts` CLI.
 *
 * 1. `GRAPH_ACCESS_TOKEN`: a static bearer token;
 * 2. else `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`: `ClientSecretCredential`;
 * 3. else `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_CERTIFICATE_PATH` (optional
 *    `AZURE_CLIENT_CERTIFICATE_PASSWORD`): `ClientCertificateCredential`;
 * 4. else `DefaultAzureCredential` (environment, workload identity, managed identity — a
 *    user-assigned one with `AZURE_CLIENT_ID` —, Azure CLI, ...; `AZURE_TOKEN_CREDENTIALS` narrows
 *    its chain, as `@azure/identity` documents).
 *
 * `AZURE_AUTHORITY_HOST` selects the Entra authority (national clouds, or a local Entra-compatible
 * endpoint: instance discovery is skipped for hosts that are not Microsoft's). `GRAPH_SCOPE`
 * overrides the token scope. A variable that is set but empty is a `ConfigError`, never a silent
 * fall-through to the next credential; so is a token with whitespace or control characters in it.
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type { GraphCredential } from "./GraphClient.js"
import * as internal from "./internal/credentials.js"

/** What the configuration asks for (secrets `Redacted`); `scope` is `GRAPH_SCOPE` when set. */
export type GraphCredentialSettings =
  | { readonly _tag: "StaticToken"; readonly token: Redacted.Redacted<string>; readonly scope: string | undefined }
  | {
    readonly _tag: "ClientSecret"
    readonly tenantId: string
    readonly clientId: string
    readonly secret: Redacted.Redacted<string>
    readonly authorityHost: string | undefined
    readonly scope: string | undefined
  }
  | {
    readonly _tag: "ClientCertificate"
    readonly tenantId: string
    readonly clientId: string
    readonly certificatePath: string
    readonly certificatePassword: Redacted.Redacted<string> | undefined
    readonly authorityHost: string | undefined
    readonly scope: string | undefined
  }
  | {
    readonly _tag: "DefaultAzureCredential"
    readonly tenantId: string | undefined
    readonly clientId: string | undefined
    readonly authorityHost: string | undefined
    readonly scope: string | undefined
  }

/** A credential ready for `GraphClientOptions`. */
export interface ResolvedGraphCredential {
  readonly credential: GraphCredential
  /** `GRAPH_SCOPE` when set; otherwise the client derives the scope from its base URL. */
  readonly scope: string | undefined
  /** What was chosen, safe to print (never contains a secret). */
  readonly description: string
}

/** The settings, read from the current `ConfigProvider` (the environment by default). */
export const config: Config.Config<GraphCredentialSettings> = internal.settingsConfig

/** Builds the credential the settings name (loads `@azure/identity` only for its credentials). */
export const make: (settings: GraphCredentialSettings) => Effect.Effect<ResolvedGraphCredential> = internal.resolve

/** Safe to print: names what the settings choose, never a secret. */
export const describe: (settings: GraphCredentialSettings) => string = internal.describe

/** Resolves the credential from the current `ConfigProvider`. */
export const fromConfig: Effect.Effect<ResolvedGraphCredential, ConfigError.ConfigError> = Effect.flatMap(config, make)

/** Resolves the credential from an environment (default `process.env`). */
export const fromEnv = (
  env: Record<string, string | undefined> = process.env
): Effect.Effect<ResolvedGraphCredential, ConfigError.ConfigError> =>
  Effect.withConfigProvider(fromConfig, internal.envProvider(env))

/** `GRAPH_BASE_URL`, optional (the client's default applies when unset). */
export const baseUrlConfig: Config.Config<string | undefined> = internal.optionalNonEmpty("GRAPH_BASE_URL").pipe(
  Config.map(Option.getOrUndefined)
)
