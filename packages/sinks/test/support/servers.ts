/**
 * Real servers for the tests and benches: a throwaway Postgres cluster (via
 * scripts/postgres.sh) and Azurite's blob service from node_modules, each on a
 * free loopback port in a temp folder. Failing to start is an error, never a skip.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process"
import { createRequire } from "node:module"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, "../../../..")
const postgresScript = path.join(repoRoot, "scripts/postgres.sh")

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })

const run = (cmd: string, args: Array<string>): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(
      cmd,
      args,
      { timeout: 120_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}`)) : resolve(stdout)
    )
  )

export interface RunningServer {
  readonly url: string
  readonly stop: () => Promise<void>
}

export interface RunningPostgres extends RunningServer {
  /**
   * Stops the server as a crash would (`-m immediate`: every connection cut, no checkpoint), awaits
   * `whileDown`, and starts it again on the same port and data folder: what clients see of a database
   * restart or failover.
   */
  readonly restart: (whileDown?: () => Promise<void>) => Promise<void>
}

/** Start a throwaway Postgres cluster; returns its URL. */
export const startPostgres = async (): Promise<RunningPostgres> => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "ma-sinks-pg-"))
  const dir = path.join(base, "data")
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    try {
      const out = await run("bash", [postgresScript, "start", dir, String(port)])
      const url = out.trim().split("\n").pop()!
      return {
        url,
        restart: async (whileDown) => {
          await run("bash", [postgresScript, "stop", dir])
          await whileDown?.()
          await run("bash", [postgresScript, "start", dir, String(port)])
        },
        stop: async () => {
          await run("bash", [postgresScript, "stop", dir]).catch(() => undefined)
          fs.rmSync(base, { recursive: true, force: true })
        }
      }
    } catch (e) {
      lastError = e // port taken between probe and bind: try another
    }
  }
  fs.rmSync(base, { recursive: true, force: true })
  throw new Error(`could not start Postgres with ${postgresScript}: ${String(lastError)}`)
}

export const AZURITE_ACCOUNT = "devstoreaccount1"
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

export const azuriteConnectionString = (port: number) =>
  `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
  `BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`

const azuriteMain = (): string => {
  const require = createRequire(path.join(here, "../../package.json"))
  return path.join(path.dirname(require.resolve("azurite/package.json")), "dist/src/blob/main.js")
}

const waitForPort = async (port: number, child: ChildProcess, log: () => string, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Azurite exited with ${child.exitCode}: ${log()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1")
      s.once("connect", () => {
        s.destroy()
        resolve(true)
      })
      s.once("error", () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`Azurite did not listen on ${port} within ${timeoutMs} ms: ${log()}`)
}

/** Start Azurite's blob service (disk-backed in a temp folder); returns its connection string as `url`. */
export const startAzurite = async (): Promise<RunningServer> => {
  const location = fs.mkdtempSync(path.join(os.tmpdir(), "ma-sinks-azurite-"))
  const port = await freePort()
  let output = ""
  const child = spawn(process.execPath, [
    azuriteMain(),
    "--blobHost",
    "127.0.0.1",
    "--blobPort",
    String(port),
    "--location",
    location,
    "--skipApiVersionCheck",
    "--disableTelemetry",
    "--loose",
    "--silent"
  ], { stdio: ["ignore", "pipe", "pipe"] })
  child.stdout!.on("data", (d) => (output += String(d)).slice(-4000))
  child.stderr!.on("data", (d) => (output += String(d)).slice(-4000))
  try {
    await waitForPort(port, child, () => output)
  } catch (e) {
    child.kill("SIGKILL")
    fs.rmSync(location, { recursive: true, force: true })
    throw e
  }
  return {
    url: azuriteConnectionString(port),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r))
        child.kill("SIGTERM")
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
        if (child.exitCode === null) child.kill("SIGKILL")
      }
      fs.rmSync(location, { recursive: true, force: true })
    }
  }
}
