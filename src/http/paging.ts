/**
 * The request shapes every route shares: the list query `?skip=0&limit=50` (limit ≤ 500) and the `{id}` path
 * parameter (a 32-bit row id). Story: docs/api.md.
 */
import { z } from "@hono/zod-openapi";
import { idText } from "./input_rules.ts";

export const PageQuery = z.object({
  skip: z.coerce.number().int().min(0).max(1_000_000_000).default(0).openapi({ example: 0 }),
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ example: 50 }),
});

/** The `{id}` of a route's path: a positive row id an integer column can hold (else a 422 naming `id`). */
export const IdParam = z.object({
  id: idText().openapi({ param: { name: "id", in: "path" }, example: 1 }),
});
