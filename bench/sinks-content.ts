/**
 * Writing a 1 GiB content stream through the sinks must take constant memory
 * (goal: peak RSS of the writing process under 150 MB):
 *
 * - filesystem: `FileSystemSink.writeContent` (temp file, fsync, rename);
 * - azure-blob-from-file: `AzureBlobSink` `writeSet` copying the file the
 *   filesystem sink wrote (what `--sink azure-blob` does in a sync), read
 *   straight into pooled 4 MiB blocks, 2 staged at a time, on Azurite;
 * - azure-blob: `AzureBlobSink` `content.write` from the stream.
 *
 * Each measurement runs in its own child process (this script, bundled by
 * esbuild so the tsx loader's own memory is not counted) and reports its peak
 * RSS (maxRSS / VmHWM); the baseline, in the same run, is a child that only
 * generates, hashes and drains the stream. Every mode's sha256 must equal the
 * baseline's.
 *
 * The generator (goal verdict): 64 KiB chunks read into a bounded ring of 16
 * buffers, the way a socket or file reader with a buffer pool delivers them.
 * A consumer that keeps a chunk past 16 pulls would corrupt its copy, which
 * the sha256 check catches. With `--fresh-chunks` (also run as informational
 * lines) every chunk is a new Buffer, as Node's own sockets deliver them: then
 * V8 lets 60-80 MB of dead chunks pile up as external memory before its first
 * major GC (see BENCH_TRACE: arrayBuffers climbs to ~80 MB, then drops to
 * ~20 MB), which depends on the producer's rate, not on the sink. That garbage
 * is the producer's; the baseline carries it too.
 *
 *   pnpm exec tsx bench/sinks-content.ts [--bytes 1073741824] [--no-fresh] [--mode <mode> [--fresh-chunks]]
 *   (BENCH_TRACE=1 samples memory every 200 ms; BENCH_BLOCK / BENCH_CONCURRENCY tune the blob upload)
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { bundleForNode, memoryOf, runChildJson, runMainOrChild } from "./internal/child.js"
import { argValue, benchBytes } from "./internal/tenant.js"

const GOAL_MB = 150
const CHUNK = 64 * 1024
const BYTES = benchBytes()

const peakFromProc = () => memoryOf().peakMb

interface Result {
  readonly mode: string
  readonly bytes: number
  readonly sha256: string | null
  readonly seconds: number
  readonly peakMb: number
}

/** Child: one measurement, one JSON line. */
const child = async (mode: string) => {
  const [Effect, Stream] = await Promise.all([import("effect/Effect"), import("effect/Stream")])
  const total = Number(process.env.BENCH_BYTES)
  const ring = process.env.BENCH_FRESH ? undefined : Array.from({ length: 16 }, () => Buffer.alloc(CHUNK))
  const content = Stream.unfold(0, (sent) => {
    if (sent >= total) return { _tag: "None" } as any
    const n = Math.min(CHUNK, total - sent)
    const fill = (sent / CHUNK) & 0xff
    const chunk = ring ? ring[(sent / CHUNK) % ring.length]!.subarray(0, n).fill(fill) : Buffer.alloc(n, fill)
    return { _tag: "Some", value: [chunk, sent + n] } as any
  }) as unknown as import("effect/Stream").Stream<Uint8Array>
  if (process.env.BENCH_TRACE) {
    // what loading costs, before any byte moves
    if (mode === "filesystem") await import("../packages/sinks/src/FileSystemSink.js")
    if (mode === "azure-blob") await import("../packages/sinks/src/AzureBlobSink.js")
    console.error(`  [${mode}] loaded: rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB`)
  }
  const started = performance.now()
  const sampler = process.env.BENCH_TRACE
    ? setInterval(() => {
      const m = process.memoryUsage()
      console.error(
        `  [${mode}] rss ${(m.rss / 1048576).toFixed(0)} heap ${(m.heapUsed / 1048576).toFixed(0)}/${
          (m.heapTotal / 1048576).toFixed(0)
        } external ${(m.external / 1048576).toFixed(0)} arrayBuffers ${(m.arrayBuffers / 1048576).toFixed(0)} hwm ${
          peakFromProc().toFixed(0)
        }`
      )
    }, 200)
    : undefined
  let out: { bytes: number; sha256: string | null }
  if (mode === "baseline") {
    const { createHash } = await import("node:crypto")
    const hash = createHash("sha256")
    const bytes = await Effect.runPromise(Stream.runFold(content, 0, (n, c) => {
      hash.update(c)
      return n + c.length
    }))
    out = { bytes, sha256: hash.digest("hex") }
  } else if (mode === "filesystem") {
    const FileSystemSink = await import("../packages/sinks/src/FileSystemSink.js")
    const dir = process.env.BENCH_DIR!
    out = await Effect.runPromise(FileSystemSink.writeContent(dir, "org/meeting/recording-bench.mp4", content))
  } else if (mode === "azure-blob-from-file") {
    // The pipeline's path for --sink azure-blob: the file the filesystem sink wrote is copied.
    const AzureBlobSink = await import("../packages/sinks/src/AzureBlobSink.js")
    const { makeSet } = await import("../packages/sinks/test/support/data.js")
    const file = JSON.parse(process.env.BENCH_FILE!) as { path: string; bytes: number; sha256: string }
    await Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(
          AzureBlobSink.make({ container: "bench-copy", connectionString: process.env.BENCH_AZURE! }),
          (sink) =>
            sink.writeSet({
              set: makeSet("meeting", "bench", null),
              recording: { ...file, contentType: "video/mp4" },
              transcript: null,
              cues: [],
              root: process.env.BENCH_DIR!
            })
        )
      )
    )
    out = { bytes: file.bytes, sha256: file.sha256 }
  } else {
    const AzureBlobSink = await import("../packages/sinks/src/AzureBlobSink.js")
    out = await Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(
          AzureBlobSink.make({
            container: "bench-content",
            connectionString: process.env.BENCH_AZURE!,
            ...(process.env.BENCH_BLOCK ? { blockSize: Number(process.env.BENCH_BLOCK) } : {}),
            ...(process.env.BENCH_CONCURRENCY ? { concurrency: Number(process.env.BENCH_CONCURRENCY) } : {})
          }),
          (sink) => sink.content.write("org/meeting/recording-bench.mp4", content, { contentType: "video/mp4" })
        )
      )
    )
  }
  const seconds = (performance.now() - started) / 1000
  if (sampler) clearInterval(sampler)
  const result: Result = {
    mode,
    bytes: out.bytes,
    sha256: out.sha256,
    seconds,
    peakMb: Math.max(process.resourceUsage().maxRSS / 1024, peakFromProc())
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

const runChild = (script: string, mode: string, env: Record<string, string>) =>
  runChildJson<Result>(script, { args: [mode], env: { BENCH_BYTES: String(BYTES), ...env } })

const main = async () => {
  const { startAzurite } = await import("../packages/sinks/test/support/servers.js")
  const script = bundleForNode(fileURLToPath(import.meta.url), { external: ["@azure/identity"] })
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "sinks-content-out-"))
  const azurite = await startAzurite()
  try {
    const only = argValue("--mode")
    if (only !== undefined) {
      // one mode alone, for investigation (no comparison, no verdict)
      const r = await runChild(script, only, {
        BENCH_AZURE: azurite.url,
        BENCH_DIR: dir,
        ...(process.argv.includes("--fresh-chunks") ? { BENCH_FRESH: "1" } : {})
      })
      console.log(JSON.stringify(r))
      return
    }
    const mibps = (r: Result) => (r.bytes / 1024 / 1024 / r.seconds).toFixed(0)
    const series = async (fresh: boolean) => {
      const env = fresh ? { BENCH_FRESH: "1" } : {}
      const baseline = await runChild(script, "baseline", env)
      const fsResult = await runChild(script, "filesystem", { ...env, BENCH_DIR: dir })
      // The copy reads the file, not the generated stream: measured once.
      const copy = fresh ? undefined : await runChild(script, "azure-blob-from-file", {
        BENCH_AZURE: azurite.url,
        BENCH_DIR: dir,
        BENCH_FILE: JSON.stringify({
          path: "org/meeting/recording-bench.mp4",
          bytes: fsResult.bytes,
          sha256: fsResult.sha256
        })
      })
      NodeFs.rmSync(dir, { recursive: true, force: true })
      const blob = await runChild(script, "azure-blob", { ...env, BENCH_AZURE: azurite.url })
      return { baseline, results: copy ? [fsResult, copy, blob] : [fsResult, blob] }
    }
    const report = (title: string, s: { baseline: Result; results: ReadonlyArray<Result> }, verdict: boolean) => {
      console.log(`  ${title}`)
      for (const r of [s.baseline, ...s.results]) {
        const v = r === s.baseline || !verdict ? "" : r.peakMb < GOAL_MB ? " ok" : " OVER"
        const sha = r.sha256 === s.baseline.sha256 ? "" : " SHA256 MISMATCH"
        console.log(
          `    ${r.mode.padEnd(20)}: ${r.bytes} bytes in ${r.seconds.toFixed(2)} s = ${mibps(r)} MiB/s; peak RSS ${
            r.peakMb.toFixed(0)
          } MB (${(r.peakMb / s.baseline.peakMb).toFixed(2)}x baseline, ${r.peakMb >= s.baseline.peakMb ? "+" : ""}${
            (r.peakMb - s.baseline.peakMb).toFixed(0)
          } MB${verdict ? `; goal < ${GOAL_MB} MB` : ""})${v}${sha}`
        )
      }
    }
    const pooled = await series(false)
    const fresh = process.argv.includes("--no-fresh") ? undefined : await series(true)
    console.log(`sinks-content: ${(BYTES / 1024 ** 3).toFixed(2)} GiB in 64 KiB chunks, each mode in its own process`)
    report("chunks from a ring of 16 buffers (goal verdict):", pooled, true)
    if (fresh) {
      report("fresh chunks (informational: V8 lets the producer's dead chunks pile up before a GC):", fresh, false)
    }
    const ok = [pooled, ...(fresh ? [fresh] : [])].every((s) =>
      s.results.every((r) =>
        r.bytes === BYTES && r.sha256 === s.baseline.sha256
      )
    ) && pooled.results.every((r) => r.peakMb < GOAL_MB)
    console.log(ok ? "PASS" : "FAIL")
    process.exitCode = ok ? 0 : 1
  } finally {
    await azurite.stop()
    NodeFs.rmSync(NodePath.dirname(script), { recursive: true, force: true })
    NodeFs.rmSync(dir, { recursive: true, force: true })
  }
}

runMainOrChild(main, () => child(process.argv[process.argv.indexOf("--child") + 1]!))
