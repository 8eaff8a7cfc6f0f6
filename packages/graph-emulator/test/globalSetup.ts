/**
 * Provides the test CA before any test worker starts and exports NODE_EXTRA_CA_CERTS, which Node reads
 * only at process start: the forked workers then trust the emulator's HTTPS listeners (token endpoint,
 * TLS Graph listener), exactly as a user's process would.
 * The CA lives in a fixed temp directory reused across runs (created atomically), so nothing is left
 * behind per run and no process ever points at a deleted file.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { createTestCa, type TestCa } from "../src/TokenEndpoint.js"

const MAX_AGE_MS = 200 * 86_400_000

export default async function setup() {
  const dir = NodePath.join(NodeOs.tmpdir(), "meeting-artifacts-graph-emulator-test-ca")
  const ca: TestCa = { caFile: NodePath.join(dir, "ca.pem"), keyFile: NodePath.join(dir, "ca-key.pem") }
  const fresh = NodeFs.existsSync(ca.keyFile) && Date.now() - NodeFs.statSync(ca.caFile).mtimeMs < MAX_AGE_MS
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
  process.env.NODE_EXTRA_CA_CERTS = ca.caFile
  process.env.GRAPH_EMULATOR_TEST_CA = JSON.stringify(ca)
}
