/**
 * Loads a CommonJS bundle through V8's code cache (Node 20 has none for ES modules): a plain `sync`'s
 * whole run (effect, the pipeline, the Graph client, the sinks) is one script whose compiled code, taken
 * at the end of the first run that had no cache, is kept beside it as `<bundle>.cache`. Later starts skip
 * parsing and compiling what that run compiled (~0.15-0.2 s of CPU of an empty-window sync).
 *
 * The bundle's name carries a hash of its content (scripts/build-bin.mjs), so a cache is never read for
 * another bundle: V8 itself checks only the source's length, its own version and its flags, and rejects
 * a cache on those (then this compiles as without one and writes a new cache).
 */
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as NodePath from "node:path"
import * as NodeVm from "node:vm"

/** Imports a package left outside the bundle, as an ES module import from the bin would. */
export type ImportExternal = (specifier: string) => Promise<unknown>

/**
 * `module.exports` of the CommonJS bundle `file`, run once in this process. Its imports of packages left
 * outside it are calls to `importExternal` (scripts/build-bin.mjs rewrites them): a script read from a
 * code cache cannot `import()` on Node 20 without an experimental loader option, and `require()` would find
 * packages where `import` would not (NODE_PATH, global folders) and load them as CommonJS.
 */
export const loadCachedBundle = (file: string, importExternal: ImportExternal): unknown => {
  const cacheFile = `${file}.cache`
  const cachedData = readIfPresent(cacheFile)
  const script = new NodeVm.Script(wrap(NodeFs.readFileSync(file, "utf8")), {
    filename: file,
    ...(cachedData === undefined ? {} : { cachedData })
  })
  // At exit, what this run compiled is in the script: the next start reads it instead of compiling.
  if (cachedData === undefined || script.cachedDataRejected === true) {
    process.once("exit", () => writeCache(cacheFile, script))
  }
  const module = { exports: {} as unknown }
  const run = script.runInThisContext() as (...args: ReadonlyArray<unknown>) => void
  run.call(module.exports, module.exports, createRequire(file), module, file, NodePath.dirname(file), importExternal)
  return module.exports
}

/** As Module.wrap (on the first line, so positions past it map as in the file), plus the import callback. */
const wrap = (code: string): string =>
  `(function (exports, require, module, __filename, __dirname, __maImportExternal) { ${code}\n})`

const readIfPresent = (file: string): Buffer | undefined => {
  try {
    return NodeFs.readFileSync(file)
  } catch {
    return undefined
  }
}

/** Whole under its name or not at all (starts running at once read it); a read-only install keeps none. */
const writeCache = (file: string, script: NodeVm.Script): void => {
  const tmp = `${file}.${process.pid}.tmp`
  try {
    NodeFs.writeFileSync(tmp, script.createCachedData())
    NodeFs.renameSync(tmp, file)
  } catch {
    try {
      NodeFs.rmSync(tmp, { force: true })
    } catch {
      // nothing more to do: the next start compiles
    }
  }
}
