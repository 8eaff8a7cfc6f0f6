/**
 * The GraphClient implementation: the client's core (policy, token provider, tenant limiter, HTTP
 * client, counters) bound to the endpoint table. The request loop lives in `request.ts`, paging in
 * `pages.ts`, content streams in `content.ts`.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Chunk from "effect/Chunk"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type { GraphClientOptions, GraphClientService, GraphStats } from "../GraphClient.js"
import * as GraphCredentials from "../GraphCredentials.js"
import { type BadRequest, NotFound } from "../GraphError.js"
import { type GraphPolicy, makePolicy } from "../GraphPolicy.js"
import * as Url from "../GraphUrl.js"
import type { OnlineMeeting } from "../OnlineMeeting.js"
import { makeTokenProvider } from "./auth.js"
import * as Endpoints from "./endpoints.js"
import { invalidArgument } from "./errors.js"
import { limiterFor } from "./limiter.js"
import { makeCore } from "./request.js"

const noMeetingWithJoinUrl = new NotFound({
  status: 404,
  code: "NotFound",
  innerCode: null,
  requestId: null,
  clientRequestId: null,
  method: "GET",
  route: "/onlineMeetings?$filter=JoinWebUrl",
  message: "No online meeting has this join URL for the user in the path (meetings expire 60 days after they end)."
})

export const make = (
  options: GraphClientOptions
): Effect.Effect<GraphClientService, BadRequest, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    let baseUrl: string
    let policy: GraphPolicy
    try {
      baseUrl = Url.normalizeBaseUrl(options.baseUrl ?? Url.DEFAULT_BASE_URL, options)
      policy = makePolicy(options.policy)
    } catch (e) {
      return yield* Effect.fail(invalidArgument((e as Error).message, "NEW", "GraphClient"))
    }
    const core = makeCore({
      baseUrl,
      policy,
      auth: makeTokenProvider(options.credential, options.scope ?? Url.scopeForBaseUrl(baseUrl)),
      limiter: limiterFor(policy),
      budget: options.budget,
      http: yield* HttpClient.HttpClient
    })
    const { listMeetingsByJoinUrl, ...endpoints } = Endpoints.bind(core)
    const findMeetingsByJoinUrl = (user: Url.UserRef, joinWebUrl: string) =>
      Effect.map(Stream.runCollect(listMeetingsByJoinUrl(user, joinWebUrl)), Chunk.toReadonlyArray)
    return {
      baseUrl,
      policy,
      ...endpoints,
      findMeetingsByJoinUrl,
      getMeetingByJoinUrl: (user, joinWebUrl) =>
        Effect.flatMap(findMeetingsByJoinUrl(user, joinWebUrl), (meetings: ReadonlyArray<OnlineMeeting>) =>
          meetings.length > 0 ? Effect.succeed(meetings[0]) : Effect.fail(noMeetingWithJoinUrl)),
      stats: Effect.sync((): GraphStats => ({ ...core.stats }))
    } satisfies GraphClientService
  })

/** `GraphClient.layerConfig`: the base URL and the credential from configuration (`GraphCredentials`). */
export const makeFromConfig = (options?: {
  readonly baseUrl?: Config.Config<string> | undefined
  readonly accessToken?: Config.Config<Option.Option<Redacted.Redacted<string>>> | undefined
  readonly policy?: Partial<GraphPolicy> | undefined
}): Effect.Effect<GraphClientService, ConfigError.ConfigError | BadRequest, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = options?.baseUrl === undefined ? yield* GraphCredentials.baseUrlConfig : yield* options.baseUrl
    const token = options?.accessToken === undefined ? Option.none() : yield* options.accessToken
    const resolved = Option.isSome(token)
      ? { credential: token.value, scope: undefined }
      : yield* GraphCredentials.fromConfig
    return yield* make({ baseUrl, credential: resolved.credential, scope: resolved.scope, policy: options?.policy })
  })
