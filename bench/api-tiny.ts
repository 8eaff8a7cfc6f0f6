/**
 * The client's CPU per tiny request: what `sync-overhead` spends in the api package, without the CLI.
 * The emulator tenant of `sync-overhead` (4 organizers x 250 meetings, a 300-byte recording and a short
 * transcript each) is listed (`getAllRecordings` / `getAllTranscripts` over the window) and each
 * artifact's content downloaded (`recordingContent`, `transcriptContentStream`), 4 at a time as the
 * sync's download slots, in a child process of plain `node` (this script bundled), CPU from
 * `process.cpuUsage()`: one warm-up pass, then the measured pass. A raw node:http GET of the same
 * content URLs (keep-alive agent, 4 at a time, no Effect) runs in the same rounds as the floor.
 *
 *   pnpm bench api-tiny [--rounds 3] [--organizers 4] [--meetings 250] [--other-api <path/to/api/src/index.ts>]
 *                       [--profile <dir>] [--kind r|t]
 *
 * `--kind r` / `--kind t`: only the recordings / only the transcripts are downloaded (listing unchanged).
 *
 * `--profile <dir>`: V8 CPU profiles of the client's children there (node --cpu-prof; both passes).
 *
 * `--other-api`: another copy of the api package's sources (say, main's, extracted beside this one)
 * bundled into a second child and measured right after this one in each round: an A/B in the same minutes.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { bundleForNode, runChildJson, runMainOrChild } from "./internal/child.js"
import { argValue, tinyArtifactsTenant } from "./internal/tenant.js"

const ROUNDS = Number(argValue("--rounds") ?? 3)
const ORGANIZERS = Number(argValue("--organizers") ?? 4)
const MEETINGS = Number(argValue("--meetings") ?? 250)
const OTHER_API = argValue("--other-api")
const PROFILE = argValue("--profile")
const KIND = argValue("--kind")
const WINDOW = { startDateTime: "2024-01-01T00:00:00Z", endDateTime: "2024-03-01T00:00:00Z" }
const CONCURRENCY = 4

interface Figures {
  readonly artifacts: number
  readonly bytes: number
  /** CPU ms (user + sys) of the measured pass's listing and content parts */
  readonly listingMs: number
  readonly contentMs: number
}

type Job = { readonly organizer: string; readonly meeting: string; readonly id: string; readonly kind: "r" | "t" }

/** Runs `f` over `items`, `n` at a time. */
const pool = async <T>(items: ReadonlyArray<T>, n: number, f: (t: T) => Promise<number>): Promise<number> => {
  let next = 0
  let total = 0
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const n = await f(items[next++]!)
      total += n
    }
  }))
  return total
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1000
}

