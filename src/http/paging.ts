/** The list query every paged route shares: `?skip=0&limit=50` (limit ≤ 500). Story: docs/api.md. */
import { z } from "@hono/zod-openapi";

export const PageQuery = z.object({
  skip: z.coerce.number().int().min(0).max(1_000_000_000).default(0).openapi({ example: 0 }),
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ example: 50 }),
});
