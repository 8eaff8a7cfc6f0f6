/**
 * The tenant the emulator serves, mutable so artifacts can be added while it runs. Every artifact gets
 * a sequence number: listings snapshot the highest one so paging is stable while artifacts arrive, and
 * delta tokens remember it so a replay returns only what was added since.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import {
  artifactProblem,
  type FixtureAdhocCall,
  type FixtureMeeting,
  type FixtureRecording,
  type FixtureTranscript,
  type FixtureUser,
  type TenantFixture
} from "../Fixture.js"
import type { ContentSource } from "./content.js"
import { deriveMetadataContent } from "./metadataContent.js"

export interface ArtifactEntry {
  readonly kind: "recording" | "transcript"
  readonly seq: number
  /** what the artifact belongs to: an online meeting, or an ad hoc call */
  readonly container: "meeting" | "adhocCall"
  /** the online meeting's id, or the ad hoc call's id when `container` is "adhocCall" */
  readonly meetingId: string
  /** the meeting's organizer, or the user who started the ad hoc call */
  readonly organizerId: string
  readonly fixture: FixtureRecording | FixtureTranscript
  readonly content: ContentSource
  readonly metadataContent: ContentSource | undefined
  readonly createdMs: number
}

export interface MeetingEntry {
  readonly fixture: FixtureMeeting
  readonly recordings: Array<ArtifactEntry>
  readonly transcripts: Array<ArtifactEntry>
}

export interface AdhocCallEntry {
  readonly fixture: FixtureAdhocCall
  readonly recordings: Array<ArtifactEntry>
  readonly transcripts: Array<ArtifactEntry>
}

/** The owner of artifacts being added: a meeting or an ad hoc call. */
interface Container {
  readonly kind: "meeting" | "adhocCall"
  readonly id: string
  readonly userId: string
  readonly recordings: Array<ArtifactEntry>
  readonly transcripts: Array<ArtifactEntry>
}

export class TenantStateError extends Error {}

const textSource = (content: { file: string } | { text: string }, baseDir: string): ContentSource =>
  "file" in content
    ? fileSource(NodePath.resolve(baseDir, content.file))
    : { _tag: "Bytes", bytes: new Uint8Array(Buffer.from(content.text, "utf8")) }

const fileSource = (path: string): ContentSource => {
  const stat = NodeFs.statSync(path, { throwIfNoEntry: false })
  if (stat === undefined || !stat.isFile()) throw new TenantStateError(`content file not found: ${path}`)
  return { _tag: "File", path, size: stat.size }
}

const derivedMetadata = (vtt: ContentSource, baseMs: number): ContentSource => {
  const text = vtt._tag === "File"
    ? NodeFs.readFileSync(vtt.path, "utf8")
    : vtt._tag === "Bytes"
    ? Buffer.from(vtt.bytes).toString("utf8")
    : ""
  const derived = deriveMetadataContent(text, Number.isNaN(baseMs) ? 0 : baseMs)
  return { _tag: "Bytes", bytes: new Uint8Array(Buffer.from(derived, "utf8")) }
}

export class TenantState {
  readonly tenantId: string
  readonly users = new Map<string, FixtureUser>()
  readonly meetings = new Map<string, MeetingEntry>()
  readonly adhocCalls = new Map<string, AdhocCallEntry>()
  readonly artifacts = new Map<string, ArtifactEntry>()
  /** content requests seen per artifact id (for `notReady.requests`) */
  readonly contentAttempts = new Map<string, number>()
  /** all artifacts in sequence order */
  readonly log: Array<ArtifactEntry> = []
  seq = 0
  /** called with every artifact added after the tenant was loaded (change notifications) */
  onArtifactAdded: ((entry: ArtifactEntry) => void) | undefined

  constructor(fixture: TenantFixture, readonly baseDir: string) {
    this.tenantId = fixture.tenantId
    for (const u of fixture.users) this.users.set(u.id, u)
    for (const m of fixture.meetings) this.addMeeting(m)
    for (const c of fixture.adhocCalls ?? []) this.addAdhocCall(c)
  }

  findUser(idOrUpn: string): FixtureUser | undefined {
    const direct = this.users.get(idOrUpn)
    if (direct) return direct
    const lower = idOrUpn.toLowerCase()
    for (const u of this.users.values()) {
      if (u.id.toLowerCase() === lower || u.userPrincipalName?.toLowerCase() === lower) return u
    }
    return undefined
  }

  addMeeting(m: FixtureMeeting): MeetingEntry {
    if (this.meetings.has(m.id)) throw new TenantStateError(`meeting ${JSON.stringify(m.id)} already exists`)
    if (!this.users.has(m.organizerId)) {
      // an organizer not listed yet becomes a user: adding meetings at runtime should not need two calls
      this.users.set(m.organizerId, { id: m.organizerId, displayName: null })
    }
    const entry: MeetingEntry = { fixture: { ...m, recordings: [], transcripts: [] }, recordings: [], transcripts: [] }
    this.meetings.set(m.id, entry)
    for (const r of m.recordings ?? []) this.addRecording(m.id, r)
    for (const t of m.transcripts ?? []) this.addTranscript(m.id, t)
    return entry
  }

