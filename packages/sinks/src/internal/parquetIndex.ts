/**
 * What the Parquet sink's folder holds, kept in memory while it is open (one
 * writer at a time): which merge set file holds which artifact, and under
 * which date partitions a file name exists. Built once when the sink opens,
 * then updated by each write, so a write never scans the folder.
 */

export interface IndexedSet {
  /** Absolute path of the set's file. */
  readonly file: string
  readonly setId: string
  readonly recordingId: string | null
  readonly transcriptId: string | null
}

const keysOf = (
  s: { readonly setId: string; readonly recordingId: string | null; readonly transcriptId: string | null }
) => [
  `s:${s.setId}`,
  ...(s.recordingId !== null ? [`r:${s.recordingId}`] : []),
  ...(s.transcriptId !== null ? [`t:${s.transcriptId}`] : [])
]

/** Merge set files by the ids they hold (a killed write can leave an id in two files for a while). */
export class SetIndex {
  private readonly byFile = new Map<string, IndexedSet>()
  private readonly byKey = new Map<string, Set<string>>()

  put(entry: IndexedSet): void {
    this.remove(entry.file)
    this.byFile.set(entry.file, entry)
    for (const k of keysOf(entry)) {
      let files = this.byKey.get(k)
      if (files === undefined) this.byKey.set(k, files = new Set())
      files.add(entry.file)
    }
  }

  remove(file: string): void {
    const old = this.byFile.get(file)
    if (old === undefined) return
    this.byFile.delete(file)
    for (const k of keysOf(old)) {
      const files = this.byKey.get(k)
      files?.delete(file)
      if (files?.size === 0) this.byKey.delete(k)
    }
  }

  /** The files holding the set id, the recording or the transcript. */
  holding(setId: string, recordingId: string | null, transcriptId: string | null): Array<IndexedSet> {
    const files = new Set<string>()
    for (const k of keysOf({ setId, recordingId, transcriptId })) for (const f of this.byKey.get(k) ?? []) files.add(f)
    return [...files].sort().map((f) => this.byFile.get(f)!)
  }
}

/** For each file name of a table, the date partitions it is in. */
export class Locations {
  private readonly dates = new Map<string, Set<string>>()

  put(name: string, date: string): void {
    let ds = this.dates.get(name)
    if (ds === undefined) this.dates.set(name, ds = new Set())
    ds.add(date)
  }

  remove(name: string, date: string): void {
    const ds = this.dates.get(name)
    ds?.delete(date)
    if (ds?.size === 0) this.dates.delete(name)
  }

  datesOf(name: string): Array<string> {
    return [...(this.dates.get(name) ?? [])].sort()
  }
}
