/**
 * What the `listen` job serves and subscribes to, and their validation (shared by the CLI and library
 * callers). Each knob's default and bounds live here, once.
 */
import { policyValueProblem } from "@meeting-artifacts/api/GraphPolicy"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import {
  DEFAULT_LISTEN_PORT,
  DEFAULT_QUEUE_LIMIT,
  LONG_SUBSCRIPTION_MINUTES,
  portProblem,
  queueLimitProblem,
  SHORT_SUBSCRIPTION_MINUTES,
  subscriptionMinutesProblem
} from "./ListenLimits.js"
import { parseIsoDateTime } from "./SyncOptions.js"

/** The options of `listen` are unusable (a non-HTTPS notification URL, a bad port, ...). */
export class InvalidListenOptions extends Schema.TaggedError<InvalidListenOptions>()("InvalidListenOptions", {
  message: Schema.String
}) {}

export interface ListenOptions {
  /**
   * The public HTTPS URL Graph posts notifications to (a reverse proxy or tunnel in front of this
   * process). Graph validates it when a subscription is created.
   */
  readonly notificationUrl: string
  /** Where Graph posts lifecycle events; required by Graph for a subscription that lasts over an hour. */
  readonly lifecycleNotificationUrl?: string | undefined
  /** Local port (0: any free port). Default 0. */
  readonly port?: number | undefined
  /** Local address. Default 127.0.0.1 (the proxy or tunnel runs beside it). */
  readonly host?: string | undefined
  /** Serve HTTPS with this certificate and key (PEM text) instead of plain HTTP (for a proxy that expects it). */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined
  /** Output directory, as `sync`'s. */
  readonly out: string
  /** Organizers to catch up from delta links (and to subscribe to one by one with `perOrganizer`). */
  readonly organizers?: ReadonlyArray<string> | undefined
  /** Subscribe to `users/{id}/onlineMeetings/getAll…` for each organizer instead of the tenant-wide resources. */
  readonly perOrganizer?: boolean | undefined
  /**
   * Start of the catch-up window (delta links start here). Default: the first start of `listen` on this
   * state, less a day, stored so every later start uses the same window (and its delta links).
   */
  readonly catchUpFrom?: string | undefined
  /** Lifetime asked for each subscription, minutes (fractions allowed). Default 60 without a lifecycle URL, else 4230. */
  readonly subscriptionMinutes?: number | undefined
  /** Notifications stored and not yet exported at most; over it the endpoint answers 503 + Retry-After. */
  readonly queueLimit?: number | undefined
  /** Concurrent content downloads, as `sync`'s `concurrency`. */
  readonly concurrency?: number | undefined
  /** Also export each transcript's metadataContent, as `sync`'s. */
  readonly metadataContent?: boolean | undefined
  /** Where the generated encryption certificates and keys live (mode 0600). */
  readonly certificateDir: string
  /** A certificate of your own (PEM) instead of generated ones; never rotated by the tool. */
  readonly certificate?: { readonly cert: string; readonly key: string } | undefined
  /** The app (client) id: the audience Graph's validation tokens must name. */
  readonly appId: string
  /** The tenant ids the subscriptions are for (validation tokens' `tid`). */
  readonly tenantIds: ReadonlyArray<string>
  /** Entra authority host, for the keys validation tokens are signed with. */
  readonly authorityHost?: string | undefined
}

export interface ValidatedListenOptions {
  readonly notificationUrl: string
  readonly lifecycleNotificationUrl: string | null
  readonly port: number
  readonly host: string
  readonly tls: { readonly cert: string; readonly key: string } | null
  readonly out: string
  readonly organizers: ReadonlyArray<string>
  readonly perOrganizer: boolean
  readonly catchUpFrom: string | null
  readonly subscriptionMinutes: number
  readonly queueLimit: number
  readonly concurrency: number | undefined
  readonly metadataContent: boolean
  readonly certificateDir: string
  readonly certificate: { readonly cert: string; readonly key: string } | null
  readonly appId: string
  readonly tenantIds: ReadonlyArray<string>
  readonly authorityHost: string | null
}

const isHttpsUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    return url.protocol === "https:" && url.hostname !== ""
  } catch {
    return false
  }
}

/** Checks and normalises options; fails with a one-line `InvalidListenOptions`. */
export const validateListenOptions = (
  options: ListenOptions
): Effect.Effect<ValidatedListenOptions, InvalidListenOptions> =>
  Effect.suspend(() => {
    const invalid = (message: string) => Effect.fail(new InvalidListenOptions({ message }))
    // Graph posts to HTTPS URLs only.
    if (!isHttpsUrl(options.notificationUrl)) {
      return invalid(`--notification-url must be an https:// URL, got ${JSON.stringify(options.notificationUrl)}`)
    }
    const lifecycle = options.lifecycleNotificationUrl ?? null
    if (lifecycle !== null && !isHttpsUrl(lifecycle)) {
      return invalid(`--lifecycle-url must be an https:// URL, got ${JSON.stringify(lifecycle)}`)
    }
    const port = options.port ?? DEFAULT_LISTEN_PORT
    const badPort = portProblem(port)
    if (badPort !== undefined) return invalid(`--port ${badPort}, got ${port}`)
    const organizers = [...new Set((options.organizers ?? []).map((o) => o.trim()))]
    if (organizers.some((o) => o === "")) return invalid("--organizer must not be empty")
    const perOrganizer = options.perOrganizer ?? false
    if (perOrganizer && organizers.length === 0) return invalid("--per-organizer needs at least one --organizer")
    let catchUpFrom: string | null = null
    if (options.catchUpFrom !== undefined) {
      catchUpFrom = parseIsoDateTime(options.catchUpFrom)
      if (catchUpFrom === null) {
        return invalid(`--catch-up-from is not an ISO 8601 date-time: ${JSON.stringify(options.catchUpFrom)}`)
      }
    }
    const subscriptionMinutes = options.subscriptionMinutes ??
      (lifecycle === null ? SHORT_SUBSCRIPTION_MINUTES : LONG_SUBSCRIPTION_MINUTES)
    const badMinutes = subscriptionMinutesProblem(subscriptionMinutes, lifecycle !== null)
    if (badMinutes !== undefined) return invalid(`--subscription-minutes ${badMinutes}, got ${subscriptionMinutes}`)
    const queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT
    const badLimit = queueLimitProblem(queueLimit)
    if (badLimit !== undefined) return invalid(`--queue-limit ${badLimit}, got ${queueLimit}`)
    if (options.out.trim() === "") return invalid("--out must not be empty")
    // Graph signs each notification that carries resource data with tokens for our app and tenant.
    if (options.appId.trim() === "") {
      return invalid("--client-id (AZURE_CLIENT_ID) is required: Graph's validation tokens must name this app")
    }
    if (options.tenantIds.length === 0 || options.tenantIds.some((t) => t.trim() === "")) {
      return invalid("--tenant-id (AZURE_TENANT_ID) is required: Graph's validation tokens must name this tenant")
    }
    const concurrencyProblem = options.concurrency === undefined
      ? undefined
      : policyValueProblem("maxConcurrentDownloads", options.concurrency)
    if (concurrencyProblem !== undefined) {
      return invalid(`--concurrency ${concurrencyProblem}, got ${options.concurrency}`)
    }
    return Effect.succeed({
      notificationUrl: options.notificationUrl,
      lifecycleNotificationUrl: lifecycle,
      port,
      host: options.host ?? "127.0.0.1",
      tls: options.tls ?? null,
      out: options.out,
      organizers,
      perOrganizer,
      catchUpFrom,
      subscriptionMinutes,
      queueLimit,
      concurrency: options.concurrency,
      metadataContent: options.metadataContent ?? false,
      certificateDir: options.certificateDir,
      certificate: options.certificate ?? null,
      appId: options.appId.trim(),
      tenantIds: options.tenantIds.map((t) => t.trim()),
      authorityHost: options.authorityHost ?? null
    })
  })
