/**
 * Shared helpers of the end-to-end tests: run the real CLI as a child process
 * against a real emulator on loopback, and read what it wrote.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import {
  generatedBytes,
  type RequestSeen,
  type RunningEmulator,
  type TenantFixture
} from "@meeting-artifacts/graph-emulator"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const cliBin = path.join(repoRoot, "packages/cli/bin/meeting-artifacts.mjs")

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * An environment without any ambient Azure/Graph credentials or meeting-artifacts settings, plus
 * `extra`. `AZURE_TOKEN_CREDENTIALS=EnvironmentCredential` narrows a `DefaultAzureCredential` a
 * test falls through to to the environment credential, which fails at once without AZURE_*
 * variables: no test ever reaches a managed-identity endpoint (or the Azure CLI).
 */
export const cleanEnv = (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { AZURE_TOKEN_CREDENTIALS: "EnvironmentCredential" }
  for (const [k, v] of Object.entries(process.env)) {
    if (
      /^(AZURE_|GRAPH_|MSI_|IDENTITY_|MEETING_ARTIFACTS_(?!NO_BUNDLE)|PG[A-Z]+$|DATABASE_URL$|NO_COLOR$|FORCE_COLOR$)/
        .test(k)
    ) continue
    env[k] = v
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v
  return env
}

export const spawnCli = (args: ReadonlyArray<string>, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) =>
  spawn(process.execPath, [cliBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"]
  })

export const collect = (child: ChildProcess): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString("utf8")))
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString("utf8")))
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })

/** Resolves with a child's first stdout line once it is complete; rejects when the child exits first. */
export const firstLine = (child: ChildProcess): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = ""
    const onData = (d: Buffer) => {
      text += d.toString("utf8")
      const nl = text.indexOf("\n")
      if (nl >= 0) {
        child.stdout?.off("data", onData)
        resolve(text.slice(0, nl))
      }
    }
    child.stdout?.on("data", onData)
    child.on("close", (code) => reject(new Error(`exited (${code}) before its first line`)))
  })

export const runCli = (args: ReadonlyArray<string>, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) =>
  collect(spawnCli(args, options))

/** What a sync's `--json` summary says it downloaded and skipped (recordings and transcripts together). */
export const fetched = (r: CliResult) => {
  const { recordings, transcripts } = JSON.parse(r.stdout)
  return {
    downloaded: recordings.downloaded + transcripts.downloaded,
    skipped: recordings.skipped + transcripts.skipped
  }
}

export const tempDir = (prefix = "ma-e2e-"): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

export const sha256 = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex")

export interface ManifestLine {
  readonly meetingId: string
  /** "adhocCall" on lines of ad hoc calls (meetingId is then the call's id) */
  readonly source?: "adhocCall"
  readonly organizerId: string
  readonly contentCorrelationId: string | null
  readonly match: "contentCorrelationId" | "time-overlap" | "none"
  readonly recording: null | {
    id: string
    createdDateTime: string | null
    endDateTime: string | null
    path: string
    bytes: number
    sha256: string
    contentType: string
  }
  readonly transcript: null | {
    id: string
    createdDateTime: string | null
    endDateTime: string | null
    path: string
    bytes: number
    sha256: string
    cues: number
  }
}

export const readManifest = (out: string): Array<ManifestLine> => {
  const file = path.join(out, "manifest.jsonl")
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) =>
    JSON.parse(l) as ManifestLine
  )
}

export const readFailures = (out: string): Array<Record<string, unknown>> => {
  const file = path.join(out, "failures.jsonl")
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))
}

export interface ExpectedArtifact {
  readonly kind: "recording" | "transcript"
  readonly id: string
  readonly meetingId: string
  readonly organizerId: string
  readonly contentCorrelationId: string | null
  readonly bytes: number
  readonly sha256: string
  /** "adhocCall" for artifacts of ad hoc calls (their call id is the meetingId) */
  readonly source?: "adhocCall"
}

/**
 * Every recording and transcript of a fixture (generated content or inline text), with the bytes it
 * serves: those of its meetings, and those of its ad hoc calls (keyed by call id) unless `adhocCalls`
 * is false.
 */
