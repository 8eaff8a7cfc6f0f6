/**
 * The fault engine: decides, per request, whether and how to misbehave.
 */
import { contentRoutes, deltaRoutes, type FaultConfig, type FaultKind, pagedRoutes, type RouteName } from "../Faults.js"
import { dice } from "./prng.js"

const appliesTo = (kind: FaultKind, route: RouteName): boolean => {
  if (route === "unknown") return false
  switch (kind) {
    case "reset":
    case "redirect":
      return contentRoutes.includes(route)
    case "emptyPage":
    case "malformedJson":
      return pagedRoutes.includes(route)
    case "deltaDuplicates":
      return deltaRoutes.includes(route)
    default:
      return true
  }
}

export class FaultEngine {
  config: FaultConfig = {}
  private seed = 0
  private attempts = new Map<string, number>()
  private injected = new Map<string, number>()
  private used = new Map<number, number>()
  private bucket = 0
  private refilledAt = 0
  inflight = 0

  constructor(
    config: FaultConfig,
    private readonly defaultSeed: number,
    private readonly now: () => number = Date.now
  ) {
    this.set(config)
  }

  set(config: FaultConfig): void {
    this.config = config
    this.seed = config.seed ?? this.defaultSeed
    this.attempts.clear()
    this.injected.clear()
    this.used.clear()
    this.bucket = config.rateLimit ? (config.rateLimit.burst ?? Math.max(1, config.rateLimit.requestsPerSecond)) : 0
    this.refilledAt = this.now()
  }

  /** The fault to inject for this attempt of the request `key`, if any. */
  decide(route: RouteName, key: string, exclude: ReadonlyArray<FaultKind> = []): FaultKind | undefined {
    const rules = this.config.rules ?? []
    if (rules.length === 0) return undefined
    const attempt = this.attempts.get(key) ?? 0
    this.attempts.set(key, attempt + 1)
    const injected = this.injected.get(key) ?? 0
    if (injected >= (this.config.maxFaultsPerRequest ?? 2)) return undefined
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!
      if (rule.routes !== undefined ? !rule.routes.includes(route) : !appliesTo(rule.fault, route)) continue
      if (rule.routes !== undefined && !appliesTo(rule.fault, route)) continue
      if (exclude.includes(rule.fault)) continue
      if (rule.limit !== undefined && (this.used.get(i) ?? 0) >= rule.limit) continue
      if (dice(this.seed, `${key}#${attempt}#${i}`) < rule.probability) {
        this.used.set(i, (this.used.get(i) ?? 0) + 1)
        this.injected.set(key, injected + 1)
        return rule.fault
      }
    }
    return undefined
  }

  /** Token bucket: undefined when the request may pass, else the seconds until a token is available. */
  rateLimit(nowMs: number): number | undefined {
    const rl = this.config.rateLimit
    if (!rl || rl.requestsPerSecond <= 0) return undefined
    const burst = rl.burst ?? Math.max(1, rl.requestsPerSecond)
    this.bucket = Math.min(burst, this.bucket + ((nowMs - this.refilledAt) / 1000) * rl.requestsPerSecond)
    this.refilledAt = nowMs
    if (this.bucket >= 1) {
      this.bucket -= 1
      return undefined
    }
    // ceil: waiting this long guarantees a token (absent competing requests)
    return Math.max(1, Math.ceil((1 - this.bucket) / rl.requestsPerSecond))
  }

  latency(key: string): number {
    const l = this.config.latencyMs
    if (l === undefined) return 0
    if (typeof l === "number") return l
    return l.min + Math.floor(dice(this.seed, `latency#${key}#${this.attempts.get(key) ?? 0}`) * (l.max - l.min + 1))
  }
}
