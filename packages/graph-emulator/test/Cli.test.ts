/**
 * `meeting-artifacts emulator` as users run it: a child process printing KEY=value lines, serving until
 * a signal stops it.
 */
import * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeHttps from "node:https"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { createTestCa } from "../src/index.js"
import { docTenant, MEETING3, ORGANIZER3 } from "./helpers.js"
import { startReceiver } from "./notificationReceiver.js"

const bin = NodePath.resolve(NodePath.dirname(fileURLToPath(import.meta.url)), "../../cli/bin/meeting-artifacts.mjs")

const children = new Set<NodeChild.ChildProcess>()

// a failed assertion must not leave a server running
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  children.clear()
})

const spawnEmulator = (args: ReadonlyArray<string>) => {
  const child = NodeChild.spawn(process.execPath, [bin, "emulator", ...args], { stdio: ["ignore", "pipe", "pipe"] })
  children.add(child)
  let stdout = ""
  let stderr = ""
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const ready = new Promise<Record<string, string>>((resolve, reject) => {
    // ready once stdout has its lines and stderr its summary (they arrive on separate pipes)
    const check = () => {
      if (stdout.includes("GRAPH_ACCESS_TOKEN=") && stdout.endsWith("\n") && stderr.includes("stop with")) {
        resolve(
          Object.fromEntries(
            stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])
          )
        )
      }
    }
    child.stdout.on("data", (d) => {
      stdout += d
      check()
    })
    child.stderr.on("data", (d) => {
      stderr += d
      check()
    })
    child.on("exit", (code) => reject(new Error(`emulator exited early (${code}): ${stderr}`)))
  })
  return { child, ready, exited, stderr: () => stderr, stdout: () => stdout }
}

