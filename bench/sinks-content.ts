/**
 * Writing a 1 GiB content stream through the sinks must take constant memory
 * (goal: peak RSS of the writing process under 150 MB):
 *
 * - filesystem: `FileSystemSink.writeContent` from a stream of fresh 64 KiB
 *   chunks (temp file, fsync, rename);
 * - azure-blob-from-file: `AzureBlobSink` `writeSet` copying the file the
 *   filesystem sink wrote (what `--sink azure-blob` does in a sync), read
 *   straight into pooled 4 MiB blocks, 2 staged at a time, on Azurite;
 * - azure-blob: `AzureBlobSink` `content.write` from the same fresh-chunk stream.
 *
 * Each measurement runs in its own child process (this script, bundled by
 * esbuild so the tsx loader's own memory is not counted) and reports its peak
 * RSS (maxRSS / VmHWM). The baseline, in the same run, is a child that only
 * generates and drains the stream: its peak is mostly the garbage of fresh
 * chunks that V8 lets pile up (about 64 MB of external memory) before a GC,
 * which every stream-consuming mode carries too. `--reuse-chunks` makes the
 * generator reuse 16 buffers, which shows the sinks' own overhead.
 *
 *   pnpm exec tsx bench/sinks-content.ts [--bytes 1073741824] [--reuse-chunks]
 *   (BENCH_TRACE=1 samples memory every 200 ms; BENCH_BLOCK / BENCH_CONCURRENCY tune the blob upload)
 */
import * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"

const GOAL_MB = 150
const CHUNK = 64 * 1024
const argValue = (name: string) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const BYTES = Number(argValue("--bytes") ?? 1024 ** 3)

const peakFromProc = () => {
  const status = NodeFs.readFileSync("/proc/self/status", "utf8")
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024
}

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
  const ring = process.env.BENCH_REUSE ? Array.from({ length: 16 }, () => Buffer.alloc(CHUNK)) : undefined
  // Fresh chunks like a network stream would deliver (not one reused buffer).
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
      console.error(`  [${mode}] rss ${(m.rss / 1048576).toFixed(0)} heap ${(m.heapUsed / 1048576).toFixed(0)} external ${(m.external / 1048576).toFixed(0)} arrayBuffers ${(m.arrayBuffers / 1048576).toFixed(0)} hwm ${peakFromProc().toFixed(0)}`)
    }, 200)
    : undefined
  let out: { bytes: number; sha256: string | null }
  if (mode === "baseline") {
    const bytes = await Effect.runPromise(Stream.runFold(content, 0, (n, c) => n + c.length))
    out = { bytes, sha256: null }
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

/** Bundle this script with esbuild (resolved through tsx, which depends on it) for plain node. */
const bundle = (): string => {
  const self = fileURLToPath(import.meta.url)
  const requireFromTsx = createRequire(createRequire(self).resolve("tsx/package.json"))
  const esbuild = requireFromTsx("esbuild") as { buildSync: (o: Record<string, unknown>) => unknown }
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "sinks-content-"))
  const outfile = NodePath.join(dir, "child.mjs")
  esbuild.buildSync({
    entryPoints: [self],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "error",
    // Only needed with a token credential, never here.
    external: ["@azure/identity"],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }
  })
  return outfile
}

const runChild = (script: string, mode: string, env: Record<string, string>) =>
  new Promise<Result>((resolve, reject) => {
    const p = NodeChild.spawn(process.execPath, [script, "--child", mode], {
      env: {
        ...process.env,
        BENCH_BYTES: String(BYTES),
        ...(process.argv.includes("--reuse-chunks") ? { BENCH_REUSE: "1" } : {}),
        ...env
      },
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    p.stdout.on("data", (d) => (out += String(d)))
    p.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split("\n").at(-1)!)) : reject(new Error(`${mode} child exited ${code}`))
    )
  })

const main = async () => {
  const { startAzurite } = await import("../packages/sinks/test/support/servers.js")
  const script = bundle()
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "sinks-content-out-"))
  const azurite = await startAzurite()
  try {
    const baseline = await runChild(script, "baseline", {})
    const fsResult = await runChild(script, "filesystem", { BENCH_DIR: dir })
    const copy = await runChild(script, "azure-blob-from-file", {
      BENCH_AZURE: azurite.url,
      BENCH_DIR: dir,
      BENCH_FILE: JSON.stringify({ path: "org/meeting/recording-bench.mp4", bytes: fsResult.bytes, sha256: fsResult.sha256 })
    })
    NodeFs.rmSync(dir, { recursive: true, force: true })
    const blob = await runChild(script, "azure-blob", { BENCH_AZURE: azurite.url })
    const mibps = (r: Result) => (r.bytes / 1024 / 1024 / r.seconds).toFixed(0)
    const chunks = process.argv.includes("--reuse-chunks") ? "reused" : "fresh"
    console.log(`sinks-content: ${(BYTES / 1024 ** 3).toFixed(2)} GiB, ${chunks} 64 KiB chunks, each mode in its own process`)
    for (const r of [baseline, fsResult, copy, blob]) {
      const verdict = r === baseline ? "" : r.peakMb < GOAL_MB ? " ok" : " OVER"
      console.log(
        `  ${r.mode.padEnd(20)}: ${r.bytes} bytes in ${r.seconds.toFixed(2)} s = ${mibps(r)} MiB/s; peak RSS ${
          r.peakMb.toFixed(0)
        } MB (${(r.peakMb / baseline.peakMb).toFixed(2)}x baseline, +${(r.peakMb - baseline.peakMb).toFixed(0)} MB; goal < ${GOAL_MB} MB)${verdict}`
      )
    }
    const ok = [fsResult, copy, blob].every((r) => r.bytes === BYTES && r.sha256 === fsResult.sha256) &&
      [fsResult, copy, blob].every((r) => r.peakMb < GOAL_MB)
    console.log(ok ? "PASS" : "FAIL")
    process.exitCode = ok ? 0 : 1
  } finally {
    await azurite.stop()
    NodeFs.rmSync(NodePath.dirname(script), { recursive: true, force: true })
    NodeFs.rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv.includes("--child")) {
  child(process.argv[process.argv.indexOf("--child") + 1]!).catch((e) => {
    console.error(e instanceof Error ? e.message : String(e))
    process.exit(1)
  })
} else {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : String(e))
    process.exit(1)
  })
}
