/**
 * The HTTPS Entra-compatible endpoint app.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as NodeCrypto from "node:crypto"
import type { MutableCounters } from "../Counters.js"
import { signToken } from "./tokens.js"
import { jwks, type SigningKey } from "./validationTokens.js"

export interface TokenEndpointRuntime {
  readonly tenantId: string
  readonly clientId: string
  readonly clientSecret: string
  readonly secret: Buffer
  readonly ttlSeconds: () => number
  readonly authority: () => string
  readonly counters: MutableCounters
  /** the key of change-notification validation tokens, published at `jwks_uri` */
  readonly signingKey: () => SigningKey
}

const aadError = (status: number, error: string, code: number, description: string) => {
  const traceId = NodeCrypto.randomUUID()
  const correlationId = NodeCrypto.randomUUID()
  return HttpServerResponse.unsafeJson(
    {
      error,
      error_description:
        `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${
          new Date().toISOString()
        }`,
      error_codes: [code],
      timestamp: new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"),
      trace_id: traceId,
      correlation_id: correlationId
    },
    { status }
  )
}

export const tokenEndpointApp = (rt: TokenEndpointRuntime) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = new URL(request.url, "https://127.0.0.1")
    const parts = url.pathname.split("/").filter((s) => s.length > 0)
    const authority = rt.authority()
    const tenantOk = (t: string | undefined) =>
      t !== undefined && (t.toLowerCase() === rt.tenantId.toLowerCase() || t === "organizations" || t === "common")
    const tid = rt.tenantId

    if (request.method === "GET" && parts.at(-1) === "openid-configuration") {
      if (!tenantOk(parts[0])) return aadError(400, "invalid_tenant", 90002, `Tenant '${parts[0]}' not found.`)
      return HttpServerResponse.unsafeJson({
        token_endpoint: `${authority}/${tid}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        jwks_uri: `${authority}/${tid}/discovery/v2.0/keys`,
        response_modes_supported: ["query", "fragment", "form_post"],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: ["RS256"],
        response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
        scopes_supported: ["openid", "profile", "email", "offline_access"],
        issuer: `${authority}/${tid}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: "https://graph.microsoft.com/oidc/userinfo",
        authorization_endpoint: `${authority}/${tid}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${authority}/${tid}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${authority}/${tid}/oauth2/v2.0/logout`,
        claims_supported: ["sub", "iss", "aud", "exp", "iat", "nonce", "tid", "oid"],
        kerberos_endpoint: `${authority}/${tid}/kerberos`,
        tenant_region_scope: "EU",
        cloud_instance_name: "microsoftonline.com",
        cloud_graph_host_name: "graph.windows.net",
        msgraph_host: "graph.microsoft.com",
        rbac_url: "https://pas.windows.net"
      })
    }

    // signing keys (`jwks_uri`): the key validation tokens of change notifications are signed with
    if (request.method === "GET" && parts[1] === "discovery" && parts.at(-1) === "keys") {
      if (!tenantOk(parts[0])) return aadError(400, "invalid_tenant", 90002, `Tenant '${parts[0]}' not found.`)
      return HttpServerResponse.unsafeJson(jwks(rt.signingKey()))
    }

    if (request.method === "GET" && parts[0] === "common" && parts[1] === "discovery") {
      const host = new URL(authority).host
      return HttpServerResponse.unsafeJson({
        tenant_discovery_endpoint: `${authority}/${tid}/v2.0/.well-known/openid-configuration`,
        "api-version": "1.1",
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }]
      })
    }

    if (request.method === "POST" && parts[1] === "oauth2" && parts.at(-1) === "token") {
      if (!tenantOk(parts[0])) return aadError(400, "invalid_tenant", 90002, `Tenant '${parts[0]}' not found.`)
      const text = yield* request.text
      const form = new URLSearchParams(text)
      let clientId = form.get("client_id")
      let clientSecret = form.get("client_secret")
      const basic = request.headers["authorization"]
      if (basic?.toLowerCase().startsWith("basic ")) {
        const [id, secret] = Buffer.from(basic.slice(6), "base64").toString("utf8").split(":", 2)
        clientId = decodeURIComponent(id ?? "")
        clientSecret = decodeURIComponent(secret ?? "")
      }
      if (form.get("grant_type") !== "client_credentials") {
        return aadError(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
      }
      if (clientId !== rt.clientId) {
        return aadError(
          400,
          "unauthorized_client",
          700016,
          `Application with identifier '${clientId}' was not found in the directory.`
        )
      }
      if (clientSecret !== rt.clientSecret) {
        return aadError(401, "invalid_client", 7000215, "Invalid client secret provided.")
      }
      const scope = form.get("scope") ?? ""
      if (!scope.split(" ").some((s) => s.endsWith("/.default"))) {
        return aadError(
          400,
          "invalid_scope",
          1002012,
          "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier."
        )
      }
      const ttl = rt.ttlSeconds()
      const now = Math.floor(Date.now() / 1000)
      const token = signToken(rt.secret, {
        aud: "https://graph.microsoft.com",
        iss: `https://sts.windows.net/${tid}/`,
        tid,
        iat: now,
        nbf: now,
        exp: now + ttl,
        appid: rt.clientId,
        roles: ["OnlineMeetingRecording.Read.All", "OnlineMeetingTranscript.Read.All"]
      })
      rt.counters.tokensIssued++
      return HttpServerResponse.unsafeJson({
        token_type: "Bearer",
        expires_in: ttl,
        ext_expires_in: ttl,
        access_token: token
      })
    }
    return aadError(404, "not_found", 90000, "Not found.")
  })
