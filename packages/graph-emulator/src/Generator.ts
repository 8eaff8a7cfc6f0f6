/**
 * Generates tenants for tests and benchmarks: N organizers × M meetings with the mixes real tenants
 * have (restarted recordings, transcript-only and recording-only meetings, legacy artifacts without a
 * contentCorrelationId), Teams-style WebVTT, and recording sizes in a range, and optionally ad hoc calls
 * (1:1 / group / PSTN) with the same mixes. Deterministic from `seed`.
 */
import type {
  FixtureAdhocCall,
  FixtureMeeting,
  FixtureRecording,
  FixtureTranscript,
  FixtureUser,
  TenantFixture
} from "./Fixture.js"
import { guid, mulberry32 } from "./internal/prng.js"

export interface GenerateSpec {
  readonly organizers: number
  readonly meetingsPerOrganizer: number
  readonly seed?: number
  readonly tenantId?: string
  /** first meeting start (ISO); meetings are spread over `spanDays` from here. Default 2024-01-15T08:00:00Z */
  readonly from?: string
  readonly spanDays?: number
  /** recording size in bytes: fixed or [min, max]. Default [16 KiB, 256 KiB] */
  readonly recordingBytes?: number | readonly [number, number]
  /** cues per transcript: [min, max]. Default [4, 24] */
  readonly cues?: readonly [number, number]
  /**
   * share of meetings of each kind (normalised; kinds not named get 0). Defaults: paired 0.55, restarted 0.1, transcriptOnly 0.1,
   * recordingOnly 0.1, legacy 0.1, empty 0.05
   */
  readonly mix?: Partial<Record<MeetingKind, number>>
  /**
   * ad hoc calls per organizer (default 0), over the same span, kinds and sizes as the meetings; drawn
   * after every meeting from a stream of their own, so a tenant's meetings do not depend on it
   */
  readonly adhocCallsPerOrganizer?: number
}

export type MeetingKind = "paired" | "restarted" | "transcriptOnly" | "recordingOnly" | "legacy" | "empty"

const defaultMix: Record<MeetingKind, number> = {
  paired: 0.55,
  restarted: 0.1,
  transcriptOnly: 0.1,
  recordingOnly: 0.1,
  legacy: 0.1,
  empty: 0.05
}

const NAMES = [
  "Okonkwo, Adaeze",
  "Jürgen Weiß",
  "Priya Raman",
  "María José García",
  "Chen Wei",
  "O'Brien, Siobhán",
  "Kwame Mensah",
  "Søren Kierkegaard-Lund",
  "Aiko Tanaka",
  "Fatima Al-Zahra"
]
const LINES = [
  "Let's start with the quarterly numbers,\nthen move to the hiring plan.",
  "Sounds good.",
  "Revenue came in above plan.",
  "Can everyone see my screen?",
  "I think we should revisit the timeline.",
  "Agreed, let's take that offline.",
  "The migration finished over the weekend.",
  "Who owns the follow-up on this?",
  "Could you share the deck afterwards?",
  "Naïve estimates put it at three weeks — maybe four."
]

const pad = (n: number, w = 2) => String(n).padStart(w, "0")

/** ISO with 7 fractional digits, like Graph. */
const graphTime = (ms: number, rand: () => number): string => {
  const iso = new Date(ms).toISOString() // ...SS.mmmZ
  const extra = pad(Math.floor(rand() * 10000), 4)
  return `${iso.slice(0, 23)}${extra}Z`
}

