/**
 * `export_scope` of rows written before completed artifacts, dead letters and listen's pending work were
 * kept per export. (Its own module: the migrations and the listen tables both need it, and the
 * migrations import the listen tables.)
 */
export const UNSCOPED = ""
