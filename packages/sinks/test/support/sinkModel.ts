/**
 * Model-based test of every sink at once (fast-check commands): a tenant
 * grows by random steps (new meetings of every shape on two days, so unmatched
 * sets share date partitions with paired ones; a late transcript pairing a
 * recording-only set, sometimes from the day before; a restarted recording
 * that takes the transcript from the first one or stays alone), and runs
 * write it to the filesystem + manifest and to SQLite, Postgres, Parquet and
 * Azure Blob sinks, merge and append. A run may first be SIGKILLed (in a child
 * process) after any write, once or twice, then runs to the end.
 *
 * After every completed run: the manifest holds exactly the tenant's
 * correlated sets with their cue counts, every file it names is intact, every
 * merge sink holds exactly those sets (artifact ids, cue counts), every append
 * sink holds each completed run's sets under its load and, under a killed
 * run's load, only sets of that run. After a kill: no merge sink lost an
 * artifact it held before the killed run.
 */
import * as Effect from "effect/Effect"
import fc from "fast-check"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { FileSystemSink, Manifest, parseSinkSpecs, type SinkSpec } from "../../src/index.js"
import { freshPgDatabase } from "./db.js"
import { cueCountOf, type RunPlan, runPlan, type TenantMeeting, tenantSets, writesOf } from "./modelRun.js"
import { everySinkSpec, formatSets, loadOf, manifestSets, type SinkSet, sinkSets } from "./sinkContents.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const childScript = path.resolve(here, "../fixtures/model-run.ts")
const sinksRoot = path.resolve(here, "../..")

export interface ModelServers {
  readonly pgUrl: string
  readonly azureConnectionString: string
}

export interface ModelOptions {
  readonly numRuns: number
  readonly seed?: number | undefined
  readonly maxCommands: number
  /** SIGKILLed attempts before a run completes, at most (each is a child process; default 2). */
  readonly maxKillsPerRun?: number | undefined
  /** Shrink a failure to a minimal sequence (slow: every attempt runs real sinks). */
  readonly shrink?: boolean | undefined
  readonly log?: ((line: string) => void) | undefined
}

interface Model {
  readonly tenant: Array<TenantMeeting>
  next: number
}

interface Real {
  readonly out: string
  readonly sinks: ReadonlyArray<string>
  readonly specs: ReadonlyArray<SinkSpec>
  /** Runs that completed, with the sets each wrote. */
  readonly completed: Array<{ readonly runId: string; readonly sets: Array<SinkSet> }>
  /** Runs that were killed, with the sets they would have written. */
  readonly killed: Array<{ readonly runId: string; readonly sets: Array<SinkSet> }>
  readonly azureConnectionString: string
  readonly log: (line: string) => void
}

const DAYS = ["2026-03-02", "2026-03-03"] as const
const at = (day: string, hour: number, second = 0) =>
  `${day}T${String(hour).padStart(2, "0")}:00:${String(second).padStart(2, "0")}Z`

type Shape = "paired" | "legacy" | "recordingOnly" | "transcriptOnly"

class NewMeeting implements fc.AsyncCommand<Model, Real> {
  constructor(readonly shape: Shape, readonly day: 0 | 1, readonly organizer: 1 | 2, readonly cues: number) {}
  check = () => true
  async run(m: Model) {
    const n = m.next++
    const id = `m${n}`
    const day = DAYS[this.day]
    const hour = 8 + (n % 12)
    const cc = this.shape === "legacy" ? null : `cc-${id}`
    const withRecording = this.shape !== "transcriptOnly"
    const withTranscript = this.shape !== "recordingOnly"
    m.tenant.push({
      id,
      organizerId: `org-${this.organizer}`,
      recordings: withRecording ? [{ id: `r${n}`, cc, start: at(day, hour, 5), end: at(day, hour + 1) }] : [],
      transcripts: withTranscript
        ? [{ id: `t${n}`, cc, start: at(day, hour), end: at(day, hour + 1), cues: this.cues }]
        : []
    })
  }
  toString = () => `NewMeeting(${this.shape}, day ${this.day}, org-${this.organizer}, ${this.cues} cues)`
}

