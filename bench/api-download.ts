/**
 * Downloading a 1 GiB recording through `GraphClient.recordingContent` must take constant memory
 * (goal: peak RSS of the downloading process under 150 MB) and keep up with `curl` on the same URL.
 *
 * The emulator runs in this process; the API download runs in a child process (this script with
 * `--child`) so its peak RSS is its own: read from process.resourceUsage().maxRSS and /proc VmHWM.
 * The child runs this script bundled by esbuild (tsx's own dependency) under plain `node`, as
 * production code would run compiled: under tsx, the TypeScript loader's worker thread alone adds
 * ~30 MB and the loaded sources more, which would measure the dev loader rather than the client.
 * curl then downloads the same URL (to /dev/null) in the same run, as the throughput baseline, and
 * Node's own fetch (same child setup, no Effect) is shown for reference: the client's overhead is
 * the gap between the two Node rows, the rest is Node's HTTP stack against curl.
 * The token goes to curl through a config file on stdin, never on a command line or in output.
 *
 * Each child also reports where its memory was at its highest sampled RSS (V8 heap, external Buffers),
 * and a raw node:http download (no Effect) runs in the same child setup: with ~63 MB of idle RSS for
 * the loaded bundle, that floor is what Node's own HTTP stack costs, so the client is judged against it.
 *
 * (GraphClient.layer runs on node:http: on undici, as before, the same download peaked ~10 MB higher
 * and undici's llhttp WebAssembly alone adds ~6 MB of idle RSS.)
 *
 * `drain` is the same download consumed through `Content.drain` (chunks handed over inside the socket's
 * reads) instead of `Content.stream`.
 *
 *   pnpm exec tsx bench/api-download.ts [--bytes 1073741824] [--rounds 2] [--modes api,drain,http,fetch]
 */
import * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { bundleForNode, memoryOf, runChildJson, runMainOrChild } from "./internal/child.js"
import {
  argValue,
  benchBytes,
  MEETING,
  oneRecordingTenant,
  ORGANIZER,
  RECORDING,
  recordingContentUrl
} from "./internal/tenant.js"

const GOAL_MB = 150
const BYTES = benchBytes()
const CHILD_FLAGS = (argValue("--child-flags") ?? "").split(" ").filter(Boolean)
const ROUNDS = Number(argValue("--rounds") ?? 2)
type Mode = "api" | "drain" | "http" | "fetch"
const LABELS: Record<Mode, string> = {
  api: "GraphClient.recordingContent",
  drain: "recordingContent, Content.drain",
  http: "node:http, no Effect (reference)",
  fetch: "node fetch/undici, no Effect (ref.)"
}
/** `--modes api,drain,http,fetch` (default): which downloads run each round */
const MODES = (argValue("--modes") ?? "api,drain,http,fetch").split(",").filter((m): m is Mode => m in LABELS)

const peakFromProc = () => memoryOf().peakMb

/** For comparison only (BENCH_MODE=fetch): Node's own fetch on the same URL, no Effect. */
const rawFetch = async (baseUrl: string, token: string) => {
  const url = recordingContentUrl(baseUrl)
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
  let n = 0
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) n += c.length
  return n
}

/** For comparison only (BENCH_MODE=http): node:http, 'data' events, no Effect. */
const rawHttp = async (baseUrl: string, token: string) => {
  const NodeHttp = await import("node:http")
  const url = recordingContentUrl(baseUrl)
  return new Promise<number>((resolve, reject) => {
    NodeHttp.get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      let n = 0
      res.on("data", (c: Buffer) => (n += c.length))
      res.on("end", () => resolve(n))
      res.on("error", reject)
    }).on("error", reject)
  })
}

