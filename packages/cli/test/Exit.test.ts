import * as NodeChild from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"

const exitModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/internal/exit.ts")

const running = new Set<NodeChild.ChildProcess>()
// a process that does not end (the failure this file looks for) is not left behind
afterEach(() => {
  for (const child of running) child.kill("SIGKILL")
  running.clear()
})

/** Runs `source` (TypeScript) as its own Node process; what it wrote and how it ended. */
const runScript = (source: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-exit-"))
    const file = path.join(dir, "script.mts")
    fs.writeFileSync(file, source)
    const child = NodeChild.spawn(process.execPath, ["--import", "tsx", file], { stdio: ["ignore", "pipe", "pipe"] })
    running.add(child)
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code) => {
      running.delete(child)
      fs.rmSync(dir, { recursive: true, force: true })
      resolve({ code, stdout, stderr })
    })
  })

describe("exitWhenFlushed", () => {
  it("ends the process with its code once stdout and stderr are out, though a timer would keep it alive", async () => {
    const r = await runScript(`
      import { exitWhenFlushed } from ${JSON.stringify(exitModule)}
      setInterval(() => {}, 1000)
      const line = "x".repeat(65535) + "\\n"
      for (let i = 0; i < 64; i++) process.stdout.write(line)
      process.stderr.write("last line\\n")
      exitWhenFlushed(3)
    `)
    expect(r.stderr).toBe("last line\n")
    expect(r.code).toBe(3)
    expect(r.stdout.length).toBe(64 * 65536)
  }, 60_000)
})
