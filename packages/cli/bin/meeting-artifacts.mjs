#!/usr/bin/env node
// Runs the TypeScript sources directly, so the workspace needs no build step.
//
// Loading them through tsx's loader hooks costs seconds per start (every
// import, node_modules included, goes through the hooks). So the workspace's
// own sources are bundled once with esbuild into a cache keyed by their size
// and mtime stamps, with every dependency left external (resolved to the same
// files Node would load); later starts load plain JavaScript. If bundling is
// not possible (read-only install, esbuild missing), tsx runs the sources.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const packagesDir = path.resolve(cliRoot, "..")
const entry = path.join(cliRoot, "src", "bin.ts")

const stamp = () => {
  const hash = createHash("sha256")
  const walk = (dir) => {
    let entries
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const e of entries) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (/\.(ts|mts|js|mjs|json)$/.test(e.name)) {
        const s = fs.statSync(p)
        hash.update(`${p}\0${s.size}\0${s.mtimeMs}\n`)
      }
    }
  }
  // Dependencies are linked by absolute path: a new install means a new bundle.
  for (const f of [path.join(packagesDir, "..", "pnpm-lock.yaml"), path.join(packagesDir, "..", "node_modules", ".modules.yaml")]) {
    try {
      const s = fs.statSync(f)
      hash.update(`${f}\0${s.size}\0${s.mtimeMs}\n`)
    } catch {
      // not a pnpm workspace checkout
    }
  }
  for (const pkg of fs.readdirSync(packagesDir).sort()) {
    walk(path.join(packagesDir, pkg, "src"))
    try {
      const s = fs.statSync(path.join(packagesDir, pkg, "package.json"))
      hash.update(`${pkg}/package.json\0${s.size}\0${s.mtimeMs}\n`)
    } catch {
      // not a package
    }
  }
  return hash.digest("hex").slice(0, 20)
}

const bundle = async () => {
  if (process.env.MEETING_ARTIFACTS_NO_BUNDLE === "1") return null
  const cacheDir = path.join(cliRoot, "node_modules", ".cache", "meeting-artifacts")
  const dir = path.join(cacheDir, `cli-${stamp()}`)
  const main = path.join(dir, "bin.mjs")
  if (fs.existsSync(main)) return main
  const esbuild = await import("esbuild")
  fs.mkdirSync(cacheDir, { recursive: true })
  const tmp = `${dir}.${process.pid}.tmp`
  await esbuild.build({
    entryPoints: { bin: entry },
    outdir: tmp,
    outExtension: { ".js": ".mjs" },
    // Code behind dynamic imports (the sync job and its drivers) loads only when used.
    splitting: true,
    chunkNames: "chunk-[hash]",
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
    sourcemap: "inline",
    plugins: [{
      name: "dependencies-stay-external",
      setup(build) {
        build.onResolve({ filter: /^[^./]/ }, async (args) => {
          if (args.pluginData === "resolving" || args.path.startsWith("@meeting-artifacts/")) return undefined
          const r = await build.resolve(args.path, {
            kind: args.kind,
            resolveDir: args.resolveDir,
            importer: args.importer,
            pluginData: "resolving"
          })
          if (r.errors.length > 0) return { errors: r.errors }
          if (r.external || !path.isAbsolute(r.path)) return { path: args.path, external: true }
          return { path: pathToFileURL(r.path).href, external: true }
        })
      }
    }]
  })
  try {
    fs.renameSync(tmp, dir)
  } catch (e) {
    // Another process finished the same bundle first.
    fs.rmSync(tmp, { recursive: true, force: true })
    if (!fs.existsSync(main)) throw e
  }
  // Bundles of older source states are dead weight once no running process can still load a chunk
  // from them (the sync job is a lazily imported chunk).
  for (const old of fs.readdirSync(cacheDir)) {
    if (old === path.basename(dir) || !/^cli-[0-9a-f]+(\.mjs)?$/.test(old)) continue
    const p = path.join(cacheDir, old)
    try {
      if (Date.now() - fs.statSync(p).mtimeMs > 60 * 60_000) fs.rmSync(p, { recursive: true, force: true })
    } catch {
      // already gone
    }
  }
  return main
}

let bundled = null
try {
  bundled = await bundle()
} catch {
  bundled = null
}
let loaded = false
if (bundled !== null) {
  try {
    await import(pathToFileURL(bundled).href)
    loaded = true
  } catch (e) {
    // A dependency moved since the bundle was made: run the sources instead.
    if (e?.code !== "ERR_MODULE_NOT_FOUND") throw e
  }
}
if (!loaded) {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/bin.ts")
}