  addAdhocCall(c: FixtureAdhocCall): AdhocCallEntry {
    if (this.adhocCalls.has(c.id)) throw new TenantStateError(`ad hoc call ${JSON.stringify(c.id)} already exists`)
    if (!this.users.has(c.userId)) this.users.set(c.userId, { id: c.userId, displayName: null })
    const entry: AdhocCallEntry = {
      fixture: { ...c, recordings: [], transcripts: [] },
      recordings: [],
      transcripts: []
    }
    this.adhocCalls.set(c.id, entry)
    for (const r of c.recordings ?? []) this.addAdhocRecording(c.id, r)
    for (const t of c.transcripts ?? []) this.addAdhocTranscript(c.id, t)
    return entry
  }

  addRecording(meetingId: string, r: FixtureRecording): ArtifactEntry {
    return this.recordingIn(this.meetingContainer(meetingId), r)
  }

  addTranscript(meetingId: string, t: FixtureTranscript): ArtifactEntry {
    return this.transcriptIn(this.meetingContainer(meetingId), t)
  }

  addAdhocRecording(callId: string, r: FixtureRecording): ArtifactEntry {
    return this.recordingIn(this.adhocContainer(callId), r)
  }

  addAdhocTranscript(callId: string, t: FixtureTranscript): ArtifactEntry {
    return this.transcriptIn(this.adhocContainer(callId), t)
  }

  /**
   * Replaces the extra properties served with artifact `id`, in place: same sequence number, so a
   * delta round does not report it again (Graph correcting a payload it already listed).
   */
  setExtra(id: string, extra: Record<string, unknown> | undefined): void {
    const entry = this.artifacts.get(id)
    if (entry === undefined) throw new TenantStateError(`no recording or transcript ${JSON.stringify(id)}`)
    const { extra: _, ...rest } = entry.fixture // The one entry object is shared by its container, `artifacts` and `log`.
    ;(entry as { fixture: ArtifactEntry["fixture"] }).fixture = extra === undefined ? rest : { ...rest, extra }
  }

  /** Counts a content request of `id`; true while its content is still "not ready" (404). */
  contentNotReady(entry: ArtifactEntry, nowMs: number): boolean {
    const nr = entry.fixture.notReady
    if (nr === undefined) return false
    const seen = this.contentAttempts.get(entry.fixture.id) ?? 0
    this.contentAttempts.set(entry.fixture.id, seen + 1)
    if (nr.requests !== undefined && seen < nr.requests) return true
    return nr.until !== undefined && nowMs < Date.parse(nr.until)
  }

  private recordingIn(container: Container, r: FixtureRecording): ArtifactEntry {
    this.requireNewId(r.id)
    const content: ContentSource = "file" in r.content
      ? fileSource(NodePath.resolve(this.baseDir, r.content.file))
      : { _tag: "Generated", size: r.content.bytes, seed: r.content.seed ?? 1 }
    const entry = this.entry("recording", container, r, content, undefined)
    container.recordings.push(entry)
    return entry
  }

  private transcriptIn(container: Container, t: FixtureTranscript): ArtifactEntry {
    this.requireNewId(t.id)
    const content = textSource(t.content, this.baseDir)
    // Graph serves metadataContent for every transcript: derived from the VTT when the fixture gives none
    const metadata = t.metadataContent === undefined
      ? derivedMetadata(content, Date.parse(t.createdDateTime))
      : textSource(t.metadataContent, this.baseDir)
    const entry = this.entry("transcript", container, t, content, metadata)
    container.transcripts.push(entry)
    return entry
  }

  private entry(
    kind: "recording" | "transcript",
    container: Container,
    fixture: FixtureRecording | FixtureTranscript,
    content: ContentSource,
    metadataContent: ContentSource | undefined
  ): ArtifactEntry {
    const problem = artifactProblem(fixture)
    if (problem !== undefined) throw new TenantStateError(`artifact ${JSON.stringify(fixture.id)}: ${problem}`)
    const entry: ArtifactEntry = {
      kind,
      seq: ++this.seq,
      container: container.kind,
      meetingId: container.id,
      organizerId: container.userId,
      fixture,
      content,
      metadataContent,
      createdMs: Date.parse(fixture.createdDateTime)
    }
    this.artifacts.set(fixture.id, entry)
    this.log.push(entry)
    this.onArtifactAdded?.(entry)
    return entry
  }

  private meetingContainer(meetingId: string): Container {
    const m = this.requireMeeting(meetingId)
    return {
      kind: "meeting",
      id: m.fixture.id,
      userId: m.fixture.organizerId,
      recordings: m.recordings,
      transcripts: m.transcripts
    }
  }

  private adhocContainer(callId: string): Container {
    const c = this.adhocCalls.get(callId)
    if (!c) throw new TenantStateError(`no ad hoc call ${JSON.stringify(callId)}`)
    return {
      kind: "adhocCall",
      id: c.fixture.id,
      userId: c.fixture.userId,
      recordings: c.recordings,
      transcripts: c.transcripts
    }
  }

  private requireMeeting(meetingId: string): MeetingEntry {
    const meeting = this.meetings.get(meetingId)
    if (!meeting) throw new TenantStateError(`no meeting ${JSON.stringify(meetingId)}`)
    return meeting
  }

  private requireNewId(id: string): void {
    if (this.artifacts.has(id)) throw new TenantStateError(`artifact ${JSON.stringify(id)} already exists`)
  }
}
