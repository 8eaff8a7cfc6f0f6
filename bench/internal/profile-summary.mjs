// Summarises a V8 CPU profile (`--profile <dir>` of sync-overhead / sync-bulk, or any `node --cpu-prof`):
// sample time by package, source file and function, self and inclusive, each frame mapped to its original
// source through the bundle's source map (packages/<name>/src/..., or the dependency it came from).
//
//   node bench/internal/profile-summary.mjs <file.cpuprofile> [--top 30] [--callers <function or file:line>]
//
// `--callers X`: the stacks (project and node frames, Effect's run loop left out) that lead to frames
// matching X, with their time. Sample time is wall time of the main thread: a blocking system call, or
// the thread waiting for a core on a loaded machine, counts as the frame that made it.
import * as NodeFs from "node:fs"
import { SourceMap } from "node:module"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"

const args = process.argv.slice(2)
const flag = (name) => {
  const i = args.indexOf(name)
  return i < 0 ? undefined : args[i + 1]
}
const file = args.find((a, i) => !a.startsWith("--") && (i === 0 || !args[i - 1].startsWith("--")))
if (file === undefined) {
  console.error("usage: node bench/internal/profile-summary.mjs <file.cpuprofile> [--top N] [--callers X]")
  process.exit(2)
}
const top = Number(flag("--top") ?? 30)
const callersOf = flag("--callers")
const profile = JSON.parse(NodeFs.readFileSync(file, "utf8"))

const maps = new Map()
/** The source map next to a bundled script (`<file>.map`), or null. */
const mapOf = (url) => {
  if (!maps.has(url)) {
    let map = null
    try {
      const path = fileURLToPath(url)
      if (NodeFs.existsSync(`${path}.map`)) {
        map = {
          dir: NodePath.dirname(path),
          map: new SourceMap(JSON.parse(NodeFs.readFileSync(`${path}.map`, "utf8")))
        }
      }
    } catch {
      // not a file URL (node: internals, native frames)
    }
    maps.set(url, map)
  }
  return maps.get(url)
}

/** A path as `packages/<pkg>/...`, `<dependency>/...` or node's own module name. */
const shorten = (source) =>
  source
    .replace(/^file:\/\//, "")
    .replace(/^.*\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, "")
    .replace(/^.*\/packages\//, "packages/")

const located = new Map()
/** Where a profile node's function comes from: { source, line, name }. */
const locate = (node) => {
  let found = located.get(node.id)
  if (found === undefined) {
    const { columnNumber, functionName, lineNumber, url } = node.callFrame
    let source = url || functionName || "(native)"
    let line = lineNumber
    const mapped = url ? mapOf(url) : null
    const entry = mapped?.map.findEntry(lineNumber, columnNumber)
    if (entry?.originalSource) {
      source = NodePath.resolve(mapped.dir, entry.originalSource.replace(/^file:\/\//, ""))
      line = entry.originalLine
    }
    found = { source: shorten(source), line: line + 1, name: functionName || "(anonymous)" }
    located.set(node.id, found)
  }
  return found
}

/** The package a source belongs to: packages/<name>, a dependency's name, "node", or the frame itself. */
const packageOf = (source) =>
  /^packages\/([^/]+)/.exec(source)?.[1] ??
    /^(@[^/]+\/[^/]+|[^/(]+)\/(?:src|lib|dist|build)\//.exec(source)?.[1] ??
    (source.startsWith("node:") ? "node" : source)

const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parentOf = new Map()
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
const timeOf = new Map()
profile.samples.forEach((id, i) => timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const total = [...timeOf.values()].reduce((a, b) => a + b, 0)

const add = (table, key, us) => table.set(key, (table.get(key) ?? 0) + us)
const tables = {
  selfPackage: new Map(),
  selfSource: new Map(),
  selfFunction: new Map(),
  inclusivePackage: new Map(),
  inclusiveSource: new Map(),
  inclusiveFunction: new Map()
}
const fn = (l) => `${l.name} ${l.source}:${l.line}`
const callers = new Map()
for (const [id, us] of timeOf) {
  const self = locate(byId.get(id))
  add(tables.selfPackage, packageOf(self.source), us)
  add(tables.selfSource, self.source, us)
  add(tables.selfFunction, fn(self), us)
  const stack = []
  for (let c = id; c !== undefined; c = parentOf.get(c)) stack.push(locate(byId.get(c)))
  // a frame that recurses counts once per sample
  for (const key of new Set(stack.map((l) => packageOf(l.source)))) add(tables.inclusivePackage, key, us)
  for (const key of new Set(stack.map((l) => l.source))) add(tables.inclusiveSource, key, us)
  for (const key of new Set(stack.map(fn))) add(tables.inclusiveFunction, key, us)
  if (callersOf !== undefined) {
    const at = stack.findIndex((l) => fn(l).includes(callersOf))
    if (at >= 0) {
      const path = stack.slice(at + 1).filter((l) =>
        !/^(effect\/|node:internal\/process|\(root\)|runMicrotasks)/.test(l.source)
      ).slice(0, 8)
      add(callers, [fn(stack[at]), ...path.map(fn)].join("\n      <- "), us)
    }
  }
}

const show = (title, table) => {
  console.log(`\n== ${title}`)
  for (const [key, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${key}`)
  }
}
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`)
if (callersOf !== undefined) show(`stacks leading to ${callersOf}`, callers)
else {
  show("self, by package", tables.selfPackage)
  show("self, by source", tables.selfSource)
  show("self, by function", tables.selfFunction)
  show("inclusive, by package", tables.inclusivePackage)
  show(
    "inclusive, by function in packages/ (not Effect's run loop: what runs inside a step)",
    new Map([...tables.inclusiveFunction].filter(([k]) => k.includes(" packages/")))
  )
}
