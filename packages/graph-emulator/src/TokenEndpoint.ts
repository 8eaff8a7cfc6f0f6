/**
 * An Entra-compatible token endpoint over HTTPS: OIDC discovery and the v2.0 token endpoint with the
 * client-credentials grant, enough for a real `@azure/identity` `ClientSecretCredential` configured with
 * `authorityHost` = the endpoint's origin, `disableInstanceDiscovery: true`, and `NODE_EXTRA_CA_CERTS`
 * pointing at the CA file.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as selfsigned from "selfsigned"

export interface TestCa {
  /** PEM certificate of the CA: point NODE_EXTRA_CA_CERTS at it */
  readonly caFile: string
  /** PEM private key of the CA (lets later emulators sign their server certificates with it) */
  readonly keyFile: string
}

/**
 * Creates a CA in `dir` (default: a new temp directory). Create it BEFORE starting the Node process that
 * must trust it (NODE_EXTRA_CA_CERTS is read at process start), e.g. in a vitest globalSetup.
 */
export const createTestCa = async (dir?: string): Promise<TestCa> => {
  const target = dir ?? NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "graph-emulator-ca-"))
  NodeFs.mkdirSync(target, { recursive: true })
  const ca = await selfsigned.generate([{ name: "commonName", value: "meeting-artifacts graph-emulator test CA" }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 365 * 86_400_000),
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
    ]
  })
  const caFile = NodePath.join(target, "ca.pem")
  const keyFile = NodePath.join(target, "ca-key.pem")
  NodeFs.writeFileSync(keyFile, ca.private, { mode: 0o600 })
  NodeFs.writeFileSync(caFile, ca.cert)
  return { caFile, keyFile }
}

/**
 * The CA in a fixed directory (default: `meeting-artifacts-graph-emulator-test-ca` under the temp
 * directory), created once and reused while younger than 200 days. Creation is atomic (staged, then
 * renamed), so parallel test runs share one CA and no process ever trusts a file that is later replaced.
 * Made for test setups that export NODE_EXTRA_CA_CERTS before their workers start.
 */
export const sharedTestCa = async (
  dir: string = NodePath.join(NodeOs.tmpdir(), "meeting-artifacts-graph-emulator-test-ca")
): Promise<TestCa> => {
  const ca: TestCa = { caFile: NodePath.join(dir, "ca.pem"), keyFile: NodePath.join(dir, "ca-key.pem") }
  const fresh = NodeFs.existsSync(ca.keyFile) && Date.now() - NodeFs.statSync(ca.caFile).mtimeMs < 200 * 86_400_000
  if (!fresh) {
    const staged = await createTestCa(NodeFs.mkdtempSync(`${dir}-staging-`))
    NodeFs.rmSync(dir, { recursive: true, force: true })
    try {
      NodeFs.renameSync(NodePath.dirname(staged.caFile), dir)
    } catch {
      // another run won the race: use its CA
      NodeFs.rmSync(NodePath.dirname(staged.caFile), { recursive: true, force: true })
    }
  }
  return ca
}

/** @internal a server certificate for 127.0.0.1/localhost signed by the CA */
export const serverCertificate = async (ca: TestCa): Promise<{ key: string; cert: string }> => {
  const leaf = await selfsigned.generate([{ name: "commonName", value: "127.0.0.1" }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 30 * 86_400_000),
    ca: { key: NodeFs.readFileSync(ca.keyFile, "utf8"), cert: NodeFs.readFileSync(ca.caFile, "utf8") },
    extensions: [
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }, { type: 2, value: "localhost" }] },
      { name: "extKeyUsage", serverAuth: true },
      { name: "basicConstraints", cA: false }
    ]
  })
  return { key: leaf.private, cert: leaf.cert }
}

export interface TokenEndpointOptions {
  /** reuse this CA (both files must exist); otherwise a new CA is created in a temp directory */
  readonly ca?: TestCa
  /** default: a GUID-like fixed id */
  readonly clientId?: string
  /** default: a random secret */
  readonly clientSecret?: string
}

/** Where a `ClientSecretCredential` finds the emulator's token endpoint. */
export interface Authority {
  /** `https://127.0.0.1:PORT`: the credential's `authorityHost` (and AZURE_AUTHORITY_HOST) */
  readonly authorityHost: string
  /** PEM CA file: NODE_EXTRA_CA_CERTS for the process that runs the credential */
  readonly caFile: string
  readonly tenantId: string
  readonly clientId: string
  readonly clientSecret: string
}
