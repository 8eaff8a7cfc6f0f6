/**
 * What the download benchmarks share: command-line values and a tenant of one organizer with one
 * meeting holding one generated recording of a given size (served without holding it in memory).
 */
import type { TenantFixture } from "@meeting-artifacts/graph-emulator"

/** The value after `--name` on the command line. */
export const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

/** Bytes to move, `--bytes` (default 1 GiB). */
export const benchBytes = (): number => Number(argValue("--bytes") ?? 1024 ** 3)

export const MEETING = "MSoxMjM0KjAqKjE5Om1lZXRpbmdfYmVuY2hAdGhyZWFkLnYy"
export const RECORDING = "YmVuY2gvcmVjb3JkaW5nKzE+MUdpQg=="
export const ORGANIZER = "0b5c6c53-7c44-4e55-9e2c-0c0b7e1e0001"

export const oneRecordingTenant = (bytes: number): TenantFixture => ({
  tenantId: "0b5c6c53-7c44-4e55-9e2c-0c0b7e1e00ff",
  users: [{ id: ORGANIZER, displayName: "Bench Organizer" }],
  meetings: [{
    id: MEETING,
    organizerId: ORGANIZER,
    recordings: [{ id: RECORDING, createdDateTime: "2024-01-15T09:00:00.0000000Z", content: { bytes, seed: 42 } }]
  }]
})

/** The recording's `/content` URL under a Graph base URL. */
export const recordingContentUrl = (baseUrl: string): string =>
  `${baseUrl}/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(MEETING)}/recordings/${
    encodeURIComponent(RECORDING)
  }/content`

/**
 * `sync-overhead`'s tenant (the emulator's `generate` option): `organizers` x `meetings`, each meeting a
 * 300-byte recording and a short transcript.
 */
export const tinyArtifactsTenant = (organizers: number, meetings: number) => ({
  organizers,
  meetingsPerOrganizer: meetings,
  seed: 7,
  from: "2024-01-15T08:00:00Z",
  spanDays: 30,
  recordingBytes: 300,
  cues: [2, 4] as [number, number],
  mix: { paired: 1 }
})
