/**
 * Graph's error body:
 * `{"error":{"code","message","innerError":{"date","request-id","client-request-id","code"}}}`.
 * Branch on `code` and `innerError.code`, never on `message`.
 */
import * as Schema from "effect/Schema"

export class GraphInnerError extends Schema.Class<GraphInnerError>("GraphInnerError")({
  code: Schema.optional(Schema.NullOr(Schema.String)),
  date: Schema.optional(Schema.NullOr(Schema.String)),
  "request-id": Schema.optional(Schema.NullOr(Schema.String)),
  "client-request-id": Schema.optional(Schema.NullOr(Schema.String))
}) {}

export class GraphErrorEnvelope extends Schema.Class<GraphErrorEnvelope>("GraphErrorEnvelope")({
  error: Schema.Struct({
    code: Schema.optional(Schema.NullOr(Schema.String)),
    message: Schema.optional(Schema.NullOr(Schema.String)),
    innerError: Schema.optional(Schema.NullOr(GraphInnerError))
  })
}) {}
