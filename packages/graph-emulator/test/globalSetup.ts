/**
 * Provides the test CA before any test worker starts and exports NODE_EXTRA_CA_CERTS, which Node reads
 * only at process start: the forked workers then trust the emulator's HTTPS listeners (token endpoint,
 * TLS Graph listener), exactly as a user's process would.
 */
import { sharedTestCa } from "../src/TokenEndpoint.js"

export default async function setup() {
  const ca = await sharedTestCa()
  process.env.NODE_EXTRA_CA_CERTS = ca.caFile
  process.env.GRAPH_EMULATOR_TEST_CA = JSON.stringify(ca)
}
