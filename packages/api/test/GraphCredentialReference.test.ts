/**
 * A tenant's credential by reference, resolved from an environment. Credentials are only constructed
 * here, never asked for a token.
 */
import { ClientCertificateCredential, ClientSecretCredential } from "@azure/identity"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { GraphCredentialReference } from "../src/index.js"

const tenant = (credential: GraphCredentialReference.GraphCredentialReference) => ({
  tenantId: "contoso.onmicrosoft.com",
  clientId: "0b5c7f1e-1111-4aaa-8bbb-2d7cd011db47",
  credential
})

describe("GraphCredentialReference.fromEnv", () => {
  it.effect("reads the variable the reference names, not the ambient AZURE_* / GRAPH_* ones", () =>
    Effect.gen(function*() {
      const env = { CONTOSO_SECRET: " very-secret ", AZURE_CLIENT_SECRET: "other", GRAPH_ACCESS_TOKEN: "t" }
      const secret = yield* GraphCredentialReference.fromEnv(tenant({ clientSecretEnv: "CONTOSO_SECRET" }), env)
      expect(secret.credential).toBeInstanceOf(ClientSecretCredential)
      expect(secret.description).toBe(
        "client secret for app 0b5c7f1e-1111-4aaa-8bbb-2d7cd011db47 in tenant contoso.onmicrosoft.com"
      )
      const token = yield* GraphCredentialReference.fromEnv(tenant({ accessTokenEnv: "CONTOSO_SECRET" }), env)
      expect(Redacted.value(token.credential as Redacted.Redacted<string>)).toBe("very-secret")
    }))

  it.effect("a certificate file that exists on this machine", () =>
    Effect.gen(function*() {
      const pem = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ma-ref-")), "contoso.pem")
      const missing = yield* Effect.flip(GraphCredentialReference.fromEnv(tenant({ certificatePath: pem }), {}))
      expect(missing.message).toBe(`the certificate file ${pem} does not exist on this machine`)
      fs.writeFileSync(pem, "")
      const r = yield* GraphCredentialReference.fromEnv(tenant({ certificatePath: pem }), {})
      expect(r.credential).toBeInstanceOf(ClientCertificateCredential)
    }))

  it.effect("names the variable that is unset, empty or not a token, never its value", () =>
    Effect.gen(function*() {
      const unset = yield* Effect.flip(
        GraphCredentialReference.fromEnv(tenant({ clientSecretEnv: "CONTOSO_SECRET" }), {})
      )
      expect(unset._tag).toBe("TenantCredentialError")
      expect(unset.message).toContain("CONTOSO_SECRET is not set")
      const empty = yield* Effect.flip(
        GraphCredentialReference.fromEnv(tenant({ clientSecretEnv: "CONTOSO_SECRET" }), { CONTOSO_SECRET: " " })
      )
      expect(empty.message).toContain("CONTOSO_SECRET is set but empty")
      const spaced = yield* Effect.flip(
        GraphCredentialReference.fromEnv(tenant({ accessTokenEnv: "TOKEN" }), { TOKEN: "abc def-s3cret" })
      )
      expect(spaced.message).toContain("TOKEN contains whitespace")
      expect(spaced.message).not.toContain("s3cret")
      const password = yield* Effect.flip(
        GraphCredentialReference.fromEnv(tenant({ certificatePath: "/x.pem", certificatePasswordEnv: "PW" }), {})
      )
      expect(password.message).toContain("PW is not set")
    }))
})