/** Child: the download through the API, reporting bytes, seconds and memory as one JSON line. */
const child = async () => {
  const [{ GraphClient }, Effect, Stream, Redacted] = await Promise.all([
    import("@meeting-artifacts/api"),
    import("effect/Effect"),
    import("effect/Stream"),
    import("effect/Redacted")
  ])
  const baseUrl = process.env.BENCH_BASE_URL!
  const token = process.env.BENCH_TOKEN!
  const baselineMb = process.memoryUsage().rss / 1024 / 1024
  // where the memory is at the highest RSS seen (sampled): V8 heap vs external (Buffers) vs the rest
  const mb = (n: number) => Math.round(n / 1024 / 1024)
  let atPeak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }
  const sampler = setInterval(() => {
    const m = process.memoryUsage()
    if (m.rss > atPeak.rss) {
      atPeak = {
        rss: m.rss,
        heapTotal: m.heapTotal,
        heapUsed: m.heapUsed,
        external: m.external,
        arrayBuffers: m.arrayBuffers
      }
    }
  }, 20)
  let chunks = 0
  const started = performance.now()
  const cpuBefore = process.cpuUsage()
  const bytes = process.env.BENCH_MODE === "fetch"
    ? await rawFetch(baseUrl, token)
    : process.env.BENCH_MODE === "http"
    ? await rawHttp(baseUrl, token)
    : await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function*() {
          const api = yield* GraphClient
          const content = yield* api.recordingContent({ userId: ORGANIZER }, MEETING, RECORDING)
          if (process.env.BENCH_MODE === "drain") {
            let n = 0
            yield* content.drain((chunk) => {
              chunks++
              n += chunk.length
            })
            return n
          }
          return yield* Stream.runFold(content.stream, 0, (n, chunk) => {
            chunks++
            return n + chunk.length
          })
        })
      ).pipe(Effect.provide(GraphClient.layer({ baseUrl, credential: Redacted.make(token) })))
    )
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  clearInterval(sampler)
  const usage = process.resourceUsage()
  const breakdown = {
    rss: mb(atPeak.rss),
    heapTotal: mb(atPeak.heapTotal),
    heapUsed: mb(atPeak.heapUsed),
    external: mb(atPeak.external),
    arrayBuffers: mb(atPeak.arrayBuffers)
  }
  process.stdout.write(
    `${
      JSON.stringify({
        bytes,
        seconds,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        baselineMb,
        peakMb: Math.max(usage.maxRSS / 1024, peakFromProc()),
        breakdown,
        chunks
      })
    }\n`
  )
}

const runChild = (script: string, baseUrl: string, token: string, mode: Mode) =>
  runChildJson<
    {
      bytes: number
      seconds: number
      cpuSeconds: number
      baselineMb: number
      peakMb: number
      breakdown: Record<string, number>
      chunks?: number
    }
  >(script, {
    nodeFlags: CHILD_FLAGS,
    env: { BENCH_BASE_URL: baseUrl, BENCH_TOKEN: token, BENCH_MODE: mode }
  })

const runCurl = (url: string, token: string) =>
  new Promise<{ bytes: number; seconds: number }>((resolve, reject) => {
    const p = NodeChild.spawn("curl", [
      "-sS",
      "-K",
      "-",
      "-o",
      "/dev/null",
      "-w",
      "%{size_download} %{time_total}",
      url
    ], {
      stdio: ["pipe", "pipe", "inherit"]
    })
    let out = ""
    p.stdout.on("data", (d) => (out += String(d)))
    p.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`curl exited ${code}`))
      const [bytes, seconds] = out.trim().split(" ").map(Number)
      resolve({ bytes: bytes!, seconds: seconds! })
    })
    p.stdin.end(`header = "Authorization: Bearer ${token}"\nheader = "Accept: */*"\n`)
  })

