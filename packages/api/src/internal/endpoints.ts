/**
 * The endpoint table: each GraphClient method is one row naming its kind (a listing, a delta listing,
 * a single resource, a content download, a text body) and how its route is built from the arguments.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Content, ContentOptions, DeltaEvent, DeltaStart, ListOptions } from "../GraphClient.js"
import type { GraphError } from "../GraphError.js"
import type { SubscriptionCreate } from "../Subscription.js"
import * as Url from "../GraphUrl.js"
import * as Content_ from "./content.js"
import {
  deltaPages,
  getJson,
  guard,
  pages,
  type Resource,
  resources,
  type Write,
  writeJson,
  writeNoContent
} from "./pages.js"
import type { ClientCore } from "./request.js"
import * as Subscriptions from "./subscriptions.js"

/** A method of the service, given the client's core. */
type Endpoint<F> = (core: ClientCore) => F

type Build<P extends ReadonlyArray<unknown>> = (baseUrl: string, ...args: P) => Url.GraphRoute

const listing = <A, P extends ReadonlyArray<unknown>>(
  name: string,
  item: Resource<A>,
  build: Build<P>
): Endpoint<(...args: P) => Stream.Stream<A, GraphError>> =>
(core) =>
(...args) => pages(core, name, guard("GET", name, () => build(core.baseUrl, ...args)), item)

const delta = <A, W>(
  name: string,
  item: Resource<A>,
  build: Build<[W]>
): Endpoint<(start: DeltaStart<W>) => Stream.Stream<DeltaEvent<A>, GraphError>> =>
(core) =>
(start) => deltaPages(core, name, start, (w: W) => build(core.baseUrl, w), item)

const single = <A, P extends ReadonlyArray<unknown>>(
  name: string,
  item: Resource<A>,
  build: Build<P>
): Endpoint<(...args: P) => Effect.Effect<A, GraphError>> =>
(core) =>
(...args) =>
  Either.match(guard("GET", name, () => build(core.baseUrl, ...args)), {
    onLeft: Effect.fail,
    onRight: (route) => getJson(core, name, route, item.schema, item.name)
  })

/** A request that changes something: its route and body are built from the arguments (a bad one is a BadRequest). */
type BuildWrite<P extends ReadonlyArray<unknown>> = (
  baseUrl: string,
  ...args: P
) => { readonly route: Url.GraphRoute; readonly write: Write }

/** A write endpoint: the arguments build the route and body (a BadRequest when they cannot), `send` sends it. */
const writing = <A, P extends ReadonlyArray<unknown>>(
  name: string,
  method: Write["method"],
  build: BuildWrite<P>,
  send: (core: ClientCore, route: Url.GraphRoute, write: Write) => Effect.Effect<A, GraphError>
): Endpoint<(...args: P) => Effect.Effect<A, GraphError>> =>
(core) =>
(...args) =>
  Either.match(guard(method, name, () => build(core.baseUrl, ...args)), {
    onLeft: Effect.fail,
    onRight: ({ route, write }) => send(core, route, write)
  })

/** A write answered with the resource (JSON). */
const mutation = <A, P extends ReadonlyArray<unknown>>(
  name: string,
  item: Resource<A>,
  method: Write["method"],
  build: BuildWrite<P>
) => writing(name, method, build, (core, route, write) => writeJson(core, name, route, item.schema, item.name, write))

/** A write whose answer has no body to read (204). */
const action = <P extends ReadonlyArray<unknown>>(name: string, method: Write["method"], build: BuildWrite<P>) =>
  writing(name, method, build, (core, route, write) => writeNoContent(core, name, route, name, write))

/** Content downloads all address one artifact of a call, and take `ContentOptions`. */
type ArtifactArgs = [user: Url.UserRef, call: Url.CallRef, id: string]

const download = (
  name: string,
  accept: string,
  build: Build<ArtifactArgs>
): Endpoint<
  (...args: [...ArtifactArgs, options?: ContentOptions]) => Effect.Effect<Content, GraphError, Scope.Scope>
> =>
(core) =>
(user, call, id, options) => Content_.openFrom(core, name, () => build(core.baseUrl, user, call, id), accept, options)

const text = <P extends ReadonlyArray<unknown>>(
  name: string,
  accept: string,
  build: Build<P>
): Endpoint<(...args: P) => Effect.Effect<string, GraphError>> =>
(core) =>
(...args) => Content_.text(core, name, () => build(core.baseUrl, ...args), accept)

const VTT = "text/vtt"
const { meeting, recording, subscription, transcript } = resources

