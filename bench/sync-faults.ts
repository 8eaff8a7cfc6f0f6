/**
 * `sync` against sporadic faults and against a pure token bucket.
 *
 * 1. The real CLI against the emulator's `throttled` and `hostile` profiles, next to a minimal baseline
 *    client written here (node:http, each request waits out its own Retry-After, nothing else shared),
 *    same tenant, same fault seed, same concurrency (`--concurrency`), several seeds (`--seeds 1,2,3`).
 *    Goal: CLI wall <= 1.2x the baseline's, 0 failed items, 429s served <= 1.1x the baseline's.
 * 2. The CLI under a pure per-tenant token bucket of 5 and 20 requests/s (`--rates 5,20`): goodput (answers
 *    that were not 429, per second of the run) >= 0.9x the rate, 429s <= 5 % of requests.
 *
 * The ratio compares the runs with process start excluded (the CLI's own `elapsedMs`, the baseline's time
 * from its first request to its last answer); both run as child processes (the baseline is this file with
 * `--baseline`), and their process walls are shown beside it.
 *
 * `pnpm bench sync-faults -- --seeds 1,2,3 --rates 5,20 --concurrency 4 [--only faults|bucket]`
 * `--timeline <dir>`: each request's arrival per run, to see where the time goes; `--other <dist/bin.js>`:
 * another build of the CLI run beside this one on each profile and seed, and before it on each bucket
 * rate (an A/B in the same minutes).
 * `--cli-rate <n>`: the profile runs give the CLI `--rate <n>`. By default it keeps its own ceiling of
 * 20 requests/s (burst 6), which the baseline does not have: with 18 artifacts (23 requests) that alone
 * is ~0.6 s of a 3-4 s run (`--cli-rate 100000` shows the fault handling without it).
 */
import {
  generateTenant,
  type FaultConfig,
  profiles,
  startEmulator,
  type TenantFixture
} from "@meeting-artifacts/graph-emulator"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { buildCliIfStale } from "./internal/cli.js"
import { argValue } from "./internal/tenant.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const cliBin = path.join(root, "packages/cli/bin/meeting-artifacts.mjs")
/** `--other <entry.js>`: another build of the CLI (say, of main) run beside it on each profile and seed: an A/B in one run. */
const otherBin = argValue("--other")
const FROM = "2024-01-01T00:00:00Z"
const TO = "2024-03-01T00:00:00Z"

// -- the baseline client (child process) ------------------------------------------------------------

interface BaselineJob {
  readonly baseUrl: string
  readonly token: string
  readonly organizers: ReadonlyArray<string>
  readonly concurrency: number
}

interface BaselineResult {
  /** From the first request to the last answer (process start excluded, like the CLI's elapsedMs). */
  readonly elapsedMs: number
  readonly items: number
  readonly failed: number
  readonly requests: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** One GET, following redirects (credentials only to the first origin); the body as bytes. */
const get = (
  url: string,
  headers: Record<string, string>,
  hops = 0
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
  new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const parts: Array<Buffer> = []
      res.on("data", (d: Buffer) => parts.push(d))
      res.on("error", reject)
      res.on("aborted", () => reject(new Error("aborted")))
      res.on("end", () => {
        const status = res.statusCode ?? 0
        const location = res.headers.location
        if (status >= 300 && status < 400 && location !== undefined && hops < 5) {
          const next = new URL(location, url)
          const h = next.origin === new URL(url).origin ? headers : { ...headers, authorization: "" }
          if (h.authorization === "") delete (h as Record<string, string>).authorization
          resolve(get(next.toString(), h, hops + 1))
          return
        }
        const body = Buffer.concat(parts)
        const length = res.headers["content-length"]
        if (status === 200 && length !== undefined && Number(length) !== body.length) {
          reject(new Error("short body"))
          return
        }
        resolve({ status, headers: res.headers, body })
      })
    })
    req.on("error", reject)
  })

