/**
 * Graph's change-notification subscriptions for recordings and transcripts: the store behind
 * `/subscriptions`, the validation handshake, and delivery of notifications (encrypted resource data,
 * validation tokens, retries, lifecycle events and injected faults) to the subscribers' URLs.
 */
import * as NodeCrypto from "node:crypto"
import * as NodeTls from "node:tls"
import type { MutableCounters } from "../Counters.js"
import {
  type LifecycleEvent,
  type NotificationFaultConfig,
  type NotificationFaultKind,
  type NotificationOptions
} from "../Notifications.js"
import { postNotification, type PostResult } from "./notificationHttp.js"
import { changeNotification, lifecycleNotification, notificationCollection } from "./changeNotification.js"
import type { EncryptionCertificate } from "./notificationCrypto.js"
import {
  checkCertificate,
  checkExpiration,
  checkUrl,
  invalid,
  parseResource,
  type ResourceMatch,
  str,
  SubscriptionFailure
} from "./subscriptionRequest.js"
import { dice } from "./prng.js"
import type { ArtifactEntry, TenantState } from "./state.js"
import type { SigningKey } from "./validationTokens.js"

export interface SubscriptionRecord {
  readonly id: string
  readonly resource: string
  readonly changeType: string
  readonly clientState: string | null
  notificationUrl: string
  readonly lifecycleNotificationUrl: string | null
  expirationMs: number
  readonly applicationId: string
  readonly creatorId: string
  readonly includeResourceData: boolean
  encryptionCertificate: string | null
  encryptionCertificateId: string | null
  certificate: EncryptionCertificate | undefined
  readonly notificationUrlAppId: string | null
  readonly latestSupportedTlsVersion: string
  readonly match: ResourceMatch
  /** the expiry the `reauthorizationRequired` timer was set for */
  timer: ReturnType<typeof setTimeout> | undefined
  /**
   * set by a `reauthorizationRequired` event: after this time (ms) deliveries pause, and what changes
   * meanwhile is lost, until the app reauthorizes or renews
   */
  pauseAtMs: number | undefined
}

/** The subscription as Graph serves it. */
export const subscriptionPayload = (s: SubscriptionRecord) => ({
  id: s.id,
  resource: s.resource,
  applicationId: s.applicationId,
  changeType: s.changeType,
  clientState: s.clientState,
  notificationUrl: s.notificationUrl,
  notificationQueryOptions: null,
  lifecycleNotificationUrl: s.lifecycleNotificationUrl,
  expirationDateTime: new Date(s.expirationMs).toISOString(),
  creatorId: s.creatorId,
  includeResourceData: s.includeResourceData,
  latestSupportedTlsVersion: s.latestSupportedTlsVersion,
  encryptionCertificate: s.encryptionCertificate,
  encryptionCertificateId: s.encryptionCertificateId,
  notificationUrlAppId: s.notificationUrlAppId
})

/** Who is calling: from the access token. */
export interface Caller {
  readonly appId: string
  /** set for delegated tokens */
  readonly userId: string | undefined
}

export interface NotificationRuntime {
  readonly state: TenantState
  readonly counters: MutableCounters
  readonly options: NotificationOptions
  readonly signingKey: () => SigningKey
  readonly defaultSeed: number
}

export class SubscriptionStore {
  readonly subscriptions = new Map<string, SubscriptionRecord>()
  private faults: NotificationFaultConfig = {}
  private faultSeed = 0
  private used = new Map<number, number>()
  private pending = 0
  private idleWaiters: Array<() => void> = []
  private held: Array<() => void> = []
  private timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly closing = new AbortController()
  private closed = false
  private readonly ca: Array<string> | undefined

  constructor(private readonly rt: NotificationRuntime) {
    const extra = rt.options.ca === undefined ? [] : typeof rt.options.ca === "string" ? [rt.options.ca] : rt.options.ca
    this.ca = extra.length > 0 ? [...NodeTls.rootCertificates, ...extra] : undefined
    rt.state.onArtifactAdded = (entry) => this.artifactAdded(entry)
  }

  setFaults(config: NotificationFaultConfig): void {
    this.faults = config
    this.faultSeed = config.seed ?? this.rt.defaultSeed
    this.used.clear()
  }

  /** Resolves once nothing is being delivered, retried, delayed or held back. */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  close(): void {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    for (const s of this.subscriptions.values()) if (s.timer) clearTimeout(s.timer)
    this.closing.abort()
    this.timers.clear()
    this.held = []
    this.pending = 0
    for (const w of this.idleWaiters.splice(0)) w()
  }