const recordingOnlyMeetings = (m: Model) =>
  m.tenant.filter((x) => x.recordings.length > 0 && x.transcripts.length === 0)
const pairedMeetings = (m: Model) => m.tenant.filter((x) => x.recordings.length > 0 && x.transcripts.length > 0)

/** A transcript arrives for a meeting that so far had only a recording; `dayBefore`: it starts before midnight. */
class LateTranscript implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number, readonly dayBefore: boolean, readonly cues: number) {}
  check = (m: Readonly<Model>) => recordingOnlyMeetings(m as Model).length > 0
  async run(m: Model) {
    const meetings = recordingOnlyMeetings(m)
    const meeting = meetings[this.pick % meetings.length]!
    const r = meeting.recordings[0]!
    // Paired by id: it may start the day before (the set moves partitions); without an id, by overlap.
    const start = this.dayBefore && r.cc !== null
      ? `${new Date(Date.parse(r.start) - 86_400_000).toISOString().slice(0, 10)}T23:59:00Z`
      : new Date(Date.parse(r.start) - 5000).toISOString()
    meeting.transcripts.push({ id: `t${m.next++}`, cc: r.cc, start, end: r.end, cues: this.cues })
  }
  toString = () => `LateTranscript(${this.pick}, dayBefore ${this.dayBefore}, ${this.cues} cues)`
}

/** A second recording of a meeting; `takes`: it overlaps the transcript more, so it takes the pairing. */
class RestartRecording implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number, readonly takes: boolean) {}
  check = (m: Readonly<Model>) => pairedMeetings(m as Model).length > 0
  async run(m: Model) {
    const meetings = pairedMeetings(m)
    const meeting = meetings[this.pick % meetings.length]!
    const t = meeting.transcripts[0]!
    const id = `r${m.next++}`
    meeting.recordings.push(
      this.takes
        ? { id, cc: t.cc, start: t.start, end: t.end }
        : {
          id,
          cc: `cc-${id}`,
          start: new Date(Date.parse(t.end) + 60_000).toISOString(),
          end: new Date(Date.parse(t.end) + 120_000).toISOString()
        }
    )
  }
  toString = () => `RestartRecording(${this.pick}, takes ${this.takes})`
}

const expectedSets = (tenant: ReadonlyArray<TenantMeeting>, load = ""): Array<SinkSet> =>
  tenantSets(tenant).map((s) => ({
    load,
    recordingId: s.recording?.id ?? null,
    transcriptId: s.transcript?.id ?? null,
    cues: s.transcript === null ? null : cueCountOf(tenant, s.transcript.id)
  }))

const diff = (label: string, got: ReadonlyArray<string>, want: ReadonlyArray<string>): Array<string> => {
  const missing = want.filter((s) => !got.includes(s))
  const extra = got.filter((s) => !want.includes(s))
  return missing.length === 0 && extra.length === 0 && got.length === want.length
    ? []
    : [
      `${label}: missing [${missing.join("; ")}], unexpected [${
        extra.join("; ")
      }] (${got.length} rows, ${want.length} expected)`
    ]
}

/** Artifact ids a merge sink holds (for "a kill loses nothing"). */
const artifactIds = (sets: ReadonlyArray<SinkSet>) =>
  new Set(
    sets.flatMap((s) => [s.recordingId && `r:${s.recordingId}`, s.transcriptId && `t:${s.transcriptId}`]).filter((
      x
    ): x is string => !!x)
  )

const runChild = (plan: RunPlan, dir: string): Promise<boolean> =>
  new Promise((resolve, reject) => {
    const file = path.join(dir, `plan-${plan.runId}.json`)
    fs.writeFileSync(file, JSON.stringify(plan))
    const child = spawn(process.execPath, ["--import", "tsx", childScript, file], {
      cwd: sinksRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: process.env
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (d) => (out += String(d)))
    child.stderr.on("data", (d) => (err += String(d)))
    child.on("error", reject)
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL") resolve(false)
      else if (code === 0 && out.includes("done")) resolve(true)
      else reject(new Error(`model run child failed (${code ?? signal}): ${err.slice(-2000)}`))
    })
  })

