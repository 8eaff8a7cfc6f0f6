/**
 * The tenant the emulator serves, mutable so artifacts can be added while it runs. Every artifact gets
 * a sequence number: listings snapshot the highest one so paging is stable while artifacts arrive, and
 * delta tokens remember it so a replay returns only what was added since.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import type { FixtureMeeting, FixtureRecording, FixtureTranscript, FixtureUser, TenantFixture } from "../Fixture.js"
import type { ContentSource } from "./content.js"

export interface ArtifactEntry {
  readonly kind: "recording" | "transcript"
  readonly seq: number
  readonly meetingId: string
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

export class TenantState {
  readonly tenantId: string
  readonly users = new Map<string, FixtureUser>()
  readonly meetings = new Map<string, MeetingEntry>()
  readonly artifacts = new Map<string, ArtifactEntry>()
  /** all artifacts in sequence order */
  readonly log: Array<ArtifactEntry> = []
  seq = 0

  constructor(fixture: TenantFixture, readonly baseDir: string) {
    this.tenantId = fixture.tenantId
    for (const u of fixture.users) this.users.set(u.id, u)
    for (const m of fixture.meetings) this.addMeeting(m)
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

  addRecording(meetingId: string, r: FixtureRecording): ArtifactEntry {
    const meeting = this.requireMeeting(meetingId)
    this.requireNewId(r.id)
    const content: ContentSource = "file" in r.content
      ? fileSource(NodePath.resolve(this.baseDir, r.content.file))
      : { _tag: "Generated", size: r.content.bytes, seed: r.content.seed ?? 1 }
    const entry = this.entry("recording", meeting, r, content, undefined)
    meeting.recordings.push(entry)
    return entry
  }

  addTranscript(meetingId: string, t: FixtureTranscript): ArtifactEntry {
    const meeting = this.requireMeeting(meetingId)
    this.requireNewId(t.id)
    const content = textSource(t.content, this.baseDir)
    const metadata = t.metadataContent === undefined ? undefined : textSource(t.metadataContent, this.baseDir)
    const entry = this.entry("transcript", meeting, t, content, metadata)
    meeting.transcripts.push(entry)
    return entry
  }

  private entry(
    kind: "recording" | "transcript",
    meeting: MeetingEntry,
    fixture: FixtureRecording | FixtureTranscript,
    content: ContentSource,
    metadataContent: ContentSource | undefined
  ): ArtifactEntry {
    const createdMs = Date.parse(fixture.createdDateTime)
    if (Number.isNaN(createdMs)) {
      throw new TenantStateError(`artifact ${JSON.stringify(fixture.id)}: createdDateTime is not a timestamp`)
    }
    const entry: ArtifactEntry = {
      kind,
      seq: ++this.seq,
      meetingId: meeting.fixture.id,
      organizerId: meeting.fixture.organizerId,
      fixture,
      content,
      metadataContent,
      createdMs
    }
    this.artifacts.set(fixture.id, entry)
    this.log.push(entry)
    return entry
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