/** Retries a GET until it succeeds: each failure waits for its own Retry-After (seconds or a date), else backs off. */
const fetchWithRetry = async (url: string, token: string, counter: { requests: number }): Promise<Buffer> => {
  for (let attempt = 1; attempt <= 10; attempt++) {
    counter.requests++
    let wait: number
    try {
      const res = await get(url, { authorization: `Bearer ${token}` })
      if (res.status >= 200 && res.status < 300) {
        if ((res.headers["content-type"] ?? "").includes("json")) JSON.parse(res.body.toString("utf8")) // malformed → retry
        return res.body
      }
      if (res.status !== 429 && res.status < 500) throw new Error(`HTTP ${res.status}`)
      const ra = res.headers["retry-after"]
      const seconds = ra !== undefined && /^\d+$/.test(ra) ? Number(ra) * 1000 : undefined
      const date = ra !== undefined && seconds === undefined ? Date.parse(ra) - Date.now() : undefined
      wait = seconds ?? (date !== undefined && !Number.isNaN(date) ? Math.max(0, date) : 200 * 2 ** (attempt - 1))
    } catch (e) {
      if (e instanceof Error && e.message.startsWith("HTTP ")) throw e
      wait = 200 * 2 ** (attempt - 1)
    }
    await sleep(wait)
  }
  throw new Error(`gave up on ${url}`)
}

const runBaseline = async (job: BaselineJob): Promise<BaselineResult> => {
  const started = performance.now()
  const counter = { requests: 0 }
  let items = 0
  let failed = 0
  const queue: Array<() => Promise<void>> = []
  const download = (url: string) => async () => {
    try {
      await fetchWithRetry(url, job.token, counter)
      items++
    } catch {
      failed++
    }
  }
  const list = (url: string, kind: "recordings" | "transcripts", organizer: string) => async () => {
    const page = JSON.parse((await fetchWithRetry(url, job.token, counter)).toString("utf8")) as {
      value: Array<{ id: string; meetingId: string }>
      "@odata.nextLink"?: string
    }
    for (const item of page.value) {
      const base = `${job.baseUrl}/users/${organizer}/onlineMeetings/${encodeURIComponent(item.meetingId)}/${kind}/${
        encodeURIComponent(item.id)
      }/content`
      queue.push(download(kind === "transcripts" ? `${base}?$format=${encodeURIComponent("text/vtt")}` : base))
    }
    if (page["@odata.nextLink"] !== undefined) queue.push(list(page["@odata.nextLink"], kind, organizer))
  }
  for (const organizer of job.organizers) {
    for (const kind of ["recordings", "transcripts"] as const) {
      const fn = kind === "recordings" ? "getAllRecordings" : "getAllTranscripts"
      queue.push(
        list(
          `${job.baseUrl}/users/${organizer}/onlineMeetings/${fn}(meetingOrganizerUserId='${organizer}',startDateTime=${FROM},endDateTime=${TO})`,
          kind,
          organizer
        )
      )
    }
  }
  let active = 0
  await new Promise<void>((done) => {
    const pump = () => {
      if (queue.length === 0 && active === 0) return done()
      while (active < job.concurrency && queue.length > 0) {
        const task = queue.shift()!
        active++
        task().catch(() => failed++).finally(() => {
          active--
          pump()
        })
      }
    }
    pump()
  })
  return { elapsedMs: performance.now() - started, items, failed, requests: counter.requests }
}

// -- the parent ----------------------------------------------------------------------------------------

const run = (
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv
): Promise<{ code: number | null; stdout: string; stderr: string; wallMs: number }> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr, wallMs: performance.now() - started }))
  })

const cleanEnv = (token: string): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(AZURE_|GRAPH_|MSI_|IDENTITY_)/.test(k)) env[k] = v
  env.GRAPH_ACCESS_TOKEN = token
  return env
}

const artifacts = (fixture: TenantFixture) =>
  fixture.meetings.reduce((n, m) => n + (m.recordings?.length ?? 0) + (m.transcripts?.length ?? 0), 0)

/** `--cli-rate <n>`: `--rate <n>` for the CLI's profile runs (see the header). */
const CLI_RATE: ReadonlyArray<string> = argValue("--cli-rate") === undefined ? [] : ["--rate", argValue("--cli-rate")!]