/** The checks after a completed run; throws with every difference. */
const checkAll = async (m: Model, r: Real) => {
  const problems: Array<string> = []
  const want = formatSets(expectedSets(m.tenant))
  problems.push(...diff("manifest", formatSets(await manifestSets(r.out)), want))
  for (const e of await Effect.runPromise(Manifest.read(r.out))) {
    for (const f of [e.recording, e.transcript]) {
      if (f !== null && !(await Effect.runPromise(FileSystemSink.isComplete(r.out, f.path, f)))) {
        problems.push(`file ${f.path} is not intact`)
      }
    }
  }
  for (const spec of r.specs) {
    const held = await sinkSets(spec, r.azureConnectionString)
    const label = `${spec._tag}+${spec.disposition}`
    if (spec.disposition === "merge") {
      problems.push(...diff(label, formatSets(held), want))
      continue
    }
    const loads = new Set([...r.completed, ...r.killed].map((x) => loadOf(spec, x.runId)))
    const strays = held.filter((s) => !loads.has(s.load))
    if (strays.length > 0) problems.push(`${label}: rows of unknown loads: ${formatSets(strays).join("; ")}`)
    for (const run of r.completed) {
      const load = loadOf(spec, run.runId)
      problems.push(
        ...diff(
          `${label} load ${run.runId}`,
          formatSets(held.filter((s) => s.load === load)),
          formatSets(run.sets.map((s) => ({ ...s, load })))
        )
      )
    }
    for (const run of r.killed) {
      const load = loadOf(spec, run.runId)
      const allowed = formatSets(run.sets.map((s) => ({ ...s, load })))
      const unexpected = formatSets(held.filter((s) => s.load === load)).filter((s) => !allowed.includes(s))
      if (unexpected.length > 0) {
        problems.push(`${label} killed load ${run.runId}: sets it never wrote: ${unexpected.join("; ")}`)
      }
    }
  }
  if (problems.length > 0) throw new Error(`after a completed run:\n  ${problems.join("\n  ")}`)
}

/**
 * Run the tenant: first killed once per entry of `kills` (after that share of
 * the run's writes: 0 right after the first, 1 after the last), then to the end; then check.
 */
class Run implements fc.AsyncCommand<Model, Real> {
  constructor(readonly kills: ReadonlyArray<number>) {}
  check = () => true
  async run(m: Model, r: Real) {
    const started = Date.now()
    const tenant = structuredClone(m.tenant)
    const sets = expectedSets(tenant)
    const outcomes: Array<string> = []
    const writes = writesOf(tenant, r.specs.length)
    for (const share of this.kills) {
      const killAfter = 1 + Math.floor(share * (writes - 1))
      const merge = r.specs.filter((s) => s.disposition === "merge")
      const before = await Promise.all(merge.map((s) => sinkSets(s, r.azureConnectionString)))
      const runId = randomUUID()
      const finished = await runChild({ out: r.out, sinks: r.sinks, runId, tenant, killAfter }, path.dirname(r.out))
      ;(finished ? r.completed : r.killed).push({ runId, sets })
      outcomes.push(finished ? `finished before write ${killAfter}` : `killed after write ${killAfter} of ${writes}`)
      for (const [i, spec] of merge.entries()) {
        const after = artifactIds(await sinkSets(spec, r.azureConnectionString))
        const lost = [...artifactIds(before[i]!)].filter((a) => !after.has(a))
        if (lost.length > 0) throw new Error(`${spec._tag}: a kill after write ${killAfter} lost ${lost.join(", ")}`)
      }
    }
    const runId = randomUUID()
    await Effect.runPromise(runPlan({ out: r.out, sinks: r.sinks, runId, tenant, killAfter: null }))
    r.completed.push({ runId, sets })
    await checkAll(m, r)
    r.log(
      `  Run: ${[...outcomes, "completed"].join(", ")}: ${sets.length} sets agree in ${r.specs.length} sinks (${
        Date.now() - started
      } ms)`
    )
  }
  toString = () =>
    `Run(${this.kills.length === 0 ? "" : "killed at " + this.kills.map((k) => k.toFixed(2)).join(", then ")})`
}