describe("meeting-artifacts emulator", () => {
  it("serves a fixture, prints GRAPH_BASE_URL and GRAPH_ACCESS_TOKEN, stops cleanly on SIGTERM", async () => {
    const emu = spawnEmulator(["--fixture", docTenant, "--port", "0", "--faults", "none"])
    const env = await emu.ready
    expect(Object.keys(env)).toEqual(["GRAPH_BASE_URL", "GRAPH_ACCESS_TOKEN"])
    expect(env.GRAPH_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\.0$/)
    const res = await fetch(`${env.GRAPH_BASE_URL}/users/${ORGANIZER3}/onlineMeetings/${MEETING3}/recordings`, {
      headers: { authorization: `Bearer ${env.GRAPH_ACCESS_TOKEN}` }
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as any).value).toHaveLength(1)
    emu.child.kill("SIGTERM")
    const code = await emu.exited
    // interrupted by the signal: the CLI's runtime reports 130, never an error code
    expect([0, 130, 143]).toContain(code)
    expect(emu.stderr()).not.toMatch(/unexpected failure|Error/)
    await expect(fetch(env.GRAPH_BASE_URL)).rejects.toThrow()
  })

  it("generates a tenant with --generate, prints the token endpoint settings, stops on SIGINT", async () => {
    const emu = spawnEmulator([
      "--generate",
      "organizers=2,meetings=2,seed=9",
      "--faults",
      "throttled",
      "--token-endpoint"
    ])
    const env = await emu.ready
    expect(Object.keys(env)).toEqual([
      "GRAPH_BASE_URL",
      "GRAPH_ACCESS_TOKEN",
      "AZURE_AUTHORITY_HOST",
      "AZURE_TENANT_ID",
      "AZURE_CLIENT_ID",
      "AZURE_CLIENT_SECRET",
      "NODE_EXTRA_CA_CERTS"
    ])
    const caFile = env.NODE_EXTRA_CA_CERTS!
    expect(NodeFs.existsSync(caFile)).toBe(true)
    expect(emu.stderr()).toContain("2 users, 4 meetings")
    const counters = await fetch(`${new URL(env.GRAPH_BASE_URL!).origin}/_emulator/counters`)
    expect(counters.status).toBe(200)
    emu.child.kill("SIGINT")
    expect([0, 130]).toContain(await emu.exited)
    // the CA it created is removed with it
    expect(NodeFs.existsSync(caFile)).toBe(false)
  })

  it("--tls serves Graph over HTTPS with a certificate from the printed CA", async () => {
    const emu = spawnEmulator(["--generate", "organizers=1,meetings=1,seed=2", "--tls"])
    const env = await emu.ready
    expect(env.GRAPH_BASE_URL).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0$/)
    const ca = NodeFs.readFileSync(env.NODE_EXTRA_CA_CERTS!)
    const body = await new Promise<string>((resolve, reject) => {
      NodeHttps.get(
        `${env.GRAPH_BASE_URL}/me`,
        { ca, headers: { authorization: `Bearer ${env.GRAPH_ACCESS_TOKEN}` } },
        (res) => {
          let text = ""
          res.on("data", (d) => (text += d))
          res.on("end", () => resolve(text))
        }
      ).on("error", reject)
    })
    expect(JSON.parse(body)["@odata.context"]).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/\$metadata#users/)
    emu.child.kill("SIGTERM")
    await emu.exited
  })

  it("passes --notification-ca, --allow-http-notifications and --notification-faults to the emulator", async () => {
    const otherCa = await createTestCa()
    const dir = NodePath.dirname(otherCa.caFile)
    const faultsFile = NodePath.join(dir, "faults.json")
    NodeFs.writeFileSync(faultsFile, JSON.stringify({ rules: [{ fault: "missed", probability: 1, limit: 1 }] }))
    const notify = await startReceiver(otherCa)
    const lifecycle = await startReceiver("http")
    const emu = spawnEmulator([
      "--fixture",
      docTenant,
      "--notification-ca",
      otherCa.caFile,
      "--allow-http-notifications",
      "--notification-faults",
      faultsFile
    ])
    try {
      const env = await emu.ready
      const origin = new URL(env.GRAPH_BASE_URL!).origin
      const token = ((await (await fetch(`${origin}/_emulator/tokens`, { method: "POST" })).json()) as any).access_token
      const created = await fetch(`${env.GRAPH_BASE_URL}/subscriptions`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          changeType: "created",
          // https with a certificate only --notification-ca makes trusted; http only with --allow-http-notifications
          notificationUrl: `${notify.origin}/n`,
          lifecycleNotificationUrl: `${lifecycle.origin}/l`,
          resource: "communications/onlineMeetings/getAllRecordings",
          expirationDateTime: new Date(Date.now() + 2 * 3600_000).toISOString()
        })
      })
      expect(created.status).toBe(201)
      const added = await fetch(`${origin}/_emulator/recordings`, {
        method: "POST",
        body: JSON.stringify({
          meetingId: MEETING3,
          recording: { id: "cli-rec", createdDateTime: "2024-01-01T00:00:00Z", content: { bytes: 1, seed: 1 } }
        })
      })
      expect(added.status).toBe(201)
      // the faults file: the notification is missed, a missed lifecycle event says so
      const missed = await lifecycle.waitFor((r) => r.path === "/l" && r.body.includes("lifecycleEvent"))
      expect(JSON.parse(missed.body).value[0].lifecycleEvent).toBe("missed")
      expect(notify.notifications("/n")).toEqual([])
    } finally {
      emu.child.kill("SIGTERM")
      await emu.exited
      await notify.close()
      await lifecycle.close()
      NodeFs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("rejects bad arguments with one line and exit code 2", async () => {
    const emu = spawnEmulator(["--generate", "organizers=x"])
    await expect(emu.ready).rejects.toThrow(/must be a non-negative number/)
    expect(await emu.exited).toBe(2)
    expect(emu.stderr().trim().split("\n")).toHaveLength(1)
    const faults = spawnEmulator(["--generate", "organizers=1", "--notification-faults", "/nonexistent/faults.json"])
    await expect(faults.ready).rejects.toThrow(/--notification-faults/)
    expect(await faults.exited).toBe(2)
  })
})
