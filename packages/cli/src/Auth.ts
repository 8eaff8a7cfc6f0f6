/**
 * How `sync` authenticates: `GRAPH_ACCESS_TOKEN` as a static bearer token if
 * set, otherwise an `@azure/identity` credential chosen from the usual
 * `AZURE_*` variables, honouring `AZURE_AUTHORITY_HOST` (national clouds, or a
 * local Entra-compatible token endpoint).
 */
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  type TokenCredential
} from "@azure/identity"
import * as Redacted from "effect/Redacted"

export type GraphCredential = Redacted.Redacted<string> | TokenCredential

export interface ResolvedCredential {
  readonly credential: GraphCredential
  /** What was chosen, safe to print (never contains a secret). */
  readonly description: string
}

// Authorities whose instance metadata Entra serves; any other host (a sovereign
// proxy or a local test endpoint) cannot answer instance discovery.
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

const nonEmpty = (value: string | undefined): string | undefined =>
  value !== undefined && value.trim() !== "" ? value.trim() : undefined

/**
 * Picks the credential from an environment (defaults to `process.env`).
 * Synchronous and side-effect free apart from constructing the credential.
 */
export const resolveCredential = (
  env: Record<string, string | undefined> = process.env
): ResolvedCredential => {
  const token = nonEmpty(env.GRAPH_ACCESS_TOKEN)
  if (token !== undefined) {
    return { credential: Redacted.make(token), description: "static token from GRAPH_ACCESS_TOKEN" }
  }
  const authorityHost = nonEmpty(env.AZURE_AUTHORITY_HOST)
  let disableInstanceDiscovery = false
  if (authorityHost !== undefined) {
    try {
      disableInstanceDiscovery = !knownAuthorityHosts.has(new URL(authorityHost).hostname.toLowerCase())
    } catch {
      disableInstanceDiscovery = true
    }
  }
  const common = {
    ...(authorityHost !== undefined ? { authorityHost } : {}),
    ...(disableInstanceDiscovery ? { disableInstanceDiscovery: true } : {})
  }
  const tenantId = nonEmpty(env.AZURE_TENANT_ID)
  const clientId = nonEmpty(env.AZURE_CLIENT_ID)
  const secret = nonEmpty(env.AZURE_CLIENT_SECRET)
  const certPath = nonEmpty(env.AZURE_CLIENT_CERTIFICATE_PATH)
  const where = authorityHost !== undefined ? ` at ${authorityHost}` : ""
  if (tenantId !== undefined && clientId !== undefined && secret !== undefined) {
    return {
      credential: new ClientSecretCredential(tenantId, clientId, secret, common),
      description: `client secret for app ${clientId} in tenant ${tenantId}${where}`
    }
  }
  if (tenantId !== undefined && clientId !== undefined && certPath !== undefined) {
    const certificatePassword = nonEmpty(env.AZURE_CLIENT_CERTIFICATE_PASSWORD)
    return {
      credential: new ClientCertificateCredential(
        tenantId,
        clientId,
        { certificatePath: certPath, ...(certificatePassword !== undefined ? { certificatePassword } : {}) },
        common
      ),
      description: `client certificate for app ${clientId} in tenant ${tenantId}${where}`
    }
  }
  return {
    credential: new DefaultAzureCredential({
      ...common,
      ...(tenantId !== undefined ? { tenantId } : {}),
      ...(clientId !== undefined ? { managedIdentityClientId: clientId } : {})
    }),
    description: `DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI)${where}`
  }
}

/**
 * The token scope for a Graph base URL: `https://<graph host>/.default` for
 * Microsoft's Graph hosts (national clouds included), otherwise the global
 * Graph scope (an emulator or proxy accepts what real Graph would).
 */
export const scopeFor = (graphUrl: string): string => {
  try {
    const host = new URL(graphUrl).hostname.toLowerCase()
    if (/^(graph\.microsoft\.(com|us)|dod-graph\.microsoft\.us|microsoftgraph\.chinacloudapi\.cn)$/.test(host)) {
      return `https://${host}/.default`
    }
  } catch {
    // validated elsewhere
  }
  return "https://graph.microsoft.com/.default"
}
