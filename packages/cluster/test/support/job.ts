/** A job whose Graph is never reached (nothing listens on port 9): for tests of the cluster's own machinery. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { JobSpec } from "../../src/ExportWorkflows.js"

export const unreachableJob = (prefix: string): JobSpec => ({
  out: fs.mkdtempSync(path.join(os.tmpdir(), prefix)),
  graphUrl: "http://127.0.0.1:9/v1.0",
  allowInsecureHttp: true,
  sinks: [],
  concurrency: 2,
  requestsPerSecond: 10,
  maxConcurrentRequests: 4,
  metadataContent: false
})
