/**
 * NODE_EXTRA_CA_CERTS is read only at process start, so the test CA for the emulator's HTTPS token
 * endpoint is provided here, before the test workers fork; they then trust it like a user's process would.
 */
import { sharedTestCa } from "@meeting-artifacts/graph-emulator"

export default async function setup() {
  const ca = await sharedTestCa()
  process.env.NODE_EXTRA_CA_CERTS = ca.caFile
  process.env.GRAPH_EMULATOR_TEST_CA = JSON.stringify(ca)
}
