/**
 * Starts Postgres (unless MA_TEST_PG_URL is set) and Azurite (unless
 * MA_TEST_AZURITE_CONNECTION_STRING is set) once for the sinks tests and
 * provides their URLs. A server that can't start fails the run.
 */
import type { TestProject } from "vitest/node"
import { type RunningServer, startAzurite, startPostgres } from "./support/servers.js"

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string
    azuriteConnectionString: string
  }
}

export default async function setup(project: TestProject) {
  const started: Array<RunningServer> = []
  try {
    const pg = process.env.MA_TEST_PG_URL ? undefined : await startPostgres()
    if (pg) started.push(pg)
    const az = process.env.MA_TEST_AZURITE_CONNECTION_STRING ? undefined : await startAzurite()
    if (az) started.push(az)
    project.provide("pgUrl", process.env.MA_TEST_PG_URL ?? pg!.url)
    project.provide("azuriteConnectionString", process.env.MA_TEST_AZURITE_CONNECTION_STRING ?? az!.url)
  } catch (e) {
    await Promise.all(started.map((s) => s.stop()))
    throw e
  }
  return async () => {
    await Promise.all(started.map((s) => s.stop()))
  }
}
