/**
 * NODE_EXTRA_CA_CERTS is read only at process start, so the test CA for the emulator's HTTPS token
 * endpoint is made here, before the test workers fork; they then trust it like a user's process would.
 * Same fixed directory (and the same atomic creation) as the graph-emulator package's tests: one CA.
 */
import { createTestCa, type TestCa } from "@meeting-artifacts/graph-emulator"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

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
      NodeFs.rmSync(NodePath.dirname(staged.caFile), { recursive: true, force: true })
    }
  }
  process.env.NODE_EXTRA_CA_CERTS = ca.caFile
  process.env.GRAPH_EMULATOR_TEST_CA = JSON.stringify(ca)
}
