/**
 * loadCachedBundle (internal/cachedBundle.ts), as bin.ts uses it for a plain sync's run: each load in a
 * process of its own, since the cache is written when the process exits.
 */
import * as NodeChild from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const loader = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/internal/cachedBundle.ts")

/**
 * A CommonJS bundle that requires a file beside it, imports a package through the loader's callback (as
 * scripts/build-bin.mjs rewrites a bundle's imports of externals) and reports where it runs.
 */
const makeBundle = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-cached-bundle-"))
  fs.writeFileSync(path.join(dir, "helper.cjs"), "exports.twice = (n) => 2 * n\n")
  fs.writeFileSync(
    path.join(dir, "bundle.cjs"),
    [
      "const { twice } = require(\"./helper.cjs\")",
      "const square = (n) => n * n",
      "exports.result = { value: twice(square(3)), dirname: __dirname, filename: __filename }",
      "exports.imported = __maImportExternal(\"node:path\").then((m) => m.sep)"
    ].join("\n")
  )
  return path.join(dir, "bundle.cjs")
}

/** Loads `bundle` in a new process; its exports' `result`. */
const load = (bundle: string) => {
  const out = NodeChild.execFileSync(process.execPath, [
    "--import",
    "tsx",
    "-e",
    `import(${JSON.stringify(loader)}).then(async (m) => {
      const asked = []
      const bundle = m.loadCachedBundle(${JSON.stringify(bundle)}, (s) => (asked.push(s), import(s)))
      console.log(JSON.stringify({ ...bundle.result, sep: await bundle.imported, asked }))
    })`
  ], { encoding: "utf8" })
  return JSON.parse(out.trim())
}

const expected = (bundle: string) => ({
  value: 18,
  dirname: path.dirname(bundle),
  filename: bundle,
  sep: path.sep,
  asked: ["node:path"]
})

describe("loadCachedBundle", () => {
  it("runs the bundle as a CommonJS module; the first load leaves a cache the next one reads", () => {
    const bundle = makeBundle()
    const cache = `${bundle}.cache`
    expect(load(bundle)).toEqual(expected(bundle))
    expect(fs.statSync(cache).size).toBeGreaterThan(0)
    const written = fs.readFileSync(cache)
    const { mtimeMs } = fs.statSync(cache)
    expect(load(bundle)).toEqual(expected(bundle))
    // read and accepted by V8: not written again
    expect(fs.statSync(cache).mtimeMs).toBe(mtimeMs)
    expect(fs.readFileSync(cache).equals(written)).toBe(true)
    expect(fs.readdirSync(path.dirname(bundle)).sort()).toEqual(["bundle.cjs", "bundle.cjs.cache", "helper.cjs"])
  })

  it("a cache V8 rejects is compiled around and replaced", () => {
    const bundle = makeBundle()
    const cache = `${bundle}.cache`
    fs.writeFileSync(cache, Buffer.alloc(4096, 7))
    expect(load(bundle)).toEqual(expected(bundle))
    const replaced = fs.readFileSync(cache)
    expect(replaced.equals(Buffer.alloc(4096, 7))).toBe(false)
    expect(replaced.length).toBeGreaterThan(0)
  })
})
