/**
 * One page of an OData collection. An empty `value` with a `@odata.nextLink`
 * is a real Graph answer and means "keep paging". Delta pages end with
 * `@odata.deltaLink` instead.
 */
import * as Schema from "effect/Schema"

export const ODataPage = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({
    "@odata.context": Schema.optional(Schema.String),
    "@odata.count": Schema.optional(Schema.Number),
    "@odata.nextLink": Schema.optional(Schema.String),
    "@odata.deltaLink": Schema.optional(Schema.String),
    value: Schema.Array(item)
  })

export interface ODataPage<A> {
  readonly "@odata.context"?: string
  readonly "@odata.count"?: number
  readonly "@odata.nextLink"?: string
  readonly "@odata.deltaLink"?: string
  readonly value: ReadonlyArray<A>
}
