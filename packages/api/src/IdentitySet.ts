/**
 * The `identitySet` Graph uses for `meetingOrganizer`.
 *
 * Real payloads vary: `@odata.type` is `#microsoft.graph.teamworkUserIdentity`
 * or the internal `#Microsoft.Teams.GraphSvc.teamworkUserIdentity`, decrypted
 * notifications omit it, `displayName` is usually null and `tenantId` is not in
 * the metadata. Unknown properties are ignored on decode.
 */
import * as Schema from "effect/Schema"

export class Identity extends Schema.Class<Identity>("Identity")({
  "@odata.type": Schema.optional(Schema.NullOr(Schema.String)),
  id: Schema.optional(Schema.NullOr(Schema.String)),
  displayName: Schema.optional(Schema.NullOr(Schema.String)),
  userIdentityType: Schema.optional(Schema.NullOr(Schema.String)),
  tenantId: Schema.optional(Schema.NullOr(Schema.String))
}) {}

export class IdentitySet extends Schema.Class<IdentitySet>("IdentitySet")({
  application: Schema.optional(Schema.NullOr(Identity)),
  device: Schema.optional(Schema.NullOr(Identity)),
  user: Schema.optional(Schema.NullOr(Identity))
}) {}
