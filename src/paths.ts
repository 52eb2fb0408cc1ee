/**
 * The one switch of every fast twin (the AuthZEN evaluation before the router, bulk insert in seeding, the
 * COPY backup reader, the libSQL hot reader): `"fast"`, the default, or `"generic"`, the plain path its differential test compares
 * it with. Story: docs/performance.md.
 */
export type Paths = "fast" | "generic";