export const expectedArtifacts = (
  fixture: TenantFixture,
  options: { readonly adhocCalls?: boolean } = {}
): Map<string, ExpectedArtifact> => {
  const map = new Map<string, ExpectedArtifact>()
  const owners = [
    ...fixture.meetings.map((m) => ({ ...m, source: undefined })),
    ...(options.adhocCalls === false ? [] : (fixture.adhocCalls ?? [])).map((c) => ({
      ...c,
      organizerId: c.userId,
      source: "adhocCall" as const
    }))
  ]
  for (const m of owners) {
    for (const r of m.recordings ?? []) {
      if (!("bytes" in r.content)) throw new Error("only generated recording content is supported here")
      const data = generatedBytes(r.content.seed ?? 1, r.content.bytes)
      map.set(`recording:${r.id}`, {
        kind: "recording",
        id: r.id,
        meetingId: m.id,
        organizerId: m.organizerId,
        contentCorrelationId: r.contentCorrelationId ?? null,
        bytes: data.length,
        sha256: sha256(data),
        ...(m.source !== undefined ? { source: m.source } : {})
      })
    }
    for (const t of m.transcripts ?? []) {
      if (!("text" in t.content)) throw new Error("only inline transcript text is supported here")
      const data = Buffer.from(t.content.text, "utf8")
      map.set(`transcript:${t.id}`, {
        kind: "transcript",
        id: t.id,
        meetingId: m.id,
        organizerId: m.organizerId,
        contentCorrelationId: t.contentCorrelationId ?? null,
        bytes: data.length,
        sha256: sha256(data),
        ...(m.source !== undefined ? { source: m.source } : {})
      })
    }
  }
  return map
}

/** Every file under `dir`, relative, with `/` separators. */
export const listFiles = (dir: string): Array<string> => {
  const out: Array<string> = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(path.relative(dir, p).split(path.sep).join("/"))
    }
  }
  if (fs.existsSync(dir)) walk(dir)
  return out.sort()
}

/**
 * Checks a finished output directory against the fixture: every artifact in
 * exactly one manifest line, files byte-exact (size and sha256 on disk),
 * pairs sharing a contentCorrelationId, no stray or partial files.
 */
export const verifyOutput = (out: string, expected: Map<string, ExpectedArtifact>): Array<string> => {
  const problems: Array<string> = []
  const lines = readManifest(out)
  const seen = new Map<string, number>()
  const files = new Set<string>()
  for (const line of lines) {
    for (const kind of ["recording", "transcript"] as const) {
      const a = line[kind]
      if (a === null) continue
      const key = `${kind}:${a.id}`
      seen.set(key, (seen.get(key) ?? 0) + 1)
      const exp = expected.get(key)
      if (exp === undefined) {
        problems.push(`unexpected ${key}`)
        continue
      }
      if (path.isAbsolute(a.path) || a.path.split("/").includes("..")) {
        problems.push(`${key}: path escapes out: ${a.path}`)
      }
      const file = path.join(out, a.path)
      files.add(a.path)
      if (!fs.existsSync(file)) {
        problems.push(`${key}: missing file ${a.path}`)
        continue
      }
      const data = fs.readFileSync(file)
      if (data.length !== exp.bytes || sha256(data) !== exp.sha256) {
        problems.push(`${key}: content differs from Graph's`)
      }
      if (a.bytes !== data.length || a.sha256 !== sha256(data)) {
        problems.push(`${key}: manifest bytes/sha256 differ from the file`)
      }
      if (line.meetingId !== exp.meetingId) problems.push(`${key}: wrong meetingId`)
      if (line.source !== exp.source) problems.push(`${key}: source ${line.source} instead of ${exp.source}`)
    }
    if (line.recording !== null && line.transcript !== null) {
      const r = expected.get(`recording:${line.recording.id}`)
      const t = expected.get(`transcript:${line.transcript.id}`)
      if (r && t && r.contentCorrelationId !== null && r.contentCorrelationId !== t.contentCorrelationId) {
        problems.push(`recording ${r.id} paired with transcript ${t.id} of another contentCorrelationId`)
      }
    }
  }
  for (const key of expected.keys()) {
    const n = seen.get(key) ?? 0
    if (n !== 1) problems.push(`${key} appears in ${n} manifest lines`)
  }
  for (const f of listFiles(out)) {
    if (f === "manifest.jsonl" || f === "failures.jsonl" || files.has(f)) continue
    if (/^\.meeting-artifacts\/state\.sqlite(-wal|-shm|-journal)?$/.test(f)) continue
    problems.push(`stray file ${f}`)
  }
  return problems
}