const runCliSync = async (
  emu: { baseUrl: string; accessToken: string; fixture: TenantFixture },
  concurrency: number,
  bin = cliBin,
  cliRate: ReadonlyArray<string> = []
) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "bench-sync-faults-"))
  try {
    const r = await run(
      [
        bin,
        "sync",
        ...emu.fixture.users.flatMap((u) => ["--organizer", u.id]),
        "--from",
        FROM,
        "--to",
        TO,
        "--out",
        out,
        "--graph-url",
        emu.baseUrl,
        "--concurrency",
        String(concurrency),
        ...cliRate,
        "--json",
        // with a timeline: the CLI's retries and artifacts as JSON lines on stderr, merged into it
        ...(TIMELINE_DIR === undefined ? [] : ["--log-format", "json"])
      ],
      cleanEnv(emu.accessToken)
    )
    if (r.code !== 0 && r.code !== 1) throw new Error(`sync exited ${r.code}: ${r.stderr.slice(0, 2000)}`)
    const summary = JSON.parse(r.stdout) as {
      failures: number
      elapsedMs: number
      requests: number
      retries: number
      throttleWaitMs: number
    }
    return { wallMs: r.wallMs, summary, events: cliEvents(r.stderr) }
  } finally {
    fs.rmSync(out, { recursive: true, force: true })
  }
}

const runBaselineChild = async (
  emu: { baseUrl: string; accessToken: string; fixture: TenantFixture },
  concurrency: number
) => {
  const job: BaselineJob = {
    baseUrl: emu.baseUrl,
    token: emu.accessToken,
    organizers: emu.fixture.users.map((u) => u.id),
    concurrency
  }
  const r = await run(
    ["--import", "tsx", fileURLToPath(import.meta.url), "--baseline", JSON.stringify(job)],
    process.env
  )
  if (r.code !== 0) throw new Error(`baseline exited ${r.code}: ${r.stderr.slice(0, 2000)}`)
  return { wallMs: r.wallMs, result: JSON.parse(r.stdout) as BaselineResult }
}

const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? "1.00" : "inf") : (a / b).toFixed(2))

/** `--timeline <dir>` (see arrivalLog). */
const TIMELINE_DIR = argValue("--timeline")

/** A line of the timeline: when (epoch ms) and what. */
interface TimelineEntry {
  readonly at: number
  readonly text: string
}

/** A short tag for an item's id (its last 6 characters), to follow one artifact's requests down a timeline. */
const tagOf = (id: string) => id.slice(-6)

/**
 * The CLI's JSON log lines worth a timeline (retries with their reason and wait, artifacts started and
 * done); nothing without a timeline.
 */
const cliEvents = (stderr: string): ReadonlyArray<TimelineEntry> => {
  if (TIMELINE_DIR === undefined) return []
  const entries: Array<TimelineEntry> = []
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue
    try {
      const e = JSON.parse(line) as Record<string, unknown>
      const at = Date.parse(String(e.time))
      if (e.event === "retrying") {
        const route = String(e.route).replace(/^.*\//, "").replace(/\(.*$/, "")
        entries.push({ at, text: `  cli: retry ${route} in ${e.delayMs} ms (attempt ${e.attempt}): ${e.reason}` })
      } else if (e.event === "artifact_completed" || e.event === "artifact_failed" || e.event === "discovered") {
        entries.push({ at, text: `  cli: ${e.event} ${e.kind ?? ""} ${typeof e.id === "string" ? tagOf(e.id) : ""}` })
      }
    } catch {
      // not an event line
    }
  }
  return entries
}

/**
 * `--timeline <dir>`: every request's arrival at the emulator (ms since the run's first request, route,
 * item tag, URL), and for the CLI its retries and artifacts (`extra`), one file per run (`save(name)`;
 * `save(null)` drops what came before).
 */