/** Child, BENCH_MODE=api: the GraphClient calls of a sync; =http: node:http GETs of the same content. */
const child = async () => {
  const [{ GraphClient, handleInvalidItems }, Effect, Stream, Chunk, Redacted] = await Promise.all([
    import("@meeting-artifacts/api"),
    import("effect/Effect"),
    import("effect/Stream"),
    import("effect/Chunk"),
    import("effect/Redacted")
  ])
  const baseUrl = process.env.BENCH_BASE_URL!
  const token = process.env.BENCH_TOKEN!
  const organizers = process.env.BENCH_ORGANIZERS!.split(",")
  // (the rate raised out of the way, as sync-overhead runs the CLI with `--rate 100000`)
  const layer = GraphClient.layer({
    baseUrl,
    credential: Redacted.make(token),
    policy: { requestsPerSecond: 100_000 }
  })
  const list = Effect.gen(function*() {
    const api = yield* GraphClient
    const jobs: Array<Job> = []
    for (const organizerId of organizers) {
      const window = { organizerId, ...WINDOW }
      // (items decoded one by one, as the sync lists them)
      const [recs, trs] = yield* handleInvalidItems(
        Effect.all([
          Stream.runCollect(api.getAllRecordings(window)),
          Stream.runCollect(api.getAllTranscripts(window))
        ], { concurrency: 2 }),
        () => Effect.void
      )
      for (const r of Chunk.toReadonlyArray(recs)) {
        jobs.push({ organizer: organizerId, meeting: r.meetingId!, id: r.id, kind: "r" })
      }
      for (const t of Chunk.toReadonlyArray(trs)) {
        jobs.push({ organizer: organizerId, meeting: t.meetingId!, id: t.id, kind: "t" })
      }
    }
    // (`--kind r|t`: only the recordings or only the transcripts are downloaded)
    const only = process.env.BENCH_KIND
    return only === undefined || only === "" ? jobs : jobs.filter((j) => j.kind === only)
  })
  const download = (job: Job) =>
    Effect.scoped(Effect.gen(function*() {
      const api = yield* GraphClient
      const user = { userId: job.organizer }
      const c = job.kind === "r"
        ? yield* api.recordingContent(user, job.meeting, job.id)
        : yield* api.transcriptContentStream(user, job.meeting, job.id)
      if (c.bytes !== undefined) return c.bytes.length
      let n = 0
      yield* c.drain((chunk) => {
        n += chunk.length
      })
      return n
    }))
  const downloadAll = (jobs: ReadonlyArray<Job>) =>
    Effect.map(Effect.forEach(jobs, download, { concurrency: CONCURRENCY }), (ns) => ns.reduce((a, b) => a + b, 0))

  const NodeHttp = await import("node:http")
  const agent = new NodeHttp.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  const enc = encodeURIComponent
  const urlOf = (j: Job) =>
    `${baseUrl}/users/${enc(j.organizer)}/onlineMeetings/${enc(j.meeting)}/${
      j.kind === "r" ? "recordings" : "transcripts"
    }/${enc(j.id)}/content${j.kind === "t" ? "?$format=text%2Fvtt" : ""}`
  // (content may answer with a redirect to where the bytes are: followed without the token, as the client does)
  const rawGet = (j: Job, url = urlOf(j), hops = 0): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const auth = hops === 0 ? { authorization: `Bearer ${token}` } : {}
      NodeHttp.get(url, { agent, headers: { ...auth, accept: j.kind === "t" ? "text/vtt" : "*/*" } }, (res) => {
        const location = res.headers.location
        if (res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && location && hops < 5) {
          res.resume()
          res.on("end", () => resolve(rawGet(j, new URL(location, url).toString(), hops + 1)))
          return
        }
        let n = 0
        res.on("data", (c: Buffer) => (n += c.length))
        res.on("end", () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode}`))))
        res.on("error", reject)
      }).on("error", reject)
    })

  const figures = await Effect.runPromise(Effect.provide(
    Effect.gen(function*() {
      const http = process.env.BENCH_MODE === "http"
      let out: Figures | undefined
      for (const pass of [0, 1]) {
        const c0 = process.cpuUsage()
        const jobs = yield* list
        const listingMs = cpuMs(c0)
        const c1 = process.cpuUsage()
        const bytes = http
          ? yield* Effect.promise(() => pool(jobs, CONCURRENCY, (j) => rawGet(j)))
          : yield* downloadAll(jobs)
        const contentMs = cpuMs(c1)
        if (pass === 1) out = { artifacts: jobs.length, bytes, listingMs, contentMs }
      }
      return out!
    }),
    layer
  ))
  agent.destroy()
  // (the client's keep-alive connections would keep the process alive)
  process.stdout.write(`${JSON.stringify(figures)}\n`, () => process.exit(0))
}

const runChild = (script: string, env: Record<string, string>, flags: ReadonlyArray<string> = []) =>
  runChildJson<Figures>(script, { nodeFlags: flags, env })

const main = async () => {
  const { startEmulator } = await import("@meeting-artifacts/graph-emulator")
  const emu = await startEmulator({
    generate: tinyArtifactsTenant(ORGANIZERS, MEETINGS)
  })
  const external = ["@meeting-artifacts/graph-emulator", "@azure/identity"]
  // (profiled bundles keep their names and carry a source map)
  const how = { minify: PROFILE === undefined, sourcemap: PROFILE !== undefined, external }
  const self = fileURLToPath(import.meta.url)
  const scripts: Array<[string, string]> = [["api", bundleForNode(self, how)]]
  if (OTHER_API !== undefined) {
    scripts.push([
      "other api",
      bundleForNode(self, { ...how, alias: { "@meeting-artifacts/api": NodePath.resolve(OTHER_API) } })
    ])
  }
  try {
    const env = {
      BENCH_BASE_URL: emu.baseUrl,
      BENCH_TOKEN: emu.accessToken,
      BENCH_ORGANIZERS: emu.fixture.users.map((u) => u.id).join(","),
      BENCH_KIND: KIND ?? ""
    }
    const rows = new Map<string, Array<Figures>>([...scripts.map(([n]) => [n, []] as [string, Array<Figures>]), [
      "node:http",
      []
    ]])
    for (let i = 0; i < ROUNDS; i++) {
      for (const [name, script] of scripts) {
        const flags = PROFILE === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", NodePath.resolve(PROFILE)]
        rows.get(name)!.push(await runChild(script, { ...env, BENCH_MODE: "api" }, flags))
      }
      rows.get("node:http")!.push(await runChild(scripts[0]![1], { ...env, BENCH_MODE: "http" }))
    }
    const per = (ms: number, f: Figures) => (ms / f.artifacts).toFixed(3)
    const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const first = rows.get("api")![0]!
    console.log(
      `api-tiny: ${first.artifacts} artifacts (${first.bytes} bytes), ${ROUNDS} round(s), ${CONCURRENCY} downloads at a time; CPU ms per artifact (measured pass)`
    )
    for (const [name, fs] of rows) {
      console.log(
        `  ${name.padEnd(10)} content ${fs.map((f) => per(f.contentMs, f)).join(" / ")}` +
          (name === "node:http" ? "" : `   listing ${fs.map((f) => per(f.listingMs, f)).join(" / ")}`) +
          `   (median content ${(median(fs.map((f) => f.contentMs / f.artifacts))).toFixed(3)}; ${
            fs.map((f) => `${f.artifacts}/${f.bytes}`).join(" ")
          } artifacts/bytes)`
      )
    }
    const ok = [...rows.values()].flat().every((f) => f.artifacts === first.artifacts && f.bytes === first.bytes)
    console.log(ok ? "PASS" : "FAIL (the children did not see the same artifacts and bytes)")
    process.exitCode = ok ? 0 : 1
  } finally {
    // (profiled bundles stay: the profiles point into them)
    for (const [, s] of scripts) {
      if (PROFILE === undefined) NodeFs.rmSync(NodePath.dirname(s), { recursive: true, force: true })
      else console.log(`  bundle for the profiles: ${s}`)
    }
    await emu.close()
  }
}

runMainOrChild(main, child)