export const organizerArgs = (fixture: TenantFixture): Array<string> =>
  fixture.users.flatMap((u) => ["--organizer", u.id])

/** The window every e2e tenant lies in. */
export const WINDOW_ARGS: ReadonlyArray<string> = ["--from", "2024-01-01T00:00:00Z", "--to", "2024-03-01T00:00:00Z"]

/** `sync` of every organizer of an emulator's tenant, over the e2e window, into `out`. */
export const syncArgs = (
  emu: { readonly fixture: TenantFixture; readonly baseUrl: string },
  out: string
): Array<string> => ["sync", ...organizerArgs(emu.fixture), ...WINDOW_ARGS, "--out", out, "--graph-url", emu.baseUrl]

/**
 * Holds the emulator's content requests from `close()` until `release()`; `reached` resolves when the
 * first one arrives (pass `onRequest` to the emulator): "while a sync downloads" becomes a known point.
 */
export class ContentGate {
  private opened: () => void = () => undefined
  private open: Promise<void> = Promise.resolve()
  private arrived: () => void = () => undefined
  reached: Promise<void> = Promise.resolve()
  close() {
    this.open = new Promise((r) => (this.opened = r))
    this.reached = new Promise((r) => (this.arrived = r))
  }
  release() {
    this.opened()
  }
  readonly onRequest = (req: RequestSeen) => {
    if (!/Content$/.test(req.route)) return
    this.arrived()
    return this.open
  }
}

/** A free TCP port on 127.0.0.1 (bound and released: the caller binds it next). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/**
 * Polls `check` until it returns a value other than undefined; fails after `capMs` (a generous cap, not a
 * timing assertion) with `what` in the message.
 */
export const waitFor = async <A>(what: string, check: () => A | undefined, capMs = 60_000): Promise<A> => {
  const started = Date.now()
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (Date.now() - started > capMs) throw new Error(`timed out after ${capMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** One JSON log line of `listen --log-format json` (stderr). */
export interface ListenLogLine {
  readonly level: string
  readonly event: string
  readonly [field: string]: unknown
}

export interface RunningListen {
  readonly child: ChildProcess
  /** The local URL it printed (LISTEN_URL=...). */
  readonly url: string
  /** Every JSON log line so far. */
  readonly events: () => Array<ListenLogLine>
  readonly stdout: () => string
  readonly stderr: () => string
  /** Waits for a log line matching `match` (polled, generous cap). */
  readonly waitForEvent: (what: string, match: (e: ListenLogLine) => boolean, capMs?: number) => Promise<ListenLogLine>
  /** Resolves with the exit once the process ends. */
  readonly done: Promise<CliResult>
}

/**
 * Starts `meeting-artifacts listen <args> --log-format json` and resolves once it printed LISTEN_URL (its
 * subscriptions are in place); rejects when it exits first.
 */
export const startListen = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<RunningListen> => {
  const child = spawnCli(["listen", ...args, "--log-format", "json"], { env })
  const done = collect(child)
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString("utf8")))
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString("utf8")))
  const events = () =>
    stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => {
      try {
        return JSON.parse(l) as ListenLogLine
      } catch {
        return { level: "?", event: "unparsed", line: l }
      }
    })
  // A wait that times out says what listen logged meanwhile: the event that came instead tells why.
  const waitForEvent = (what: string, match: (e: ListenLogLine) => boolean, capMs = 60_000) =>
    waitFor(what, () => events().find(match), capMs).catch((e: Error) => {
      throw new Error(`${e.message}; listen's last log lines:\n${stderr.slice(-4000)}`)
    })
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const line = stdout.split("\n").find((l) => l.startsWith("LISTEN_URL="))
      if (line !== undefined) {
        clearInterval(timer)
        resolve({
          child,
          url: line.slice("LISTEN_URL=".length),
          events,
          stdout: () => stdout,
          stderr: () => stderr,
          waitForEvent,
          done
        })
      }
    }, 25)
    void done.then((r) => {
      clearInterval(timer)
      reject(new Error(`listen exited (${r.code ?? r.signal}) before it printed LISTEN_URL: ${r.stderr.slice(-2000)}`))
    })
  })
}