/** Every endpoint of the service but the derived ones (`getMeetingByJoinUrl`, `findMeetingsByJoinUrl`). */
export const table = {
  listRecordings: listing(
    "listRecordings",
    recording,
    (b, user: Url.UserRef, call: Url.CallRef, o?: ListOptions) => Url.listArtifacts(b, user, call, "recordings", o)
  ),
  getRecording: single(
    "getRecording",
    recording,
    (b, user: Url.UserRef, call: Url.CallRef, id: string) => Url.artifact(b, user, call, "recordings", id)
  ),
  recordingContent: download(
    "recordingContent",
    "*/*",
    (b, user, call, id) => Url.artifact(b, user, call, "recordings", id, "/content")
  ),
  listTranscripts: listing(
    "listTranscripts",
    transcript,
    (b, user: Url.UserRef, call: Url.CallRef, o?: ListOptions) => Url.listArtifacts(b, user, call, "transcripts", o)
  ),
  getTranscript: single(
    "getTranscript",
    transcript,
    (b, user: Url.UserRef, call: Url.CallRef, id: string) => Url.artifact(b, user, call, "transcripts", id)
  ),
  transcriptContent: text(
    "transcriptContent",
    VTT,
    (b, user: Url.UserRef, call: Url.CallRef, id: string) => Url.transcriptContent(b, user, call, id)
  ),
  transcriptContentStream: download(
    "transcriptContent",
    VTT,
    (b, user, call, id) => Url.transcriptContent(b, user, call, id)
  ),
  transcriptMetadataContent: text(
    "transcriptMetadataContent",
    "text/vtt, application/json;q=0.9, */*;q=0.8",
    (b, user: Url.UserRef, call: Url.CallRef, id: string) =>
      Url.artifact(b, user, call, "transcripts", id, "/metadataContent")
  ),
  getAllRecordings: listing(
    "getAllRecordings",
    recording,
    (b, w: Url.OrganizerWindow) => Url.getAllArtifacts(b, "recordings", w)
  ),
  getAllTranscripts: listing(
    "getAllTranscripts",
    transcript,
    (b, w: Url.OrganizerWindow) => Url.getAllArtifacts(b, "transcripts", w)
  ),
  getAllRecordingsDelta: delta(
    "getAllRecordingsDelta",
    recording,
    (b, w: Url.OrganizerWindow) => Url.getAllArtifacts(b, "recordings", w, true)
  ),
  getAllTranscriptsDelta: delta(
    "getAllTranscriptsDelta",
    transcript,
    (b, w: Url.OrganizerWindow) => Url.getAllArtifacts(b, "transcripts", w, true)
  ),
  getAllAdhocRecordings: listing(
    "getAllAdhocRecordings",
    recording,
    (b, w: Url.AdhocWindow) => Url.getAllAdhocArtifacts(b, "recordings", w)
  ),
  getAllAdhocTranscripts: listing(
    "getAllAdhocTranscripts",
    transcript,
    (b, w: Url.AdhocWindow) => Url.getAllAdhocArtifacts(b, "transcripts", w)
  ),
  getAllAdhocRecordingsDelta: delta(
    "getAllAdhocRecordingsDelta",
    recording,
    (b, w: Url.AdhocWindow) => Url.getAllAdhocArtifacts(b, "recordings", w, true)
  ),
  getAllAdhocTranscriptsDelta: delta(
    "getAllAdhocTranscriptsDelta",
    transcript,
    (b, w: Url.AdhocWindow) => Url.getAllAdhocArtifacts(b, "transcripts", w, true)
  ),
  getMeeting: single(
    "getMeeting",
    meeting,
    (b, user: Url.UserRef, meetingId: string) => Url.meeting(b, user, meetingId)
  ),
  createSubscription: mutation(
    "createSubscription",
    subscription,
    "POST",
    (b, create: SubscriptionCreate) => ({
      route: Url.subscriptions(b),
      // a repeated create makes a second subscription: never retried once Graph may have acted on it
      write: { method: "POST", body: Subscriptions.createBody(create), idempotent: false }
    })
  ),
  getSubscription: single("getSubscription", subscription, (b, id: string) => Url.subscription(b, id)),
  listSubscriptions: listing("listSubscriptions", subscription, (b) => Url.subscriptions(b)),
  renewSubscription: mutation(
    "renewSubscription",
    subscription,
    "PATCH",
    (b, id: string, expirationDateTime: string | Date, options?: Subscriptions.RenewOptions) => ({
      route: Url.subscription(b, id),
      write: { method: "PATCH", body: Subscriptions.renewBody(expirationDateTime, options) }
    })
  ),
  reauthorizeSubscription: action("reauthorizeSubscription", "POST", (b, id: string) => ({
    route: Url.subscription(b, id, "/reauthorize"),
    write: { method: "POST" }
  })),
  deleteSubscription: action("deleteSubscription", "DELETE", (b, id: string) => ({
    route: Url.subscription(b, id),
    write: { method: "DELETE" }
  })),
  listMeetingsByJoinUrl: listing(
    "findMeetingsByJoinUrl",
    meeting,
    (b, user: Url.UserRef, joinWebUrl: string) => Url.meetingByJoinUrl(b, user, joinWebUrl)
  )
} satisfies Record<string, Endpoint<unknown>>

type Table = typeof table

/** The table's methods bound to one client. */
export const bind = (core: ClientCore): { readonly [K in keyof Table]: ReturnType<Table[K]> } => {
  const out: Record<string, unknown> = {}
  for (const [name, endpoint] of Object.entries(table)) out[name] = endpoint(core)
  return out as { readonly [K in keyof Table]: ReturnType<Table[K]> }
}
