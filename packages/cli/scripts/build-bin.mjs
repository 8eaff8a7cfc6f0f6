#!/usr/bin/env node
// Builds the `meeting-artifacts` command into dist/bin.js: src/bin.ts with everything it imports (the
// workspace packages' sources, effect, @effect/*) bundled, so a start reads one file instead of resolving
// and loading hundreds of modules. Code behind dynamic imports (the sync job, the emulator) goes to
// dist/chunks/, read only when used: --help and --version parse just what they need. A plain sync's one export is
// also built as one CommonJS script, dist/chunks/sync-<hash>.cjs, loaded through V8's code cache. Left to Node's resolution at run time: native addons and the drivers that
// are optional peer dependencies (the sinks load them on use and name the package when it is missing).
//
//   node scripts/build-bin.mjs              # always
//   node scripts/build-bin.mjs --if-stale   # only when a source, package.json or the lockfile changed
import { createHash } from "node:crypto"
import { createRequire } from "node:module"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const packagesDir = path.dirname(cliRoot)
const outDir = path.join(cliRoot, "dist")
const outFile = path.join(outDir, "bin.js")
const chunksDir = path.join(outDir, "chunks")
const stampFile = path.join(outDir, "bin.stamp")

export const external = [
  "better-sqlite3",
  "@duckdb/node-api",
  "@effect/sql-pg",
  "@effect/sql-pg/*",
  "@azure/storage-blob",
  "@azure/identity",
  // A CommonJS package loaded only for a YAML --config: bundled, its named exports are lost behind an interop default.
  "yaml",
  // Telemetry loads only with OTEL_* set; as packages of their own, the OpenTelemetry SDK and exporters
  // stay out of the bundle's parse and show as loaded (or not) by name.
  "@effect/opentelemetry",
  "@effect/opentelemetry/*",
  "@opentelemetry/*"
]

/**
 * @effect/cli imports the yaml, toml and ini parsers at its top level for `Options.file*` parsing, which
 * no command here uses: loading yaml (84 CommonJS files) cost every command ~4 MB of RSS. Each import of
 * theirs from @effect/cli gets a `parse` that requires the parser on its first call instead.
 */
const lazyParsers = {
  name: "lazy-effect-cli-parsers",
  setup(build) {
    build.onResolve({ filter: /^(yaml|toml|ini)$/ }, (args) =>
      /[\\/]@effect[\\/]cli[\\/]/.test(args.importer)
        ? { path: args.path, namespace: "lazy-parser", pluginData: { resolveDir: args.resolveDir } }
        : undefined)
    build.onLoad({ filter: /.*/, namespace: "lazy-parser" }, (args) => ({
      contents: `module.exports = { parse: (...args) => require(${JSON.stringify(args.path)}).parse(...args) }`,
      loader: "js",
      resolveDir: args.pluginData.resolveDir
    }))
  }
}

/**
 * The specifier under which the sync script asks for telemetry's OTLP module (src/internal/otlp.ts): bin.ts
 * answers it with that module as an ES module chunk, so it and the OpenTelemetry packages it imports load
 * as ES modules, as from every other command (see IMPORT_EXTERNAL).
 */
const OTLP_MODULE = "#meeting-artifacts/otlp"

const otlpAsModule = {
  name: "otlp-as-module",
  setup(build) {
    build.onResolve(
      { filter: /^\.\/otlp\.js$/ },
      (args) =>
        /[\\/]cli[\\/]src[\\/]internal[\\/]telemetry\.ts$/.test(args.importer)
          ? { path: OTLP_MODULE, external: true }
          : undefined
    )
  }
}

/**
 * The sync script's function parameter that imports a package left outside it (bin.ts passes `(s) =>
 * import(s)`, see internal/cachedBundle.ts). A script read from a V8 code cache cannot `import()` on Node
 * 20 ("A dynamic import callback was not specified") and `require()` would find packages elsewhere than
 * `import` (NODE_PATH, global folders) and not as ES modules: each import() of an external becomes a call
 * to it, and any other import( left fails the build.
 */
const IMPORT_EXTERNAL = "__maImportExternal"

const importsThroughLoader = (code) => {
  const rewritten = code.replace(/\bimport\(("(?:[^"\\]|\\.)*")\)/g, (_, specifier) => {
    const name = JSON.parse(specifier)
    const known = name === OTLP_MODULE ||
      external.some((e) => e.endsWith("/*") ? name.startsWith(e.slice(0, -1)) : name === e)
    if (!known) throw new Error(`build-bin: the sync script imports ${name}, which is not an external`)
    return `${IMPORT_EXTERNAL}(${specifier})`
  })
  const left = /\bimport\s*\(/.exec(rewritten)
  if (left !== null) {
    throw new Error(
      `build-bin: an import( is left in the sync script: ${rewritten.slice(left.index - 60, left.index + 60)}`
    )
  }
  return rewritten
}

