// Preloaded (`node --import`) into every process bench/cli-startup.ts measures, the baseline included:
// writes the process's peak RSS in bytes to fd 3 as it exits.
import { writeSync } from "node:fs"

process.on("exit", () => {
  try {
    writeSync(3, `${process.resourceUsage().maxRSS * 1024}\n`)
  } catch {
    // not started by the bench
  }
})
