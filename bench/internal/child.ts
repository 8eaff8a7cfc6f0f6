/**
 * What the memory benchmarks share: each runs its measured part in a child process of plain `node`
 * (this script bundled by esbuild, tsx's own dependency), so the tsx loader's memory is not counted,
 * and reads the child's resident and peak memory from /proc.
 */
import * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

/** Bundles `entry` into one ESM file in a new temp directory and returns its path. */
export const bundleForNode = (
  entry: string,
  options: {
    readonly external?: ReadonlyArray<string>
    readonly minify?: boolean
    /** imports resolved elsewhere (esbuild's `alias`), e.g. another copy of a package for an A/B */
    readonly alias?: Readonly<Record<string, string>>
    /** a `.map` beside the bundle (CPU profiles then name the sources) */
    readonly sourcemap?: boolean
  } = {}
): string => {
  const requireFromTsx = createRequire(createRequire(entry).resolve("tsx/package.json"))
  const esbuild = requireFromTsx("esbuild") as { buildSync: (o: Record<string, unknown>) => unknown }
  const name = NodePath.basename(entry).replace(/\.[^.]+$/, "")
  const outfile = NodePath.join(NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `${name}-`)), "child.mjs")
  esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "error",
    minify: options.minify ?? false,
    external: [...(options.external ?? [])],
    ...(options.alias === undefined ? {} : { alias: options.alias }),
    sourcemap: options.sourcemap ?? false,
    // CommonJS dependencies bundled into ESM need a require
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }
  })
  return outfile
}

/** VmRSS (now) and VmHWM (peak) of a process, in MB. */
export const memoryOf = (pid: number | "self" = "self"): { rssMb: number; peakMb: number } => {
  const status = NodeFs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN)
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 }
}

/**
 * Runs `script` (a bundle of a benchmark, see `bundleForNode`) as its own child (`--child` plus `args`), and
 * resolves with the JSON object on the last line of its stdout: a child's figures, measured in a process
 * of their own.
 */
export const runChildJson = <A>(
  script: string,
  options: {
    readonly args?: ReadonlyArray<string>
    readonly nodeFlags?: ReadonlyArray<string>
    readonly env?: Record<string, string>
  } = {}
): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const p = NodeChild.spawn(process.execPath, [
      ...(options.nodeFlags ?? []),
      script,
      "--child",
      ...(options.args ?? [])
    ], {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    p.stdout.on("data", (d) => (out += String(d)))
    p.on("exit", (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split("\n").at(-1)!) as A)
        : reject(new Error(`child${(options.args ?? []).map((a) => ` ${a}`).join("")} exited ${code}`)))
  })

/** A benchmark that measures in children of its own: runs `child` in a process started with `--child`, else `main`. */
export const runMainOrChild = (main: () => Promise<void>, child: () => Promise<void>): void => {
  const run = process.argv.includes("--child") ? child : main
  run().catch((e) => {
    console.error(e instanceof Error ? e.message : String(e))
    process.exit(1)
  })
}