/** Sizes and mtimes of everything the bundle is made from (workspace sources, manifests, the lockfile). */
const sourceStamp = () => {
  const hash = createHash("sha256")
  const add = (file) => {
    try {
      const s = fs.statSync(file)
      hash.update(`${file}\0${s.size}\0${s.mtimeMs}\n`)
    } catch {
      // absent: part of the stamp too
      hash.update(`${file}\0-\n`)
    }
  }
  const walk = (dir) => {
    let entries
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else add(p)
    }
  }
  add(path.join(packagesDir, "..", "pnpm-lock.yaml"))
  add(fileURLToPath(import.meta.url))
  for (const pkg of fs.readdirSync(packagesDir).sort()) {
    add(path.join(packagesDir, pkg, "package.json"))
    walk(path.join(packagesDir, pkg, "src"))
  }
  return hash.digest("hex")
}

/** Write a file under its final name only once complete (concurrent builds each rename a whole file). */
const writeAtomic = (file, contents) => {
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, contents)
  fs.renameSync(tmp, file)
}

export const buildBin = async ({ ifStale = false } = {}) => {
  const stamp = sourceStamp()
  if (ifStale && fs.existsSync(outFile)) {
    try {
      if (fs.readFileSync(stampFile, "utf8") === stamp) return { built: false, file: outFile }
    } catch {
      // no stamp: build
    }
  }
  // Resolved from this package (its devDependency), not from whoever loads this file: vitest loads it
  // as the global setup of projects whose root has no esbuild of its own.
  const esbuild = await import(pathToFileURL(createRequire(import.meta.url).resolve("esbuild")).href)
  // A plain sync's one export (src/internal/exportMain.ts and all it imports) also as one CommonJS script,
  // which bin.ts loads through V8's code cache (src/internal/cachedBundle.ts). Named by its content's
  // hash: a cache beside it is never one of another build's.
  const syncRun = await esbuild.build({
    entryPoints: [path.join(cliRoot, "src", "internal", "exportMain.ts")],
    outfile: path.join(chunksDir, "sync.cjs"),
    bundle: true,
    write: false,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "warning",
    // a bundled dependency's optional native loader reads import.meta.url inside a try
    logOverride: { "empty-import-meta": "silent" },
    external,
    plugins: [lazyParsers, otlpAsModule],
    minifyWhitespace: true,
    minifySyntax: true
  })
  const syncRunCode = importsThroughLoader(syncRun.outputFiles[0].text)
  const syncRunFile = path.join(
    chunksDir,
    `sync-${createHash("sha256").update(syncRunCode).digest("hex").slice(0, 16)}.cjs`
  )
  const result = await esbuild.build({
    entryPoints: { bin: path.join(cliRoot, "src", "bin.ts") },
    outdir: outDir,
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    write: false,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    sourcesContent: false,
    logLevel: "warning",
    external,
    plugins: [lazyParsers],
    define: { __MA_SYNC_BUNDLE__: JSON.stringify(`./chunks/${path.basename(syncRunFile)}`) },
    // Whitespace and syntax only (names kept, so errors and spans read the same; the linked source map
    // maps positions back): Node keeps each loaded chunk's source text in the heap for as long as it runs,
    // and a sync peaks ~2.5 MB lower.
    minifyWhitespace: true,
    minifySyntax: true,
    // Bundled CommonJS dependencies call require() for Node built-ins.
    banner: {
      js:
        "import { createRequire as __maCreateRequire } from \"node:module\"\nconst require = __maCreateRequire(import.meta.url)"
    }
  })
  fs.mkdirSync(chunksDir, { recursive: true })
  // Chunks (content-hashed names) before the entry that imports them, each file whole under its name, so a
  // concurrent start or build never reads a half-written file.
  const written = new Set()
  writeAtomic(syncRunFile, syncRunCode)
  written.add(syncRunFile)
  const outputs = [...result.outputFiles].sort((a, b) => Number(a.path === outFile) - Number(b.path === outFile))
  for (const f of outputs) {
    writeAtomic(f.path, f.contents)
    written.add(f.path)
  }
  // Chunks of older builds, once no running process can still be loading them.
  for (const name of fs.readdirSync(chunksDir)) {
    const p = path.join(chunksDir, name)
    try {
      // (a code cache, written by the first run, goes with its bundle)
      if (!written.has(p.replace(/\.cache$/, "")) && Date.now() - fs.statSync(p).mtimeMs > 60 * 60_000) {
        fs.rmSync(p, { force: true })
      }
    } catch {
      // already gone
    }
  }
  writeAtomic(stampFile, stamp)
  return { built: true, file: outFile }
}

/** Vitest global setup of the projects whose tests run the command: they always run the current sources. */
export const setup = async () => {
  await buildBin({ ifStale: true })
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await buildBin({ ifStale: process.argv.includes("--if-stale") })
}
