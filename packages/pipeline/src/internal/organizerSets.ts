/**
 * An organizer's discovery made into correlated sets, with every artifact handled once per run: the
 * same rule for a single-process sync and for a run spread over runners.
 */
import { ArtifactSet, correlate } from "@meeting-artifacts/correlate"
import type { Artifacts } from "./discover.js"

const dedupe = <A extends { readonly id: string }>(items: Iterable<A>): Array<A> => {
  const map = new Map<string, A>()
  for (const a of items) map.set(a.id, a)
  return [...map.values()]
}

/**
 * The sets of one organizer's artifacts that no earlier organizer of the run had (`seen` holds the
 * run's artifacts so far, and gets these). Ad hoc call artifacts are correlated apart (their ids are
 * not meeting ids) and their sets marked `source: "adhocCall"`.
 */
export const organizerSets = (
  seen: Set<string>,
  organizerId: string,
  discovery: Artifacts & { readonly adhoc: Artifacts }
): Array<ArtifactSet> => {
  const unseen = <A extends { readonly id: string }>(prefix: string, items: ReadonlyArray<A>) => {
    const fresh = dedupe(items).filter((a) => !seen.has(`${prefix}:${a.id}`))
    for (const a of fresh) seen.add(`${prefix}:${a.id}`)
    return fresh
  }
  const meetingSets = correlate(unseen("r", discovery.recordings), unseen("t", discovery.transcripts), {
    organizerId
  })
  const callSets = correlate(unseen("r", discovery.adhoc.recordings), unseen("t", discovery.adhoc.transcripts), {
    organizerId
  }).map((set) => new ArtifactSet({ ...set, source: "adhocCall" }))
  return [...meetingSets, ...callSets]
}