const main = async () => {
  const { startEmulator } = await import("@meeting-artifacts/graph-emulator")
  const emu = await startEmulator({
    fixture: oneRecordingTenant(BYTES)
  })
  try {
    const url = recordingContentUrl(emu.baseUrl)
    const script = bundleForNode(fileURLToPath(import.meta.url), {
      minify: true,
      // never loaded by the child: the emulator (parent only) and @azure/identity (static token here)
      external: ["@meeting-artifacts/graph-emulator", "@azure/identity"]
    })
    // The emulator generates content on the fly and its JIT warms up on the first download; the
    // machine may be shared. So: one warm-up curl, then alternate api and curl runs, best of each.
    await runCurl(url, emu.accessToken)
    type Run = Awaited<ReturnType<typeof runChild>>
    const runs = new Map<Mode, Array<Run>>(MODES.map((m) => [m, []]))
    const curlRuns: Array<Awaited<ReturnType<typeof runCurl>>> = []
    for (let i = 0; i < ROUNDS; i++) {
      for (const mode of MODES) runs.get(mode)!.push(await runChild(script, emu.baseUrl, emu.accessToken, mode))
      curlRuns.push(await runCurl(url, emu.accessToken))
    }
    NodeFs.rmSync(NodePath.dirname(script), { recursive: true, force: true })
    const mbps = (r: { bytes: number; seconds: number }) => r.bytes / 1024 / 1024 / r.seconds
    const best = <R extends { seconds: number }>(rs: Array<R>) => rs.reduce((x, y) => (y.seconds < x.seconds ? y : x))
    const peak = (rs: Array<{ peakMb: number }>) => Math.max(...rs.map((r) => r.peakMb))
    const curlMbps = mbps(best(curlRuns))
    const clientRuns = [...(runs.get("api") ?? []), ...(runs.get("drain") ?? [])]
    const ok = [...[...runs.values()].flat(), ...curlRuns].every((r) => r.bytes === BYTES) &&
      (clientRuns.length === 0 || peak(clientRuns) < GOAL_MB)
    const parts = (b: Record<string, number>) => Object.entries(b).map(([k, v]) => `${k} ${v}`).join(", ")
    console.log(
      `api-download: ${(BYTES / 1024 ** 3).toFixed(2)} GiB recording, ${ROUNDS} round(s) of ${
        MODES.join(", ")
      }, curl on the same URL`
    )
    for (let i = 0; i < ROUNDS; i++) {
      console.log(`  round ${i + 1}: curl ${mbps(curlRuns[i]!).toFixed(0)} MiB/s`)
      for (const mode of MODES) {
        const r = runs.get(mode)![i]!
        console.log(
          `    ${LABELS[mode].padEnd(36)} ${mbps(r).toFixed(0).padStart(4)} MiB/s  cpu ${
            r.cpuSeconds.toFixed(2)
          } s  peak RSS ${r.peakMb.toFixed(0)} MB (idle ${r.baselineMb.toFixed(0)} MB, +${
            (r.peakMb - r.baselineMb).toFixed(0)
          });  at peak: ${parts(r.breakdown)}${
            r.chunks ? `; ${r.chunks} chunks of ${(r.bytes / r.chunks / 1024).toFixed(1)} KiB avg` : ""
          }`
        )
      }
    }
    // against node:http in the same rounds: best throughput, and median CPU seconds (the figure that
    // holds up on a loaded machine)
    const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const httpRuns = runs.get("http")
    const vsHttp = (mode: Mode, rs: Array<Run>) =>
      httpRuns === undefined || mode === "http"
        ? ""
        : ` = ${(mbps(best(rs)) / mbps(best(httpRuns))).toFixed(2)}x node:http, CPU ${
          median(rs.map((r) => r.cpuSeconds)).toFixed(2)
        } s vs ${median(httpRuns.map((r) => r.cpuSeconds)).toFixed(2)} s (medians)`
    console.log("  summary (best throughput, highest peak RSS over the rounds):")
    for (const mode of MODES) {
      const rs = runs.get(mode)!
      const idle = Math.min(...rs.map((r) => r.baselineMb))
      console.log(
        `    ${LABELS[mode].padEnd(36)} ${mbps(best(rs)).toFixed(0).padStart(4)} MiB/s = ${
          (mbps(best(rs)) / curlMbps).toFixed(2)
        }x curl${vsHttp(mode, rs)};  peak RSS ${peak(rs).toFixed(0)} MB (idle ${idle.toFixed(0)} MB)${
          mode === "api" || mode === "drain" ? ` goal < ${GOAL_MB} MB` : ""
        }`
      )
    }
    console.log(`    ${"curl (throughput baseline)".padEnd(36)} ${curlMbps.toFixed(0).padStart(4)} MiB/s`)
    console.log(ok ? "PASS" : "FAIL")
    process.exitCode = ok ? 0 : 1
  } finally {
    await emu.close()
  }
}

runMainOrChild(main, child)