const arrivalLog = () => {
  const dir = TIMELINE_DIR
  let arrivals: Array<TimelineEntry> = []
  const onRequest = (seen: { route: string; url: string }) => {
    const url = seen.url.replace(/^.*?\/users\//, "")
    const content = /\/(recordings|transcripts)\/([^/?]+)\/content/.exec(url)
    const tag = content === null ? "      " : tagOf(decodeURIComponent(content[2]!))
    arrivals.push({ at: Date.now(), text: `${seen.route.padEnd(18)} ${tag} ${url}` })
  }
  return {
    options: dir === undefined ? {} : { onRequest },
    save: (name: string | null, extra: ReadonlyArray<TimelineEntry> = []) => {
      if (dir !== undefined && name !== null && arrivals.length > 0) {
        const firstAt = arrivals[0]!.at
        const lines = [...arrivals, ...extra].sort((a, b) => a.at - b.at)
          .map((e) => `${String(e.at - firstAt).padStart(6)} ${e.text}`)
        fs.mkdirSync(dir, { recursive: true })
        fs.writeFileSync(path.join(dir, `${name}.txt`), lines.join("\n") + "\n")
      }
      arrivals = []
    }
  }
}

const faultsBench = async (seeds: ReadonlyArray<number>, concurrency: number) => {
  const fixture = generateTenant({
    organizers: 2,
    meetingsPerOrganizer: 6,
    seed: 12,
    recordingBytes: [8 * 1024, 96 * 1024],
    cues: [3, 8]
  })
  const timeline = arrivalLog()
  const emu = await startEmulator({ fixture, pageSize: 5, ...timeline.options })
  try {
    console.log(
      `faults: ${artifacts(fixture)} artifacts, 2 organizers, --concurrency ${concurrency}${
        CLI_RATE.length > 0 ? ` ${CLI_RATE.join(" ")}` : " (the CLI's default rate ceiling: 20/s, burst 6)"
      }`
    )
    console.log(
      "profile   seed | cli run  base run  ratio | cli wall  base wall  ratio | cli 429s  base 429s  ratio | cli failed  base failed"
    )
    let ok = true
    // `none`: the same work without faults, for reference (how much of a run is not about faults at all)
    for (const profile of ["none", "throttled", "hostile"] as const) {
      for (const seed of profile === "none" ? seeds.slice(0, 1) : seeds) {
        const faults: FaultConfig = { ...profiles[profile], seed }
        emu.setFaults(faults)
        emu.resetCounters()
        timeline.save(null)
        const cli = await runCliSync(emu, concurrency, cliBin, CLI_RATE)
        const cli429 = emu.counters().throttled
        timeline.save(`${profile}-${seed}-cli`, cli.events)
        emu.setFaults(faults)
        emu.resetCounters()
        const base = await runBaselineChild(emu, concurrency)
        const base429 = emu.counters().throttled
        timeline.save(`${profile}-${seed}-base`)
        // the other build, after the baseline: its run next to the same baseline's
        let other = ""
        if (otherBin !== undefined) {
          emu.setFaults(faults)
          emu.resetCounters()
          const o = await runCliSync(emu, concurrency, otherBin, CLI_RATE)
          other = `   other: run ${(o.summary.elapsedMs / 1000).toFixed(2)}s ${
            ratio(o.summary.elapsedMs, base.result.elapsedMs)
          }x, 429s ${emu.counters().throttled}, failed ${o.summary.failures}`
          timeline.save(`${profile}-${seed}-other`, o.events)
        }
        // the run (process start excluded); the process walls are shown beside it
        const wallRatio = cli.summary.elapsedMs / base.result.elapsedMs
        const throttleRatio = base429 === 0 ? (cli429 === 0 ? 1 : Infinity) : cli429 / base429
        if (profile !== "none") ok &&= wallRatio <= 1.2 && throttleRatio <= 1.1 && cli.summary.failures === 0
        console.log(
          `${profile.padEnd(9)} ${String(seed).padStart(4)} | ${
            (cli.summary.elapsedMs / 1000).toFixed(2).padStart(6)
          }s ${(base.result.elapsedMs / 1000).toFixed(2).padStart(7)}s ${
            ratio(cli.summary.elapsedMs, base.result.elapsedMs).padStart(6)
          } | ${(cli.wallMs / 1000).toFixed(2).padStart(7)}s ${(base.wallMs / 1000).toFixed(2).padStart(8)}s ${
            ratio(cli.wallMs, base.wallMs).padStart(6)
          } | ` +
            `${String(cli429).padStart(8)} ${String(base429).padStart(10)} ${ratio(cli429, base429).padStart(6)} | ` +
            `${String(cli.summary.failures).padStart(10)} ${String(base.result.failed).padStart(12)}` +
            `   (cli retries ${cli.summary.retries}, throttleWaitMs ${cli.summary.throttleWaitMs})${other}`
        )
      }
    }
    console.log(`faults goal (run <= 1.2x, 429s <= 1.1x, 0 failed): ${ok ? "met" : "NOT met"}`)
  } finally {
    await emu.close()
  }
}

const bucketBench = async (rates: ReadonlyArray<number>, concurrency: number) => {
  console.log("rate/s | requests  429s  share | run s  goodput/s  goodput/rate")
  let ok = true
  for (const rate of rates) {
    // enough requests that the first seconds (the client learning the rate) weigh little
    const meetings = Math.max(10, Math.round((rate * 25) / 4))
    const fixture = generateTenant({
      organizers: 2,
      meetingsPerOrganizer: meetings,
      seed: 5,
      recordingBytes: [1024, 4096],
      cues: [2, 3]
    })
    const timeline = arrivalLog()
    const emu = await startEmulator({
      fixture,
      pageSize: 50,
      faults: { rateLimit: { requestsPerSecond: rate } },
      ...timeline.options
    })
    try {
      // the other build first, then this one against a refilled bucket
      if (otherBin !== undefined) {
        const o = await runCliSync(emu, concurrency, otherBin)
        const oc = emu.counters()
        console.log(
          `  other: ${rate}/s requests ${oc.total}, 429s ${oc.throttled} (${
            (100 * oc.throttled / oc.total).toFixed(1)
          } %), ` +
            `run ${(o.summary.elapsedMs / 1000).toFixed(1)} s, failed ${o.summary.failures}`
        )
        emu.setFaults({ rateLimit: { requestsPerSecond: rate } })
        emu.resetCounters()
      }
      const cli = await runCliSync(emu, concurrency)
      timeline.save(`bucket-${rate}-cli`, cli.events)
      const c = emu.counters()
      const share = c.throttled / c.total
      // goodput over the run (process start excluded): answers that were not 429s, per second
      const goodput = (c.total - c.throttled) / (cli.summary.elapsedMs / 1000)
      ok &&= goodput >= 0.9 * rate && share <= 0.05 && cli.summary.failures === 0
      console.log(
        `${String(rate).padStart(6)} | ${String(c.total).padStart(8)} ${String(c.throttled).padStart(5)} ${
          (100 * share).toFixed(1).padStart(5)
        }% | ` +
          `${(cli.summary.elapsedMs / 1000).toFixed(1).padStart(5)} ${goodput.toFixed(2).padStart(10)} ${
            (goodput / rate).toFixed(2).padStart(13)
          }`
      )
    } finally {
      await emu.close()
    }
  }
  console.log(`token bucket goal (goodput >= 0.9x rate, 429s <= 5%): ${ok ? "met" : "NOT met"}`)
}

if (process.argv.includes("--baseline")) {
  const job = JSON.parse(argValue("--baseline")!) as BaselineJob
  runBaseline(job).then((r) => {
    process.stdout.write(JSON.stringify(r))
  })
} else {
  const seeds = (argValue("--seeds") ?? "1,2,3").split(",").map(Number)
  const rates = (argValue("--rates") ?? "5,20").split(",").map(Number)
  const concurrency = Number(argValue("--concurrency") ?? 4)
  const only = argValue("--only")
  // the CLI runs from its bundle: measure the sources as they are, not a bundle built before a change
  await buildCliIfStale()
  console.log(`load: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} (${os.cpus().length} cores)`)
  if (only !== "bucket") await faultsBench(seeds, concurrency)
  if (only !== "faults") await bucketBench(rates, concurrency)
}
