/**
 * Example 3 — your own pipeline from the parts: `api` streams artifacts out of
 * Graph, `correlate` joins and parses them, and a sink of your own writes
 * them. Here the sink writes meeting minutes as Markdown: who spoke how long,
 * and the transcript merged into utterances.
 *
 *   pnpm --filter @meeting-artifacts/examples custom-sink [out-dir]
 */
import { GraphClient } from "@meeting-artifacts/api"
import { type ArtifactSet, correlate, parseVtt, summarize, utterances } from "@meeting-artifacts/correlate"
import type { Utterance } from "@meeting-artifacts/correlate"
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"

/** The sink: one Markdown file per correlated set that has a transcript. */
class MinutesSink extends Context.Tag("example/MinutesSink")<MinutesSink, {
  readonly write: (set: ArtifactSet, said: ReadonlyArray<Utterance>) => Effect.Effect<string>
}>() {
  static layer = (dir: string) =>
    Layer.succeed(MinutesSink, {
      write: (set, said) =>
        Effect.promise(async () => {
          const summary = summarize(said)
          const lines = [
            `# Meeting ${set.meetingId.slice(0, 12)}…`,
            "",
            `Transcript ${set.transcript?.createdDateTime ?? "?"}; recording: ${
              set.recording ? set.recording.id : "none"
            } (${set.match})`,
            "",
            "| speaker | talk time (s) | words |",
            "|---|---|---|",
            ...summary.speakers.map((s) =>
              `| ${s.speaker ?? "?"} | ${(s.talkTimeMs / 1000).toFixed(1)} | ${s.words} |`
            ),
            "",
            ...said.map((u) => `- **${u.speaker ?? "?"}**: ${u.text.replace(/\n/g, " ")}`),
            ""
          ]
          // Ids are opaque and may contain "/": hash them for file names.
          const name = createHash("sha256").update(set.transcript!.id).digest("hex").slice(0, 16)
          const file = path.join(dir, `${name}.md`)
          await fs.mkdir(dir, { recursive: true })
          await fs.writeFile(file, lines.join("\n"))
          return file
        })
    })
}

const program = (organizers: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const graph = yield* GraphClient
    const sink = yield* MinutesSink
    const written: Array<string> = []
    for (const organizerId of organizers) {
      const window = { organizerId, startDateTime: "2024-01-01T00:00:00Z", endDateTime: "2024-03-01T00:00:00Z" }
      const recordings = yield* Stream.runCollect(graph.getAllRecordings(window))
      const transcripts = yield* Stream.runCollect(graph.getAllTranscripts(window))
      for (const set of correlate(recordings, transcripts, { organizerId })) {
        if (set.transcript === null) continue
        const vtt = yield* graph.transcriptContent({ userId: organizerId }, set.meetingId, set.transcript.id)
        const doc = yield* parseVtt(vtt, { mode: "lenient" })
        written.push(yield* sink.write(set, utterances([...doc.cues])))
      }
    }
    return written
  })

const dir = path.resolve(process.argv[2] ?? "out-minutes")
const emu = await startEmulator({ generate: { organizers: 1, meetingsPerOrganizer: 4, seed: 3, recordingBytes: 4096 } })
try {
  const files = await Effect.runPromise(
    program(emu.fixture.users.map((u) => u.id)).pipe(
      Effect.provide(MinutesSink.layer(dir)),
      Effect.provide(GraphClient.layer({ baseUrl: emu.baseUrl, credential: Redacted.make(emu.accessToken) }))
    )
  )
  for (const f of files) console.log(f)
} finally {
  await emu.close()
}
