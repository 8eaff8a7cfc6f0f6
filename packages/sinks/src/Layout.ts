/**
 * The filesystem (and blob name) layout under `<out>`:
 *
 * ```
 * <organizer>/<meeting>/recording-<recordingId>.<ext>      (ext from the content type, default mp4)
 * <organizer>/<meeting>/transcript-<transcriptId>.vtt
 * <organizer>/<meeting>/transcript-<transcriptId>.metadata.json
 * ```
 *
 * Every `<...>` is `segment(id)`: a readable prefix of the id (only
 * `[A-Za-z0-9_-]`, at most 40 characters) followed by `~` and the first 32 hex
 * digits (128 bits) of the id's SHA-256. The hash makes distinct ids distinct
 * paths (also on case-insensitive filesystems, since the prefix is only a hint),
 * the alphabet makes `..`, `/`, `\`, NUL, reserved device names and trailing
 * dots impossible, and the length is bounded whatever the id.
 */
import * as NodeCrypto from "node:crypto"

export type ArtifactKind = "recording" | "transcript" | "transcriptMetadata"

const PREFIX_MAX = 40
const HASH_HEX = 32

/**
 * sha256 of the UTF-8 bytes of `s`, lower-case hex: Node's one-shot `hash` where it has one (20.12+; no
 * Hash object per call, and three segments are hashed per artifact path).
 */
export const sha256Hex: (s: string) => string = typeof NodeCrypto.hash === "function"
  ? (s) => NodeCrypto.hash("sha256", s, "hex")
  : (s) => NodeCrypto.createHash("sha256").update(s, "utf8").digest("hex")

/** A safe, bounded, collision-resistant path segment (or blob name part) for an arbitrary id. */
export const segment = (id: string): string => {
  const prefix = id.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, PREFIX_MAX)
  return `${prefix}~${sha256Hex(id).slice(0, HASH_HEX)}`
}

const EXTENSIONS: Record<string, string> = {
  "video/mp4": "mp4",
  "audio/mp4": "m4a",
  "video/webm": "webm",
  "audio/mpeg": "mp3",
  "audio/wav": "wav",
  "text/vtt": "vtt",
  "application/json": "json",
  "application/octet-stream": "bin"
}

/** File extension for a content type (parameters ignored); unknown types get `fallback`. */
export const extensionFor = (contentType: string | null | undefined, fallback: string): string => {
  if (!contentType) return fallback
  const base = contentType.split(";")[0]!.trim().toLowerCase()
  // own keys only: a served type like "__proto__" or "constructor" must not pick up Object.prototype
  return Object.hasOwn(EXTENSIONS, base) ? EXTENSIONS[base]! : fallback
}

export interface ArtifactLocation {
  readonly kind: ArtifactKind
  readonly organizerId: string
  readonly meetingId: string
  /** The recording or transcript id. */
  readonly id: string
  /** Recordings: the content type served, which picks the extension (default mp4). */
  readonly contentType?: string | null | undefined
}

/** The folder of a meeting, relative to `<out>`, with `/` separators. */
export const meetingDir = (organizerId: string, meetingId: string): string =>
  `${segment(organizerId)}/${segment(meetingId)}`

/** The path of an artifact relative to `<out>` (and its blob name), with `/` separators. */
export const artifactPath = (loc: ArtifactLocation): string => {
  const dir = meetingDir(loc.organizerId, loc.meetingId)
  switch (loc.kind) {
    case "recording":
      return `${dir}/recording-${segment(loc.id)}.${extensionFor(loc.contentType, "mp4")}`
    case "transcript":
      return `${dir}/transcript-${segment(loc.id)}.vtt`
    case "transcriptMetadata":
      return `${dir}/transcript-${segment(loc.id)}.metadata.json`
  }
}

export const recordingPath = (
  organizerId: string,
  meetingId: string,
  recordingId: string,
  contentType?: string | null
) => artifactPath({ kind: "recording", organizerId, meetingId, id: recordingId, contentType })

export const transcriptPath = (organizerId: string, meetingId: string, transcriptId: string) =>
  artifactPath({ kind: "transcript", organizerId, meetingId, id: transcriptId })

export const transcriptMetadataPath = (organizerId: string, meetingId: string, transcriptId: string) =>
  artifactPath({ kind: "transcriptMetadata", organizerId, meetingId, id: transcriptId })

/** Directory (relative to `<out>`) holding the checkpoint database and temp files. */
export const STATE_DIR = ".meeting-artifacts"
export const defaultStatePath = (out: string): string => `${out.replace(/[\\/]+$/, "")}/${STATE_DIR}/state.sqlite`