const vttTime = (ms: number) => {
  const h = Math.floor(ms / 3_600_000)
  const m = Math.floor((ms % 3_600_000) / 60_000)
  const s = Math.floor((ms % 60_000) / 1000)
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`
}

interface GeneratedVtt {
  readonly vtt: string
  readonly metadata: string
}

const makeVtt = (rand: () => number, speakers: ReadonlyArray<string>, cues: number, startMs: number): GeneratedVtt => {
  const group = guid(rand)
  const out = ["WEBVTT", ""]
  const meta = ["WEBVTT", ""]
  let t = 500 + Math.floor(rand() * 3000)
  for (let i = 0; i < cues; i++) {
    const speaker = speakers[Math.floor(rand() * speakers.length)]!
    const text = LINES[Math.floor(rand() * LINES.length)]!
    const dur = 800 + Math.floor(rand() * 6000)
    // now and then Teams splits one utterance over two cues: `n-0`, `n-1`
    const pieces = rand() < 0.15 ? [text, LINES[Math.floor(rand() * LINES.length)]!] : [text]
    let pieceStart = t
    pieces.forEach((piece, k) => {
      const id = `${group}/${10 + i}-${k}`
      const pieceDur = Math.floor(dur / pieces.length)
      const times = `${vttTime(pieceStart)} --> ${vttTime(pieceStart + pieceDur)}`
      out.push(id, times, `<v ${speaker}>${piece}</v>`, "")
      meta.push(
        id,
        times,
        JSON.stringify({
          startDateTime: new Date(startMs + pieceStart).toISOString(),
          endDateTime: new Date(startMs + pieceStart + pieceDur).toISOString(),
          speakerName: speaker,
          spokenText: piece.replace(/\n/g, " "),
          spokenLanguage: "en-us"
        }),
        ""
      )
      pieceStart += pieceDur
    })
    // overlapping speakers now and then: the next cue may start before this one ends
    t += rand() < 0.15 ? Math.floor(dur / 2) : dur + Math.floor(rand() * 1500)
  }
  return { vtt: out.join("\n"), metadata: meta.join("\n") }
}

/** An opaque base64 id that contains `/`, `+` and `=`, like real recording/transcript ids. */
const artifactId = (rand: () => number): string => {
  const bytes = Buffer.alloc(46)
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256)
  // force the awkward characters somewhere in the middle
  bytes[21] = 0xfb
  bytes[22] = 0xef
  bytes[23] = 0xff
  return bytes.toString("base64")
}

const meetingId = (rand: () => number, organizerId: string): string => {
  const thread = `19:meeting_${Buffer.from(guid(rand)).toString("base64").replace(/=+$/, "")}@thread.v2`
  return Buffer.from(`1*${organizerId}*0**${thread}`).toString("base64")
}

export const generateTenant = (spec: GenerateSpec): TenantFixture => {
  const rand = mulberry32(spec.seed ?? 1)
  const tenantId = spec.tenantId ?? guid(rand)
  const from = Date.parse(spec.from ?? "2024-01-15T08:00:00Z")
  const spanMs = (spec.spanDays ?? 14) * 86_400_000
  const [minBytes, maxBytes] = typeof spec.recordingBytes === "number"
    ? [spec.recordingBytes, spec.recordingBytes]
    : spec.recordingBytes ?? [16 * 1024, 256 * 1024]
  const [minCues, maxCues] = spec.cues ?? [4, 24]
  // a given mix replaces the default: kinds it does not name do not occur
  const mix: Record<MeetingKind, number> = spec.mix
    ? { paired: 0, restarted: 0, transcriptOnly: 0, recordingOnly: 0, legacy: 0, empty: 0, ...spec.mix }
    : defaultMix
  const kinds = Object.keys(mix) as Array<MeetingKind>
  const totalWeight = kinds.reduce((s, k) => s + mix[k], 0)
  const sizes: Sizes = { minBytes, maxBytes, minCues, maxCues }
  const pickKind = (random: () => number = rand): MeetingKind => {
    let r = random() * totalWeight
    for (const k of kinds) {
      r -= mix[k]
      if (r < 0) return k
    }
    return "paired"
  }
  const users: Array<FixtureUser> = []
  const meetings: Array<FixtureMeeting> = []
  for (let o = 0; o < spec.organizers; o++) {
    const id = guid(rand)
    const displayName = NAMES[o % NAMES.length]!
    users.push({ id, displayName, userPrincipalName: `organizer${o + 1}@contoso.example` })
    for (let n = 0; n < spec.meetingsPerOrganizer; n++) {
      const mid = meetingId(rand, id)
      const startMs = from + Math.floor(rand() * spanMs / 60_000) * 60_000
      const durationMs = (15 + Math.floor(rand() * 90)) * 60_000
      const kind = pickKind()
      const speakers = [displayName, ...NAMES.filter((x) => x !== displayName).slice(0, 1 + Math.floor(rand() * 3))]
      const { recordings, transcripts } = makeArtifacts(rand, kind, speakers, startMs, durationMs, sizes)
      meetings.push({
        id: mid,
        organizerId: id,
        subject: `Meeting ${o + 1}.${n + 1}`,
        joinWebUrl: `https://teams.microsoft.com/l/meetup-join/19%3ameeting_${
          guid(rand).replace(/-/g, "")
        }%40thread.v2/0?context=%7b%22Tid%22%3a%22${tenantId}%22%2c%22Oid%22%3a%22${id}%22%7d`,
        startDateTime: graphTime(startMs, rand),
        endDateTime: graphTime(startMs + durationMs, rand),
        recordings,
        transcripts
      })
    }
  }
  const calls = spec.adhocCallsPerOrganizer ?? 0
  if (calls === 0) return { tenantId, users, meetings }
  const callRand = mulberry32(((spec.seed ?? 1) ^ 0x0adc0a11) >>> 0)
  const adhocCalls: Array<FixtureAdhocCall> = []
  for (const user of users) {
    for (let n = 0; n < calls; n++) {
      const startMs = from + Math.floor(callRand() * spanMs / 60_000) * 60_000
      const durationMs = (5 + Math.floor(callRand() * 55)) * 60_000
      const kind = pickKind(callRand)
      const speakers = [user.displayName ?? NAMES[0]!, NAMES[(n + 3) % NAMES.length]!]
      const id = guid(callRand)
      const made = makeArtifacts(callRand, kind, speakers, startMs, durationMs, sizes)
      // the emulator gives them the call's id as callId (as Graph does for ad hoc calls)
      const inCall = <A extends { readonly callId?: string | null | undefined }>(a: A) => {
        const { callId: _, ...rest } = a
        return rest
      }
      adhocCalls.push({
        id,
        userId: user.id,
        startDateTime: graphTime(startMs, callRand),
        endDateTime: graphTime(startMs + durationMs, callRand),
        recordings: made.recordings.map(inCall),
        transcripts: made.transcripts.map(inCall)
      })
    }
  }
  return { tenantId, users, meetings, adhocCalls }
}

interface Sizes {
  readonly minBytes: number
  readonly maxBytes: number
  readonly minCues: number
  readonly maxCues: number
}

/** The recordings and transcripts of one meeting or call of `kind` (one session, or two when restarted). */
const makeArtifacts = (
  rand: () => number,
  kind: MeetingKind,
  speakers: ReadonlyArray<string>,
  startMs: number,
  durationMs: number,
  { maxBytes, maxCues, minBytes, minCues }: Sizes
) => {
  const recordings: Array<FixtureRecording> = []
  const transcripts: Array<FixtureTranscript> = []
  const sessions = kind === "restarted" ? 2 : kind === "empty" ? 0 : 1
  let sessionStart = startMs + Math.floor(rand() * 120_000)
  for (let s = 0; s < sessions; s++) {
    const sessionMs = Math.floor(durationMs / sessions) - 60_000
    const callId = guid(rand)
    const corr = rand() < 0.5 ? guid(rand) : `${guid(rand)}-${s}`
    const created = graphTime(sessionStart, rand)
    const ended = graphTime(sessionStart + sessionMs, rand)
    const base = kind === "legacy"
      ? { createdDateTime: created, endDateTime: ended } // older artifacts: no callId / contentCorrelationId
      : { callId, contentCorrelationId: corr, createdDateTime: created, endDateTime: ended }
    if (kind !== "transcriptOnly") {
      const bytes = minBytes + Math.floor(rand() * (maxBytes - minBytes + 1))
      recordings.push({
        id: artifactId(rand),
        ...base,
        content: { bytes, seed: Math.floor(rand() * 2 ** 31) }
      })
    }
    if (kind !== "recordingOnly") {
      const cues = minCues + Math.floor(rand() * (maxCues - minCues + 1))
      const { metadata, vtt } = makeVtt(rand, speakers, cues, sessionStart)
      transcripts.push({
        id: artifactId(rand),
        ...base,
        // the transcript is ready a little after the recording
        createdDateTime: graphTime(sessionStart + 1000 + Math.floor(rand() * 5000), rand),
        content: { text: vtt },
        metadataContent: { text: metadata }
      })
    }
    sessionStart += sessionMs + 60_000
  }
  return { recordings, transcripts }
}

/**
 * Parses a generate spec from the CLI: JSON (`{"organizers":2,...}`) or `key=value` pairs separated by
 * commas: `organizers=2,meetings=5,seed=42,bytes=1048576` (`bytes=min-max` for a range).
 */
export const parseGenerateSpec = (text: string): GenerateSpec => {
  const trimmed = text.trim()
  if (trimmed.startsWith("{")) {
    const parsed = JSON.parse(trimmed) as GenerateSpec
    if (typeof parsed.organizers !== "number" || typeof parsed.meetingsPerOrganizer !== "number") {
      throw new Error("generate spec needs numeric organizers and meetingsPerOrganizer")
    }
    return parsed
  }
  const spec: Record<string, unknown> = { organizers: 1, meetingsPerOrganizer: 3 }
  for (const part of trimmed.split(",").map((s) => s.trim()).filter((s) => s.length > 0)) {
    const [k, v] = part.split("=", 2) as [string, string | undefined]
    if (v === undefined) throw new Error(`generate spec: expected key=value, got ${JSON.stringify(part)}`)
    const num = (x: string) => {
      const n = Number(x)
      if (!Number.isFinite(n) || n < 0) throw new Error(`generate spec: ${k} must be a non-negative number`)
      return n
    }
    switch (k) {
      case "organizers":
        spec.organizers = num(v)
        break
      case "meetings":
      case "meetingsPerOrganizer":
        spec.meetingsPerOrganizer = num(v)
        break
      case "seed":
        spec.seed = num(v)
        break
      case "tenant":
      case "tenantId":
        spec.tenantId = v
        break
      case "from":
        spec.from = v
        break
      case "days":
      case "spanDays":
        spec.spanDays = num(v)
        break
      case "adhoc":
      case "adhocCallsPerOrganizer":
        spec.adhocCallsPerOrganizer = num(v)
        break
      case "bytes": {
        const range = v.split("-")
        spec.recordingBytes = range.length === 2 ? [num(range[0]!), num(range[1]!)] : num(v)
        break
      }
      default:
        throw new Error(
          `generate spec: unknown key ${
            JSON.stringify(k)
          } (accepted: organizers, meetings, seed, tenant, from, days, bytes, adhoc)`
        )
    }
  }
  return spec as unknown as GenerateSpec
}
