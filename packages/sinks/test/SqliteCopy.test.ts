/**
 * The dry run's private copy of a SQLite state file is taken again when the file changed during the copy;
 * "changed" must include a write-ahead log restarted from its start in place (same size, same inode, and
 * within one mtime tick: the same mtime), which changes only the log's header (checkpoint sequence, salts).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { versionOf } from "../src/internal/sqliteCopy.js"

describe("the dry run's state copy", () => {
  it("sees a write-ahead log rewritten in place with its size and mtime unchanged", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ma-sqlite-copy-"))
    try {
      const db = path.join(dir, "state.sqlite")
      fs.writeFileSync(db, Buffer.alloc(4096, 1))
      fs.writeFileSync(`${db}-wal`, Buffer.alloc(8192, 2))
      // a whole-second mtime, so setting it back is exact
      const tick = new Date(1_700_000_000_000)
      fs.utimesSync(`${db}-wal`, tick, tick)
      const before = versionOf(db)
      // a log restart: new salts in the header, same size, written in place, mtime as before (one tick)
      const fd = fs.openSync(`${db}-wal`, "r+")
      fs.writeSync(fd, Buffer.from("new salts in a restarted log header"), 0, undefined, 0)
      fs.closeSync(fd)
      fs.utimesSync(`${db}-wal`, tick, tick)
      expect(fs.statSync(`${db}-wal`).mtimeMs).toBe(tick.getTime())
      expect(versionOf(db)).not.toBe(before)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("reads an unchanged pair as the same version", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ma-sqlite-copy-"))
    try {
      const db = path.join(dir, "state.sqlite")
      fs.writeFileSync(db, Buffer.alloc(4096, 1))
      expect(versionOf(db)).toBe(versionOf(db))
      fs.writeFileSync(`${db}-wal`, Buffer.alloc(64, 2))
      expect(versionOf(db)).toBe(versionOf(db))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