  /** The live subscription `id` of this app (expired ones are gone, as in Graph). */
  find(id: string, caller: Caller): SubscriptionRecord {
    const s = this.live(id)
    if (!s || s.applicationId !== caller.appId) {
      throw new SubscriptionFailure(404, "ResourceNotFound", "The object was not found.")
    }
    return s
  }

  list(caller: Caller): Array<SubscriptionRecord> {
    return [...this.subscriptions.keys()].map((id) => this.live(id)).filter((s): s is SubscriptionRecord =>
      s !== undefined && s.applicationId === caller.appId
    )
  }

  all(): Array<SubscriptionRecord> {
    return [...this.subscriptions.keys()].map((id) => this.live(id)).filter((s) => s !== undefined)
  }

  async create(body: unknown, caller: Caller): Promise<SubscriptionRecord> {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw invalid("The request body must be a subscription object.")
    }
    const b = body as Record<string, unknown>
    const changeType = str(b, "changeType")
    const notificationUrl = str(b, "notificationUrl")
    const resource = str(b, "resource")
    const expiration = str(b, "expirationDateTime")
    if (changeType === undefined) throw invalid("changeType is a required property for subscription creation.")
    if (notificationUrl === undefined) {
      throw invalid("notificationUrl is a required property for subscription creation.")
    }
    if (resource === undefined) throw invalid("resource is a required property for subscription creation.")
    if (expiration === undefined) {
      throw invalid("expirationDateTime is a required property for subscription creation.")
    }
    const match = parseResource(resource)
    if (match === undefined) {
      throw new SubscriptionFailure(400, "InvalidRequest", `Resource '${resource}' is not supported for subscriptions.`)
    }
    if (changeType.split(",").some((c) => c.trim() !== "created")) {
      throw invalid(`ChangeType '${changeType}' is not supported for resource '${resource}'. Supported: created.`)
    }
    if (caller.userId !== undefined && match.scope === "tenant") {
      throw new SubscriptionFailure(
        403,
        "Forbidden",
        `Subscriptions to '${resource}' require application permissions; delegated permissions are not supported.`
      )
    }
    const lifecycleNotificationUrl = str(b, "lifecycleNotificationUrl") ?? null
    checkUrl(notificationUrl, "notificationUrl", this.rt.options.allowHttp === true)
    if (lifecycleNotificationUrl !== null) {
      checkUrl(lifecycleNotificationUrl, "lifecycleNotificationUrl", this.rt.options.allowHttp === true)
    }
    const expirationMs = checkExpiration(expiration, lifecycleNotificationUrl !== null)
    const clientState = str(b, "clientState") ?? null
    if (clientState !== null && clientState.length > 128) {
      throw invalid("clientState must be at most 128 characters long.")
    }
    const includeResourceData = b.includeResourceData === true
    const encryptionCertificate = str(b, "encryptionCertificate") ?? null
    const encryptionCertificateId = str(b, "encryptionCertificateId") ?? null
    const certificate = checkCertificate(includeResourceData, encryptionCertificate, encryptionCertificateId)
    // the handshake: notificationUrl first, then lifecycleNotificationUrl (Graph validates both)
    await this.validate(notificationUrl)
    if (lifecycleNotificationUrl !== null) await this.validate(lifecycleNotificationUrl)
    const record: SubscriptionRecord = {
      id: NodeCrypto.randomUUID(),
      resource,
      changeType,
      clientState,
      notificationUrl,
      lifecycleNotificationUrl,
      expirationMs,
      applicationId: caller.appId,
      creatorId: caller.userId ?? caller.appId,
      includeResourceData,
      encryptionCertificate,
      encryptionCertificateId,
      certificate,
      notificationUrlAppId: str(b, "notificationUrlAppId") ?? null,
      latestSupportedTlsVersion: str(b, "latestSupportedTlsVersion") ?? "v1_2",
      match,
      timer: undefined,
      pauseAtMs: undefined
    }
    this.subscriptions.set(record.id, record)
    this.rt.counters.notifications.subscriptionsCreated++
    this.scheduleReauthorization(record)
    return record
  }

  /** PATCH: a new expirationDateTime (renewal, which also reauthorizes) and/or a new certificate. */
  update(id: string, body: unknown, caller: Caller): SubscriptionRecord {
    const s = this.find(id, caller)
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw invalid("The request body must be a subscription object.")
    }
    const b = body as Record<string, unknown>
    const expiration = str(b, "expirationDateTime")
    const expirationMs = expiration === undefined
      ? undefined
      : checkExpiration(expiration, s.lifecycleNotificationUrl !== null)
    const newCertificate = str(b, "encryptionCertificate")
    const newCertificateId = str(b, "encryptionCertificateId")
    let certificate = s.certificate
    if (newCertificate !== undefined || newCertificateId !== undefined) {
      certificate = checkCertificate(
        s.includeResourceData,
        newCertificate ?? s.encryptionCertificate,
        newCertificateId ?? s.encryptionCertificateId
      )
    }
    if (expirationMs !== undefined) s.expirationMs = expirationMs
    if (newCertificate !== undefined) s.encryptionCertificate = newCertificate
    if (newCertificateId !== undefined) s.encryptionCertificateId = newCertificateId
    s.certificate = certificate
    // a renewal also reauthorizes (Graph docs)
    s.pauseAtMs = undefined
    this.scheduleReauthorization(s)
    return s
  }

  delete(id: string, caller: Caller): void {
    this.remove(this.find(id, caller))
  }

  /** POST /subscriptions/{id}/reauthorize: accepted for a live subscription; its expiry does not change. */
  reauthorize(id: string, caller: Caller): void {
    this.find(id, caller).pauseAtMs = undefined
    this.rt.counters.notifications.reauthorized++
  }

  /**
   * Sends a lifecycle event for subscription `id` to its lifecycle URL (none: nothing is sent); a
   * `subscriptionRemoved` also removes the subscription.
   */
  lifecycle(id: string, event: LifecycleEvent): SubscriptionRecord {
    const s = this.live(id)
    if (s === undefined) throw new SubscriptionFailure(404, "ResourceNotFound", `no live subscription ${id}`)
    this.sendLifecycle(s, event)
    if (event === "subscriptionRemoved") this.remove(s)
    return s
  }

  private live(id: string): SubscriptionRecord | undefined {
    const s = this.subscriptions.get(id)
    if (s !== undefined && s.expirationMs <= Date.now()) {
      this.remove(s)
      return undefined
    }
    return s
  }

  private remove(s: SubscriptionRecord): void {
    if (s.timer) clearTimeout(s.timer)
    this.subscriptions.delete(s.id)
  }

  /** Graph's handshake: POST ?validationToken=…, expects 200, text/plain, the decoded token, within 10 s. */
  private async validate(url: string): Promise<void> {
    const counters = this.rt.counters.notifications
    counters.validationRequests++
    const token =
      `Validation: Testing client application reachability for subscription Request-Id: ${NodeCrypto.randomUUID()}`
    const target = `${url}${url.includes("?") ? "&" : "?"}validationToken=${encodeURIComponent(token)}`
    const answer = await this.post(
      target,
      "",
      "text/plain; charset=utf-8",
      this.rt.options.validationTimeoutMs ?? 10_000
    )
    const fail = (message: string) => {
      counters.validationFailures++
      return invalid(message)
    }
    if (answer === "timeout") throw fail("Subscription validation request timed out.")
    if (answer === "error" || answer.status !== 200) {
      throw fail(
        "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
      )
    }
    if (!answer.contentType.toLowerCase().startsWith("text/plain")) {
      throw fail("Subscription validation request failed. Response must be of type text/plain.")
    }
    if (answer.body !== token) {
      throw fail("Subscription validation request failed. Response must exactly match validationToken query parameter.")
    }
  }

  private scheduleReauthorization(s: SubscriptionRecord): void {
    if (s.timer) clearTimeout(s.timer)
    s.timer = undefined
    if (s.lifecycleNotificationUrl === null || this.closed) return
    const remaining = s.expirationMs - Date.now()
    const lead = Math.min((this.rt.options.reauthorizationLeadSeconds ?? 900) * 1000, remaining / 2)
    s.timer = setTimeout(() => {
      s.timer = undefined
      if (this.subscriptions.has(s.id)) this.sendLifecycle(s, "reauthorizationRequired")
    }, Math.max(0, remaining - lead))
    s.timer.unref?.()
  }

  private artifactAdded(entry: ArtifactEntry): void {
    if (this.closed) return
    for (const s of this.all()) {
      if (this.matches(s, entry)) this.notify(s, entry)
    }
  }

  private matches(s: SubscriptionRecord, entry: ArtifactEntry): boolean {
    const m = s.match
    if (m.kind !== entry.kind || m.container !== entry.container) return false
    if (m.scope === "tenant") return true
    if (m.scope === "owner") return entry.meetingId === m.id
    const user = this.rt.state.findUser(m.id!)
    return entry.organizerId === (user?.id ?? m.id)
  }

  /** One change notification for `entry`, through the fault dice. */
  private notify(s: SubscriptionRecord, entry: ArtifactEntry): void {
    const counters = this.rt.counters.notifications
    if (s.pauseAtMs !== undefined && Date.now() >= s.pauseAtMs) {
      // Graph: delivery pauses until the app reacts to reauthorizationRequired; these changes are lost
      counters.paused++
      return
    }
    const fault = this.decide(`${s.id}|${entry.fixture.id}`)
    if (fault !== undefined) counters.faults[fault] = (counters.faults[fault] ?? 0) + 1
    const tenantId = this.rt.state.tenantId
    const body = JSON.stringify(
      notificationCollection(s, [changeNotification(s, entry, tenantId)], tenantId, this.rt.signingKey)
    )
    const send = () => this.deliver(s.notificationUrl, body, "change")
    const delayMs = this.faults.delayMs ?? 500
    switch (fault) {
      case "missed":
        // dropped, and Graph says so on the lifecycle URL
        this.sendLifecycle(s, "missed")
        return
      case "duplicate":
        void Promise.all([send(), send()]).then(() => this.flushHeld())
        return
      case "delayed":
        this.later(delayMs, () => void send())
        return
      case "outOfOrder": {
        // held back until the next notification has been delivered (or the delay passes)
        this.pending++
        const release = () => {
          if (!this.held.includes(release)) return
          this.held = this.held.filter((h) => h !== release)
          clearTimeout(timer)
          this.timers.delete(timer)
          void send()
          this.settle()
        }
        const timer = setTimeout(release, delayMs)
        this.timers.add(timer)
        this.held.push(release)
        return
      }
      default:
        void send().then(() => this.flushHeld())
    }
  }

  private flushHeld(): void {
    for (const release of [...this.held]) release()
  }

  private decide(key: string): NotificationFaultKind | undefined {
    const rules = this.faults.rules ?? []
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!
      if (rule.limit !== undefined && (this.used.get(i) ?? 0) >= rule.limit) continue
      if (dice(this.faultSeed, `${key}#${i}`) < rule.probability) {
        this.used.set(i, (this.used.get(i) ?? 0) + 1)
        return rule.fault
      }
    }
    return undefined
  }

  private sendLifecycle(s: SubscriptionRecord, event: LifecycleEvent): void {
    const counters = this.rt.counters.notifications
    if (s.lifecycleNotificationUrl === null) return
    counters.lifecycle[event] = (counters.lifecycle[event] ?? 0) + 1
    if (event === "reauthorizationRequired" && s.pauseAtMs === undefined) {
      s.pauseAtMs = Date.now() + (this.rt.options.reauthorizationGraceSeconds ?? 600) * 1000
    }
    const tenantId = this.rt.state.tenantId
    const body = JSON.stringify(
      notificationCollection(s, [lifecycleNotification(s, event, tenantId)], tenantId, this.rt.signingKey)
    )
    void this.deliver(s.lifecycleNotificationUrl, body, "lifecycle")
  }

  private post(url: string, body: string, contentType: string, timeoutMs: number): Promise<PostResult> {
    if (this.closed) return Promise.resolve("error")
    return postNotification(url, body, { contentType, timeoutMs, ca: this.ca, signal: this.closing.signal })
  }

  private later(ms: number, f: () => void): void {
    this.pending++
    const t = setTimeout(() => {
      this.timers.delete(t)
      f()
      this.settle()
    }, ms)
    this.timers.add(t)
  }

  private settle(): void {
    if (this.pending > 0) this.pending--
    if (this.pending === 0) { for (const w of this.idleWaiters.splice(0)) w() }
  }

  /** POSTs `body` until a 2xx within the ack deadline, or the retries are used up (then dropped). */
  private deliver(url: string, body: string, what: "change" | "lifecycle"): Promise<void> {
    const counters = this.rt.counters.notifications
    const delays = this.rt.options.retryDelaysMs ?? [1000, 2000, 5000, 10_000, 30_000, 60_000]
    this.pending++
    const attempt = async (n: number): Promise<void> => {
      if (this.closed) return
      counters.attempts++
      const answer = await this.post(url, body, "application/json; charset=utf-8", this.rt.options.ackTimeoutMs ?? 3000)
      if (typeof answer === "object" && answer.status >= 200 && answer.status < 300) {
        if (what === "change") counters.delivered++
        return
      }
      counters.failedAttempts++
      if (n >= delays.length) {
        counters.dropped++
        return
      }
      counters.retries++
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.timers.delete(t)
          resolve()
        }, delays[n]!)
        this.timers.add(t)
      })
      return attempt(n + 1)
    }
    return attempt(0).finally(() => this.settle())
  }
}
