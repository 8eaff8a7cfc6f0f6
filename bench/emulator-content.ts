/**
 * Serving a 1 GiB recording must not cost the emulator memory: the content is generated per 64 KiB
 * block and streamed with backpressure. The emulator runs in a child process (this script with
 * `--serve`) so its resident set can be read from /proc; the parent downloads the content with fetch,
 * hashing it on the fly, and compares the child's peak RSS during the download with its RSS at idle
 * (the baseline of the same run).
 *
 * Two runs: `bundled` (this file bundled by esbuild and run by plain node, as the emulator would be
 * deployed: the < 100 MB goal applies here) and `tsx` (sources through the tsx loader, as in this
 * workspace: the loader and unshaken modules add ~100 MB at idle, so only the growth is meaningful).
 *
 *   pnpm exec tsx bench/emulator-content.ts [--bytes 1073741824]
 */
import * as NodeChild from "node:child_process"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { bundleForNode, memoryOf } from "./internal/child.js"
import { benchBytes, oneRecordingTenant, recordingContentUrl } from "./internal/tenant.js"

const GOAL_MB = 100
const BYTES = benchBytes()

const serve = async () => {
  const { startEmulator } = await import("@meeting-artifacts/graph-emulator")
  const emu = await startEmulator({
    fixture: oneRecordingTenant(BYTES)
  })
  process.stdout.write(`${JSON.stringify({ baseUrl: emu.baseUrl, token: emu.accessToken })}\n`)
  process.on("SIGTERM", () => void emu.close().then(() => process.exit(0)))
}

const measure = async (mode: string, command: ReadonlyArray<string>) => {
  const child = NodeChild.spawn(process.execPath, [...command, "--serve", "--bytes", String(BYTES)], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  const info = await new Promise<{ baseUrl: string; token: string }>((resolve, reject) => {
    let out = ""
    child.stdout!.on("data", (d) => {
      out += d
      if (out.includes("\n")) resolve(JSON.parse(out.slice(0, out.indexOf("\n"))))
    })
    child.on("exit", (code) => reject(new Error(`emulator exited (${code})`)))
  })
  // let the child settle, then take the idle baseline
  await new Promise((r) => setTimeout(r, 500))
  const idle = memoryOf(child.pid!)

  let peakDuringMb = 0
  const sampler = setInterval(() => {
    peakDuringMb = Math.max(peakDuringMb, memoryOf(child.pid!).rssMb)
  }, 50)
  const started = performance.now()
  const url = recordingContentUrl(info.baseUrl)
  const res = await fetch(url, { headers: { authorization: `Bearer ${info.token}` } })
  if (res.status !== 200) throw new Error(`content request failed: ${res.status}`)
  const hash = NodeCrypto.createHash("sha256")
  let received = 0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    received += chunk.length
    hash.update(chunk)
  }
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  const after = memoryOf(child.pid!)
  child.kill("SIGTERM")

  const peakMb = Math.max(after.peakMb, peakDuringMb)
  return {
    mode,
    bytes: received,
    contentLength: Number(res.headers.get("content-length")),
    complete: received === BYTES,
    sha256: hash.digest("hex"),
    seconds: Number(seconds.toFixed(2)),
    mbPerSecond: Number((received / 1024 / 1024 / seconds).toFixed(1)),
    emulatorIdleRssMb: Number(idle.rssMb.toFixed(1)),
    emulatorPeakRssMb: Number(peakMb.toFixed(1)),
    peakOverIdle: Number((peakMb / idle.rssMb).toFixed(2)),
    growthMb: Number((peakMb - idle.rssMb).toFixed(1))
  }
}

const main = async () => {
  const bundled = bundleForNode(fileURLToPath(import.meta.url))
  const runs = [
    await measure("bundled", [bundled]),
    await measure("tsx", [...process.execArgv, process.argv[1]!])
  ]
  NodeFs.rmSync(NodePath.dirname(bundled), { recursive: true, force: true })
  const goal = runs[0]!
  const report = {
    goal: `bundled emulator peak RSS < ${GOAL_MB} MB while serving ${(BYTES / 1024 ** 3).toFixed(2)} GiB`,
    pass: runs.every((r) => r.complete) && goal.emulatorPeakRssMb < GOAL_MB,
    runs
  }
  console.log(JSON.stringify(report, null, 2))
  process.exitCode = report.pass ? 0 : 1
}

if (process.argv.includes("--serve")) void serve()
else void main()
