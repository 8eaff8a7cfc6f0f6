import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/slow-writer.ts")

/**
 * Run the slow writer and SIGKILL it `delayMs` after it says "started".
 * Resolves with whether it finished before the kill.
 */
export const runAndKill = (
  args: Array<string>,
  delayMs: number,
  env: Record<string, string> = {}
): Promise<{ finished: boolean; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
      cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
    })
    let out = ""
    let err = ""
    let timer: NodeJS.Timeout | undefined
    child.stdout.on("data", (d) => {
      out += String(d)
      if (timer === undefined && out.includes("started")) {
        timer = setTimeout(() => child.kill("SIGKILL"), delayMs)
      }
    })
    child.stderr.on("data", (d) => (err += String(d)))
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      if (timer) clearTimeout(timer)
      if (signal !== "SIGKILL" && code !== 0) reject(new Error(`child failed (${code}): ${err}`))
      else resolve({ finished: out.includes("done"), stderr: err })
    })
  })