const commandOf = (maxKillsPerRun: number) =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(
        fc.constantFrom<Shape>("paired", "paired", "legacy", "recordingOnly", "recordingOnly", "transcriptOnly"),
        fc.constantFrom<0 | 1>(0, 1),
        fc.constantFrom<1 | 2>(1, 2),
        fc.integer({ min: 0, max: 5 })
      ).map(([shape, day, org, cues]): fc.AsyncCommand<Model, Real> => new NewMeeting(shape, day, org, cues))
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.nat(), fc.boolean(), fc.integer({ min: 0, max: 5 }))
        .map(([p, d, c]): fc.AsyncCommand<Model, Real> => new LateTranscript(p, d, c))
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.nat(), fc.boolean()).map(([p, t]): fc.AsyncCommand<Model, Real> =>
        new RestartRecording(p, t)
      )
    },
    {
      weight: 2,
      arbitrary: fc.array(fc.integer({ min: 0, max: 1000 }).map((k) => k / 1000), { maxLength: maxKillsPerRun })
        .map((k): fc.AsyncCommand<Model, Real> => new Run(k))
    }
  )

/** The sinks of one sequence, in fresh places (a Postgres database and a blob container of its own). */
const setupReal = async (servers: ModelServers, log: (line: string) => void): Promise<Real> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ma-sink-model-"))
  const sinks = everySinkSpec(dir, await Effect.runPromise(freshPgDatabase(servers.pgUrl)))
  const parsed = parseSinkSpecs(sinks)
  if (parsed._tag === "Left") throw parsed.left
  return {
    out: path.join(dir, "out"),
    sinks,
    specs: parsed.right,
    completed: [],
    killed: [],
    azureConnectionString: servers.azureConnectionString,
    log
  }
}

/** The command sequences `checkSinkModel` draws (exported to preview what a seed gives). */
export const sequences = (options: Pick<ModelOptions, "maxCommands" | "maxKillsPerRun">) =>
  fc.array(commandOf(options.maxKillsPerRun ?? 2), {
    minLength: Math.ceil(options.maxCommands / 2),
    maxLength: options.maxCommands
  })

/** Check `numRuns` random sequences (each ends with a run); throws with the failing sequence and seed. */
export const checkSinkModel = async (servers: ModelServers, options: ModelOptions): Promise<void> => {
  // The blob sinks (in this process and in the killed children) find Azurite here.
  process.env.AZURE_STORAGE_CONNECTION_STRING = servers.azureConnectionString
  const log = options.log ?? (() => undefined)
  await fc.assert(
    // Plain arrays rather than fc.commands, whose early sequences are nearly empty: every sequence here is
    // at least half the maximum long (commands whose precondition fails are skipped by asyncModelRun).
    fc.asyncProperty(sequences(options), async (cmds) => {
      const real = await setupReal(servers, log)
      log(`sequence in ${path.dirname(real.out)}: ${cmds.map(String).join(", ")}`)
      // Every sequence starts from issue 10's case: unmatched sets sharing a date with a paired one.
      const model: Model = { tenant: [], next: 0 }
      for (const shape of ["paired", "recordingOnly", "transcriptOnly"] as const) {
        await new NewMeeting(shape, 0, 1, 2).run(model)
      }
      await fc.asyncModelRun(() => ({ model, real }), cmds)
      await new Run([]).run(model, real)
      fs.rmSync(path.dirname(real.out), { recursive: true, force: true })
    }),
    {
      numRuns: options.numRuns,
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      endOnFailure: !options.shrink,
      verbose: true
    }
  )
}
