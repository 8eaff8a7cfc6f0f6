/**
 * Tenant-level conditions real Graph answers with permanent errors, for testing how clients report them:
 * a missing application access policy (403), transcript access switched off (403), and the metered-API
 * evaluation quota (402).
 */
export interface TenantPolicy {
  /**
   * App-only tokens get 403 "No application access policy found for this app." for these users
   * (`true`: every user). Delegated tokens are not affected, as in Graph.
   */
  readonly noAccessPolicy?: boolean | ReadonlyArray<string>
  /** transcript routes answer 403 with innerError.code `GraphAccessToTranscriptsDisabled` */
  readonly transcriptsDisabled?: boolean
  /**
   * metered minutes (content / metadataContent downloads, each costing its artifact's duration in whole
   * minutes) before `/content` and `/metadataContent` answer 402 Payment Required
   * (Graph's evaluation mode: 600 per month per app per tenant)
   */
  readonly meteredQuotaMinutes?: number
}