/**
 * A transcript that arrives after its recording (same call and contentCorrelationId, same times): what
 * an incremental run must pair with the recording it exported earlier.
 */
export const lateTranscriptOf = (
  recording: { callId?: string; contentCorrelationId?: string; createdDateTime: string; endDateTime?: string },
  id: string,
  cue: string
) => ({
  id,
  ...(recording.callId !== undefined ? { callId: recording.callId } : {}),
  contentCorrelationId: recording.contentCorrelationId,
  createdDateTime: recording.createdDateTime,
  endDateTime: recording.endDateTime,
  content: { text: `WEBVTT\n\nx/1-0\n00:00:01.000 --> 00:00:02.500\n${cue}\n` }
})

/** A fixture the tests change as they add artifacts to the running emulator. */
export type MutableFixture = { -readonly [K in keyof TenantFixture]: any }

/**
 * What an incremental run finds later, added to the running emulator and to `fixture` (the expected
 * tenant): a transcript for a meeting that so far had only its recording (same contentCorrelationId),
 * and a new recording in another meeting.
 */
export const addLaterMeetingArtifacts = (
  emu: RunningEmulator,
  fixture: MutableFixture,
  ids: { readonly transcript: string; readonly recording: string; readonly seed: number }
) => {
  const lonely = fixture.meetings.find((m: any) =>
    (m.recordings ?? []).length === 1 && (m.transcripts ?? []).length === 0
  )
  if (lonely === undefined) throw new Error("the tenant has no meeting with only a recording")
  const transcript = lateTranscriptOf(lonely.recordings[0], ids.transcript, "<v Priya Raman>Added later.</v>")
  emu.addTranscript(lonely.id, transcript)
  lonely.transcripts = [transcript]
  const other = fixture.meetings.find((m: any) => m.id !== lonely.id && (m.recordings ?? []).length > 0)
  const recording = {
    id: ids.recording,
    callId: "5a1c3e9f-0000-4000-8000-000000000002",
    contentCorrelationId: "5a1c3e9f-0000-4000-8000-0000000000c2",
    createdDateTime: "2024-02-10T09:00:00.0000000Z",
    endDateTime: "2024-02-10T09:30:00.0000000Z",
    content: { bytes: 20_000, seed: ids.seed }
  }
  emu.addRecording(other.id, recording)
  other.recordings = [...other.recordings, recording]
  return { lonelyRecording: lonely.recordings[0], transcript, recording }
}

/** A new ad hoc call of `userId` with one recording, added to the running emulator and to `fixture`. */
export const addAdhocCallWithRecording = (
  emu: RunningEmulator,
  fixture: MutableFixture,
  call: { readonly id: string; readonly userId: string; readonly recordingId: string }
) => {
  const added = {
    id: call.id,
    userId: call.userId,
    recordings: [{
      id: call.recordingId,
      createdDateTime: "2024-02-03T10:00:00.0000000Z",
      endDateTime: "2024-02-03T10:05:00.0000000Z",
      content: { bytes: 5000, seed: 5 }
    }]
  }
  emu.addAdhocCall(added)
  fixture.adhocCalls.push(added)
  return added
}

/** One more run of `args` changes nothing: exit 0, no content fetched, `out` holds exactly `fixture`'s artifacts. */
export const expectRerunFetchesNothing = async (
  emu: RunningEmulator,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  out: string,
  fixture: TenantFixture
) => {
  // imported here: the soaks import this module outside vitest, where importing it fails at load
  const { expect } = await import("vitest")
  emu.resetCounters()
  const again = await runCli(args, { env })
  expect(again.code, again.stderr).toBe(0)
  expect(emu.counters().contentRequests).toEqual({})
  expect(verifyOutput(out, expectedArtifacts(fixture))).toEqual([])
}
